/**
 * agent-kernel/testing: the kernel's Worker in a programmatic Miniflare, for users' own test suites
 * (vitest, node --test, …), offline, with no `wrangler dev` and no Cloudflare account.
 *
 *   import { createTestKernel, registerAndSpawn, waitForExit, script } from "agent-kernel/testing";
 *   const kernel = await createTestKernel();
 *   const ak = kernel.client("acme");
 *   const p = await registerAndSpawn(ak, "greeter", { model: "scripted", script: script().text("hi {{input}}") }, "you");
 *   assert.equal((await waitForExit(ak, p.pid)).result, "hi you");
 *   await kernel.dispose();
 *
 * Plain ESM JavaScript with types in index.d.ts, so any Node (no TypeScript loader, and Node's type
 * stripping refuses files under node_modules) can import it. The Worker and the typed client are
 * bundled once by esbuild into a cache directory (./build.mjs) and rebuilt when src/ changes.
 */
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { pathToFileURL } from "node:url";
import { mintToken } from "../scripts/lib/jwt.mjs";
import { compatibility, ensureBuilt } from "./build.mjs";

export { ensureBuilt } from "./build.mjs";

const DURABLE_OBJECTS = {
  KERNEL: { className: "KernelObject", useSQLite: true },
  PROCESS: { className: "ProcessObject", useSQLite: true },
  WORKSPACE: { className: "WorkspaceObject", useSQLite: true },
};

let clientModule;
const loadClient = async (path) => (clientModule ??= await import(pathToFileURL(path).href));

/**
 * Boots a kernel in its own Miniflare (its own workerd, port, storage and AUTH_SECRET).
 * @param {import("./index.d.ts").TestKernelOptions} [options]
 * @returns {Promise<import("./index.d.ts").TestKernel>}
 */
export async function createTestKernel(options = {}) {
  const { worker, client: clientPath } = await ensureBuilt(options.cacheDir ? { cacheDir: options.cacheDir } : {});
  const { Miniflare, convertV4MiniflareOptions } = await import("miniflare");
  const { createClient } = await loadClient(clientPath);
  const authSecret = options.authSecret ?? randomBytes(32).toString("base64url");
  const quiet = !options.verbose;
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: options.port ?? 0,
      cf: false,
      telemetry: { enabled: false },
      logRequests: false,
      ...(quiet ? { handleStructuredLogs: () => {} } : {}),
      ...(options.persistDir ? { resourcePersistencePath: options.persistDir } : {}),
      modules: true,
      modulesRoot: dirname(worker),
      scriptPath: worker,
      ...compatibility(),
      durableObjects: DURABLE_OBJECTS,
      bindings: { MAX_LIVE_PROCESSES: "1000", ...options.bindings, AUTH_SECRET: authSecret },
    }),
  );
  let url;
  try {
    url = (await mf.ready).origin;
  } catch (err) {
    await mf.dispose().catch(() => {});
    throw err;
  }
  let disposed;
  const token = (tenant, role = "admin", ttlSeconds = 3600) => mintToken({ tenant, role, ttlSeconds, secret: authSecret });
  const kernel = {
    url,
    authSecret,
    miniflare: mf,
    token,
    client: (tenant, role = "admin") => createClient({ baseUrl: url, token: token(tenant, role) }),
    fetch: (path, init = {}) => fetch(new URL(path, url), init),
    dispose: () => (disposed ??= mf.dispose()),
    [Symbol.asyncDispose]: () => kernel.dispose(),
  };
  return kernel;
}

// ---------- helpers ----------

/** Registers (or replaces) agent `name` with `spec` and spawns it with `input`: the new process. */
export async function registerAndSpawn(client, name, spec, input, extra = {}) {
  await client.agents.put(name, spec);
  return client.procs.spawn({ ...extra, agent: name, input });
}

/**
 * Waits until process `pid` exits (the API's `wait`, which holds up to 60 s per call, repeated until
 * `timeoutMs`) and answers its exit status `{pid, exited: true, code, reason, at, result}`.
 * With an operator's or admin's client the wait also reaps the process (`stopped`), as the API does.
 */
export async function waitForExit(client, pid, { timeoutMs = 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    const status = await client.procs.wait(pid, { timeoutMs: Math.max(0, Math.min(60_000, left)) });
    if (status.exited) return status;
    if (Date.now() >= deadline) throw new Error(`waitForExit: process ${pid} did not exit within ${timeoutMs} ms (state ${status.state})`);
  }
}

/**
 * The events of process `pid` as an array, read from its event stream until the stream ends with
 * the process's exit (so this waits for the exit, at most `timeoutMs`).
 */
export async function eventsOf(client, pid, { timeoutMs = 60_000 } = {}) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const events = [];
  try {
    for await (const e of client.procs.events(pid, { signal: ac.signal })) events.push(e);
  } finally {
    clearTimeout(timer);
  }
  if (ac.signal.aborted) throw new Error(`eventsOf: process ${pid} did not exit within ${timeoutMs} ms (${events.length} events so far)`);
  return events;
}

async function toArray(iterable) {
  const out = [];
  for await (const x of iterable) out.push(x);
  return out;
}

/** A copilot's tree: itself, its tasks, its workers (the processes it spawned) and each task's outcome. */
export async function collectTree(client, copilotPid) {
  const copilot = await client.procs.get(copilotPid);
  const tasks = await toArray(client.tasks.all({ copilotPid }));
  const workers = await toArray(client.procs.all({ parentPid: copilotPid }));
  const results = tasks.map((t) => {
    const text = t.artifacts.flatMap((a) => a.parts.map((p) => p.text)).join("");
    return {
      taskId: t.id,
      agent: t.metadata.agent,
      pid: t.metadata.workerPid,
      state: t.status.state,
      result: t.status.state === "completed" ? text : null,
      reason: t.status.state === "completed" ? null : (t.status.message ?? null),
    };
  });
  return { copilot, tasks, workers, results };
}

/** Builds a `scripted` model's script: an array of steps, with chainable methods that append one. */
export class ScriptBuilder extends Array {
  static get [Symbol.species]() {
    return Array;
  }
  /** A final answer. */
  text(text, opts) {
    return this.#push({ text }, opts);
  }
  /** One turn with one tool call. */
  toolCall(name, args = {}, opts) {
    return this.#push({ toolCalls: [{ name, arguments: args }] }, opts);
  }
  /** One turn with several tool calls (run in parallel unless the agent says otherwise). */
  toolCalls(calls, opts) {
    return this.#push({ toolCalls: calls.map((c) => ({ name: c.name, arguments: c.arguments ?? {} })) }, opts);
  }
  /** A provider failure (429, 500 or 503; retried by the kernel, taking the next step). */
  error(status, message = `error ${status}`, opts) {
    return this.#push({ error: { status, message } }, opts);
  }
  /** The steps as a plain array. */
  build() {
    return Array.from(this);
  }
  toJSON() {
    return Array.from(this);
  }
  #push(step, opts = {}) {
    if (opts.delayMs !== undefined) step.delayMs = opts.delayMs;
    if (opts.usage !== undefined) step.usage = opts.usage;
    this.push(step);
    return this;
  }
}

/** `script().toolCall("write_file", {...}).text("done")`: a script for `{"model": "scripted"}`. */
export const script = () => new ScriptBuilder();
