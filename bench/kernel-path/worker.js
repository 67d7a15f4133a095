/**
 * What the kernel's own code costs per delegated worker, measured without the profiler, the process
 * objects or HTTP: a Durable Object runs the kernel's services (src/kernel, wired as the kernel object
 * wires them, transactions included) over its own SQLite storage, for one copilot's fan-out inside one
 * RPC call:
 * - the copilot's delegations, admitted and written in one batch (`Spawner.delegateMany`), their starts
 *   delivered by the outbox drain to stand-ins for the process objects that answer at once;
 * - the workers' exits, recorded `EXIT_BATCH` at a time (`recordExits`), each batch followed by the
 *   drain, then by what the kernel's alarm does (results go to a copilot from the alarm, a fresh event):
 *   the approvals' sweep and the alarm's drain, which hands the results to the copilot's stand-in.
 * And (`spawns`) top-level spawns one after the other, each started, then its exit recorded alone.
 * bench/run.mjs (part `kernelpath`) times the calls from outside: nothing but the kernel's code and its
 * commits runs in them, so the wall time of a call, less an empty call's, is the kernel's time for the
 * fan-out. Its statements are counted too.
 */
import { DurableObject } from "cloudflare:workers";
import { AgentSpec, zeroUsage } from "../../src/contracts";
import { migrate } from "../../src/kernel/schema";
import { kernelServices, recordExits } from "../../src/kernel/services";
import { OutboxDrain } from "../../src/kernel/outbox-drain";
import { flatTransactions } from "../../src/lib/sql-store";

/** Exit reports recorded together: about what the kernel object's Batcher gathers in a fan-out of 100. */
const EXIT_BATCH = 8;

export class KernelPath extends DurableObject {
  statements = 0;
  lead = 0;
  keys = 0;

  constructor(ctx, env) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    const counted = { exec: (query, ...bindings) => (this.statements++, sql.exec(query, ...bindings)) };
    this.store = { sql: counted, ...flatTransactions((fn) => ctx.storage.transactionSync(fn)) };
    migrate(this.store);
    // Process objects that take every start and delivery at once.
    const stub = { start: async () => "running", deliverTasks: async () => {}, deliverTask: async () => {}, terminate: async () => {} };
    let alarm = null;
    this.k = kernelServices(this.store, {
      tenant: () => "bench",
      maxLive: () => 100_000,
      privateHosts: () => [],
      modelProblem: () => null,
      start: (pid) => this.drain.drain([pid]),
      startMany: (pids) => this.drain.drain(pids),
    });
    this.drain = new OutboxDrain({ k: this.k, store: this.store, process: () => stub }, { getAlarm: async () => alarm, setAlarm: async (at) => void (alarm = at) }, () => "bench");
  }

  /** The agents and the copilot (once per object). */
  async setup() {
    const agent = (spec) => AgentSpec.parse({ model: "scripted", script: [{ text: "done" }], ...spec });
    this.k.agents.put(agent({ name: "bench-copilot", tools: ["delegate", "collect"], limits: { maxChildren: 10_000, maxDepth: 2 } }), "api:admin");
    this.k.agents.put(agent({ name: "bench-worker", script: [{ text: "done: {{input}}" }] }), "api:admin");
    const lead = await this.k.spawner.spawn({ agent: "bench-copilot", input: "fan out" }, "api:admin");
    if (!lead.ok) throw new Error(lead.error.message);
    this.lead = lead.value.pid;
  }

  async empty() {
    return 0;
  }

  /** One fan-out of `n`: its delegations, starts, exits and deliveries. Answers the statements it ran. */
  async fanout(n) {
    const before = this.statements;
    const items = Array.from({ length: n }, (_, i) => ({ input: { agent: "bench-worker", message: `task ${i}`, deliveryPolicy: "on_demand" }, idempotencyKey: `k${this.keys++}` }));
    const made = await this.k.spawner.delegateMany(this.lead, items, { actor: `process:${this.lead}` });
    const pids = made.map((m) => {
      if (!m.ok) throw new Error(m.error.message);
      return m.value.pid;
    });
    const report = { state: "running", turnCount: 1, usage: zeroUsage(), budgetUsed: { tokens: 0, toolCalls: 0, wallMs: 5 } };
    for (let i = 0; i < pids.length; i += EXIT_BATCH) {
      const at = new Date().toISOString();
      const answers = recordExits(this.k, this.store, pids.slice(i, i + EXIT_BATCH).map((pid) => ({ pid, exit: { code: 0, reason: "completed", at }, result: `done: task`, report })));
      for (const a of answers) if (a instanceof Error) throw a;
      await this.drain.drain();
      // The alarm those exits armed, as KernelObject.alarm runs it.
      await this.drain.fired();
    }
    return this.statements - before;
  }

  /** `n` top-level spawns, one after the other, each started and then exiting alone, as a spawn's process does. Answers the statements it ran. */
  async spawns(n) {
    const before = this.statements;
    const report = { state: "running", turnCount: 1, usage: zeroUsage(), budgetUsed: { tokens: 0, toolCalls: 0, wallMs: 5 } };
    for (let i = 0; i < n; i++) {
      const made = await this.k.spawner.spawn({ agent: "bench-worker", input: `spawn ${i}` }, "api:operator");
      if (!made.ok) throw new Error(made.error.message);
      const [answer] = recordExits(this.k, this.store, [{ pid: made.value.pid, exit: { code: 0, reason: "completed", at: new Date().toISOString() }, result: "done", report }]);
      if (answer instanceof Error) throw answer;
      await this.drain.drain();
    }
    return this.statements - before;
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/healthz") return new Response("ok");
    const object = env.KERNEL_PATH.get(env.KERNEL_PATH.idFromName(url.searchParams.get("id") ?? "bench"));
    if (url.pathname === "/setup") return Response.json(await object.setup());
    if (url.pathname === "/empty") return Response.json(await object.empty());
    if (url.pathname === "/fanout") return Response.json({ statements: await object.fanout(Number(url.searchParams.get("n") ?? 100)) });
    if (url.pathname === "/spawns") return Response.json({ statements: await object.spawns(Number(url.searchParams.get("n") ?? 100)) });
    return new Response("not found", { status: 404 });
  },
};
