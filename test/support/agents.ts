import type { AgentSpecInput, ScriptStep } from "../../src/contracts";
import { client } from "./http";

export type Client = ReturnType<typeof client>;

export async function register(api: Client, name: string, spec: Partial<AgentSpecInput> & { script?: ScriptStep[] }) {
  const res = await api.put(`/v1/agents/${name}`, { model: "scripted", ...spec });
  if (res.status !== 200) throw new Error(`register ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function spawn(api: Client, agent: string, input = "go", extra: Record<string, unknown> = {}) {
  const res = await api.post("/v1/procs", { agent, input, ...extra });
  if (res.status !== 201) throw new Error(`spawn ${agent}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as import("../../src/contracts").Process;
}

/** Waits (server-side, up to 30 s) for a process to exit and reaps it. */
export async function waitExit(api: Client, pid: number, timeoutMs = 30_000) {
  const res = await api.get(`/v1/procs/${pid}/wait?timeoutMs=${timeoutMs}`);
  if (res.status !== 200) throw new Error(`wait ${pid}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/** Polls until `check` passes, for states that have no server-side wait. */
export async function until<T>(probe: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (check(v)) return v;
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
