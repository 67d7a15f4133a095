import { describe, expect, it } from "vitest";
import { zeroUsage, type BudgetUse } from "../../../src/contracts";
import { recordExits } from "../../../src/kernel/services";
import { scanOutstandingReservations } from "../../../src/kernel/budget-ledger";
import { LIVE_SQL } from "../../../src/kernel/rows";
import { MIGRATIONS, migrate } from "../../../src/kernel/schema";
import { memoryStore } from "../support/sqlite";
import { harness, type Harness } from "./harness";

const use = (tokens: number, toolCalls = 0, wallMs = 0): BudgetUse => ({ tokens, toolCalls, wallMs });

/** What each counter must equal: the scans they replaced, over every process. */
function expectCountersMatchScans(k: Harness) {
  const live = k.rows<{ n: number }>(`SELECT count(*) AS n FROM procs WHERE state IN ${LIVE_SQL}`)[0]!.n;
  expect(k.table.liveCount()).toBe(live);
  for (const { pid } of k.rows<{ pid: number }>("SELECT pid FROM procs")) {
    const started = k.rows<{ n: number }>(`SELECT count(*) AS n FROM procs WHERE parent_pid = ? AND started = 1 AND state IN ${LIVE_SQL}`, pid)[0]!.n;
    expect(k.table.startedChildren(pid), `startedChildren(${pid})`).toBe(started);
    expect(k.ledger.outstandingReservations(pid), `outstandingReservations(${pid})`).toEqual(scanOutstandingReservations(k.store.sql, pid));
  }
}

/** A small deterministic PRNG, so a failing sequence can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe("counters instead of scans (schema v7)", () => {
  it("keep live processes, started children and outstanding reservations equal to the scans through delegations, charges, queueing, exits (alone and in batches), kills and cancels", async () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const k = harness();
      const rand = prng(seed);
      k.register("lead", { tools: ["delegate"], budget: { tokens: 100_000, toolCalls: 500 }, limits: { maxChildren: 3, maxDepth: 4 } });
      k.register("mid", { tools: ["delegate"], budget: { tokens: 5_000 }, limits: { maxChildren: 2, maxDepth: 4 } });
      k.register("leaf", { budget: { tokens: 400, toolCalls: 10 } });
      const lead = (await k.spawn("lead")).pid;
      const live = () => k.rows<{ pid: number; agent: string }>(`SELECT pid, agent FROM procs WHERE state IN ${LIVE_SQL} ORDER BY pid`);
      for (let step = 0; step < 120; step++) {
        const procs = live();
        if (procs.length === 0) break;
        const pick = procs[Math.floor(rand() * procs.length)]!;
        const r = rand();
        if (r < 0.35 && pick.agent !== "leaf") {
          // Reading a sum first makes it a running sum (not NULL) that later changes must keep right.
          if (rand() < 0.5) k.ledger.outstandingReservations(pick.pid);
          await k.delegate(pick.pid, { agent: rand() < 0.5 ? "leaf" : "mid" }).catch(() => {});
        } else if (r < 0.65) {
          const row = k.table.get(pick.pid)!;
          const own = JSON.parse(row.budget_used) as BudgetUse;
          k.store.transactionSync(() => k.ledger.charge(pick.pid, use(own.tokens + Math.floor(rand() * 300), own.toolCalls + Math.floor(rand() * 3), own.wallMs + 5)));
        } else if (r < 0.8 && pick.pid !== lead) {
          if (rand() < 0.5) k.exit(pick.pid, rand() < 0.5 ? 0 : 1);
          else {
            // Exits that arrive together, as the kernel object batches them: siblings, or a child with its parent.
            const others = procs.filter((p) => p.pid !== lead && p.pid !== pick.pid && rand() < 0.3).slice(0, 3);
            const at = new Date().toISOString();
            const report = { state: "running" as const, turnCount: 1, usage: zeroUsage(), budgetUsed: use(Math.floor(rand() * 200), 1, 5) };
            recordExits(k, k.store, [pick, ...others].map((p) => ({ pid: p.pid, exit: { code: 0, reason: "completed", at }, result: "r", report })));
          }
        } else if (r < 0.9 && pick.pid !== lead) {
          k.table.kill(k.table.get(pick.pid)!, { signal: "SIGTERM", cascade: rand() < 0.7 }, "api:operator");
        } else {
          const open = k.tasks.open(pick.pid);
          if (open.length) k.table.cancelTasks([open[0]!], "api:operator");
        }
        expectCountersMatchScans(k);
      }
      k.exit(lead);
      expectCountersMatchScans(k);
      expect(k.table.liveCount()).toBe(0);
    }
  });

  it("a queued delegation takes no maxChildren slot until it is released, and releasing it counts it", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 1 } });
    k.register("leaf");
    const lead = (await k.spawn("lead")).pid;
    const first = await k.delegate(lead, { agent: "leaf" });
    const second = await k.delegate(lead, { agent: "leaf" });
    expect(k.table.startedChildren(lead)).toBe(1);
    expect(k.table.get(second.pid)!.started).toBe(0);
    expect(k.table.liveCount()).toBe(3);
    k.exit(first.pid);
    expect(k.table.get(second.pid)!.started).toBe(1);
    expect(k.table.startedChildren(lead)).toBe(1);
    expect(k.table.liveCount()).toBe(2);
    expectCountersMatchScans(k);
  });

  it("the migration fills the counters from the rows a v6 store already has", () => {
    const store = memoryStore();
    migrate(store, MIGRATIONS.filter((m) => m.version <= 6));
    const at = "2026-01-01T00:00:00.000Z";
    const insert = (pid: number, parent: number | null, state: string, started = 1) =>
      store.sql.exec(
        `INSERT INTO procs (pid, agent, parent_pid, task_id, state, mode, usage, tools, fs, budget_limit, budget_used, tree_used, limits, depth, created_at, updated_at, metadata, started)
         VALUES (?, 'a', ?, NULL, ?, 'task', '{}', '[]', '[]', '{"tokens":100}', '{"tokens":0,"toolCalls":0,"wallMs":0}', '{"tokens":30,"toolCalls":0,"wallMs":0}', '{}', 0, ?, ?, '{}', ?)`,
        pid,
        parent,
        state,
        at,
        at,
        started,
      );
    insert(1, null, "running");
    insert(2, 1, "running");
    insert(3, 1, "sleeping");
    insert(4, 1, "zombie");
    insert(5, 1, "created", 0);
    migrate(store);
    const k = harness({ store });
    expect(k.table.liveCount()).toBe(4);
    expect(k.table.startedChildren(1)).toBe(2);
    // Three live children (queued included) with 70 tokens each still unused.
    expect(k.ledger.outstandingReservations(1)).toEqual(use(210));
    expectCountersMatchScans(k);
  });
});
