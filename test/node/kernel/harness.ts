import { AgentSpec, zeroUsage, type AgentSpecInput, type DelegateInput, type ExitStatus, type Outcome, type Process } from "../../../src/contracts";
import type { Fetcher } from "../../../src/kernel/hook-chain";
import { migrate } from "../../../src/kernel/schema";
import { kernelServices, type KernelHost, type KernelServices } from "../../../src/kernel/services";
import { kernelStore, type memoryStore } from "../support/sqlite";

export type Harness = KernelServices & {
  store: ReturnType<typeof memoryStore>;
  /** Pids whose start order was delivered, in order (the façade's drain, here only recorded). */
  started: number[];
  host: { maxLive: number; modelProblem: { message: string; setting: string } | null };
  register(name: string, spec?: Partial<AgentSpecInput>): AgentSpec;
  spawn(agent: string, extra?: { parentPid?: number; idempotencyKey?: string }): Promise<Process>;
  delegate(copilotPid: number, input: Partial<DelegateInput> & { agent: string }, idempotencyKey?: string): Promise<{ taskId: string; pid: number }>;
  /** The process exits on its own, as the process object would report it. */
  exit(pid: number, code?: number, result?: string | null): void;
  rows<T>(sql: string, ...bindings: unknown[]): T[];
};

/** The kernel's services over an in-memory node:sqlite store with the kernel object's transactions, migrated, with a recording host. */
export function harness(options: { fetch?: Fetcher; store?: ReturnType<typeof memoryStore> } = {}): Harness {
  const store = options.store ?? kernelStore();
  migrate(store);
  const started: number[] = [];
  const host = { maxLive: 1000, modelProblem: null as { message: string; setting: string } | null };
  const settings: KernelHost = {
    tenant: () => "acme",
    maxLive: () => host.maxLive,
    privateHosts: () => [],
    modelProblem: () => host.modelProblem,
    start: async (pid) => {
      started.push(pid);
    },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  };
  const k = kernelServices(store, settings);
  const unwrap = <T>(out: Outcome<T>): T => {
    if (!out.ok) throw new Error(`${out.error.code}: ${out.error.message}`);
    return out.value;
  };
  return {
    ...k,
    store,
    started,
    host,
    register(name, spec = {}) {
      return k.agents.put(AgentSpec.parse({ model: "scripted", script: [{ text: "done" }], ...spec, name }), "api:admin");
    },
    async spawn(agent, extra = {}) {
      return unwrap(await k.spawner.spawn({ agent, input: "go", ...extra }, "api:operator"));
    },
    async delegate(copilotPid, input, idempotencyKey) {
      const out = unwrap(await k.spawner.delegate(copilotPid, { message: "task", ...input }, { actor: `process:${copilotPid}`, ...(idempotencyKey ? { idempotencyKey } : {}) }));
      return { taskId: out.task.id, pid: out.pid };
    },
    exit(pid, code = 0, result = "ok") {
      const exit: ExitStatus = { code, reason: code === 0 ? "completed" : "failed", at: new Date().toISOString() };
      k.table.exitedOnItsOwn(k.table.get(pid)!, exit, result, { turnCount: 1, usage: zeroUsage() });
    },
    rows<T>(sql: string, ...bindings: unknown[]) {
      return store.sql.exec(sql, ...bindings).toArray() as T[];
    },
  };
}
