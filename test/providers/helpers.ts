import { env } from "cloudflare:workers";
import type { Process } from "../../src/contracts";
import type { Client } from "../support/agents";
import type { LogEntry, ProviderKey } from "./fake-providers";

export type { LogEntry, ProviderKey } from "./fake-providers";

/** The fake providers' origin (test/global-setup.ts), from the base URL the Worker is configured with. */
export const fakeOrigin = () => new URL(env.OPENAI_BASE_URL ?? "http://unset").origin;

/** A model id for a behaviour of the fakes, unique to the calling test. */
export const modelId = (behaviour: string) => `${behaviour}-${crypto.randomUUID().slice(0, 8)}`;

/** The requests the fake `provider` recorded for `model` (the id after the `<provider>:` prefix). */
export async function fakeLog(provider: ProviderKey, model: string): Promise<LogEntry[]> {
  const res = await fetch(`${fakeOrigin()}/log/${provider}/${encodeURIComponent(model)}`);
  if (!res.ok) throw new Error(`fake log: ${res.status}`);
  return (await res.json()) as LogEntry[];
}

/** Lets a `gated-` model's answer go. */
export async function release(provider: ProviderKey, model: string): Promise<void> {
  const res = await fetch(`${fakeOrigin()}/release/${provider}/${encodeURIComponent(model)}`, { method: "POST" });
  await res.body?.cancel();
}

export interface SseEvent {
  id: string | null;
  event: string;
  data: any;
}

function parseSse(block: string): SseEvent | null {
  let id: string | null = null;
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("data: ")) data.push(line.slice(6));
  }
  if (data.length === 0) return null;
  return { id, event, data: JSON.parse(data.join("\n")) };
}

/** Reads a process's event stream until `stop` says so (or the stream ends), with when each event arrived. */
export async function readEvents(res: Response, stop: (e: SseEvent) => boolean, timeoutMs = 20_000): Promise<Array<SseEvent & { receivedAt: number }>> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const out: Array<SseEvent & { receivedAt: number }> = [];
  const deadline = Date.now() + timeoutMs;
  let buffer = "";
  try {
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`events: no stop event within ${timeoutMs} ms: ${JSON.stringify(out.map((e) => e.event))}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`events: no stop event within ${timeoutMs} ms`)), left)));
      const { done, value } = await Promise.race([reader.read(), timeout]).finally(() => timer !== undefined && clearTimeout(timer));
      if (done) return out;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const e = parseSse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (!e) continue;
        out.push({ ...e, receivedAt: Date.now() });
        if (stop(e)) return out;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Polls the fake's log until `check` passes. */
export async function untilLog(provider: ProviderKey, model: string, check: (log: LogEntry[]) => boolean, timeoutMs = 15_000): Promise<LogEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const log = await fakeLog(provider, model);
    if (check(log)) return log;
    if (Date.now() > deadline) throw new Error(`fake log for ${provider}/${model} not as expected in ${timeoutMs} ms: ${JSON.stringify(log.map((e) => ({ at: e.at, reply: e.reply?.status, closedEarly: e.closedEarly })))}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Everything the API shows about a tenant's agents, processes, events and audit log, as one text. */
export async function everythingVisible(api: Client, pid: number): Promise<string> {
  const parts = await Promise.all([
    api.call("GET", "/v1/agents").then((r) => r.text()),
    api.call("GET", `/v1/procs/${pid}`).then((r) => r.text()),
    api.call("GET", `/v1/procs/${pid}/messages`).then((r) => r.text()),
    api.call("GET", `/v1/procs/${pid}/events`).then((r) => r.text()),
    api.call("GET", "/v1/audit").then((r) => r.text()),
    api.call("GET", "/v1/procs").then((r) => r.text()),
  ]);
  return parts.join("\n");
}

/** The rows of `GET /v1/procs`, whether it answers a bare array or `{processes: [...]}`. */
export const procRows = (body: unknown): Process[] => (Array.isArray(body) ? body : ((body as { processes?: Process[] })?.processes ?? []));
