import { env, runInDurableObject } from "cloudflare:test";
import type { Approval } from "../../src/contracts/approvals";
import type { Process } from "../../src/contracts";
import { until, type Client } from "./agents";

/** A policy that asks a person about every call of `tool` (optionally under `path`). */
export async function askPolicy(api: Client, tool: string, extra: { path?: string; timeoutMs?: number; reason?: string; name?: string } = {}) {
  const rule = { event: "pre_dispatch", match: { tool, ...(extra.path ? { path: extra.path } : {}) }, action: "ask", reason: extra.reason ?? `${tool} needs a person`, ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}) };
  const res = await api.put(`/v1/hooks/${extra.name ?? "gate"}`, { kind: "policy", rules: [rule] });
  if (res.status !== 200) throw new Error(`policy: ${res.status} ${JSON.stringify(res.body)}`);
}

export const approvalsOf = async (api: Client, query: string): Promise<Approval[]> => (await api.get(`/v1/approvals?${query}`)).body.approvals;

/** Waits until `pid` has a pending approval, and answers it. */
export async function pendingApproval(api: Client, pid: number): Promise<Approval> {
  const list = await until(() => approvalsOf(api, `pid=${pid}&state=pending`), (l) => l.length > 0);
  return list[0]!;
}

export const stateOf = async (api: Client, pid: number): Promise<Process> => (await api.get(`/v1/procs/${pid}`)).body;
export const sleeping = (api: Client, pid: number) => until(() => stateOf(api, pid), (p) => p.state === "sleeping");

/** The process object's armed alarm (null: none). */
export const alarmOf = (tenant: string, pid: number) => runInDurableObject(env.PROCESS.getByName(`${tenant}/${pid}`), (_i, state) => state.storage.getAlarm());

/** The process's events, replayed from its log (the stream closes once it has exited). */
export async function eventsOf(api: Client, pid: number, timeoutMs = 2000): Promise<{ type: string; data: any }[]> {
  const res = await api.call("GET", `/v1/procs/${pid}/events`);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
      if (next === null || next.done) break;
      text += decoder.decode(next.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const out: { type: string; data: any }[] = [];
  for (const block of text.split("\n\n")) {
    const type = /^event: (.+)$/m.exec(block)?.[1];
    const data = /^data: (.+)$/m.exec(block)?.[1];
    if (type && data) out.push({ type, data: JSON.parse(data) });
  }
  return out;
}

export const toolMessages = async (api: Client, pid: number) =>
  ((await api.get(`/v1/procs/${pid}/messages?limit=1000`)).body.messages as { role: string; toolCallId?: string; content: string; isError?: boolean; name?: string }[]).filter((m) => m.role === "tool");
