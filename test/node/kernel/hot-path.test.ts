import { describe, expect, it } from "vitest";
import { zeroUsage, type ExitStatus } from "../../../src/contracts";
import { recordExits } from "../../../src/kernel/services";
import { scanOutstandingReservations } from "../../../src/kernel/budget-ledger";
import { deliverDue, type DeliveryHost } from "../../../src/kernel/deliveries";
import { Outbox } from "../../../src/kernel/outbox";
import { OutboxDrain } from "../../../src/kernel/outbox-drain";
import { delegationTermsOf } from "../../../src/kernel/tasks";
import { harness, type Harness } from "./harness";

/** The statements `run` makes whose text matches `pattern`, with their bindings. */
async function queriesOf(k: Harness, pattern: RegExp, run: () => unknown): Promise<{ query: string; bindings: unknown[] }[]> {
  const exec = k.store.sql.exec.bind(k.store.sql);
  const seen: { query: string; bindings: unknown[] }[] = [];
  k.store.sql.exec = ((query: string, ...bindings: unknown[]) => {
    if (pattern.test(query)) seen.push({ query, bindings });
    return exec(query, ...bindings);
  }) as typeof k.store.sql.exec;
  try {
    await run();
    return seen;
  } finally {
    k.store.sql.exec = exec;
  }
}

const done = (code = 0): ExitStatus => ({ code, reason: code === 0 ? "completed" : "failed", at: new Date().toISOString() });
const report = { state: "running" as const, turnCount: 1, usage: zeroUsage(), budgetUsed: { tokens: 0, toolCalls: 0, wallMs: 5 } };

/** A harness with a copilot (`lead`) that delegated `n` workers of agent `w`. */
async function copilotWith(n: number) {
  const k = harness();
  k.register("lead", { tools: ["delegate"], limits: { maxChildren: 10 } });
  k.register("w");
  const lead = (await k.spawn("lead")).pid;
  const workers = [];
  for (let i = 0; i < n; i++) workers.push(await k.delegate(lead, { agent: "w" }));
  return { k, lead, workers };
}

describe("the kernel's hot path keeps its guarantees", () => {
  it("an audit entry of a rolled-back transaction is never linked to (the cached head is dropped)", () => {
    const k = harness();
    k.register("a");
    expect(() =>
      k.store.transactionSync(() => {
        k.audit.append({ actor: "test", event: "agent_registered", data: { agent: "ghost" } });
        throw new Error("rolled back");
      }),
    ).toThrow("rolled back");
    k.register("b");
    const entries = k.audit.page(0, 100);
    expect(entries.map((e) => e.data.agent)).toEqual(["a", "b"]);
    expect(entries.map((e) => e.seq)).toEqual([1, 2]);
    expect(k.audit.verify({ full: true }).ok).toBe(true);
  });

  it("records exit reports that arrived together once each, the first recorded exit winning", async () => {
    const {
      k,
      workers: [a, b],
    } = await copilotWith(2);
    const first = done(0);
    const answers = recordExits(k, k.store, [
      { pid: a!.pid, exit: first, result: "A", report },
      { pid: b!.pid, exit: done(1), result: null, report },
      { pid: a!.pid, exit: done(1), result: "late", report },
      { pid: 999, exit: done(0), result: null, report },
    ]);
    expect(answers[0]).toEqual(first);
    expect(answers[2]).toEqual(first);
    expect(k.tasks.get(a!.taskId)).toMatchObject({ state: "completed", result: "A" });
    expect(k.tasks.get(b!.taskId)).toMatchObject({ state: "failed" });
    // One terminate entry per worker, and each result on its way to the copilot once.
    expect(k.audit.page(0, 100).filter((e) => e.event === "terminate").map((e) => e.pid)).toEqual([a!.pid, b!.pid]);
    expect(k.rows<{ n: number }>("SELECT count(*) AS n FROM outbox WHERE kind = 'deliver'")[0]!.n).toBe(2);
    expect(k.table.get(a!.pid)).toMatchObject({ turn_count: 1, state: "zombie" });
    expect(k.audit.verify({ full: true }).ok).toBe(true);
  });

  it("an exit report that fails to be written is answered alone; the others of its batch land", async () => {
    const {
      k,
      workers: [a, b, c],
    } = await copilotWith(3);
    const exitedOnItsOwn = k.table.exitedOnItsOwn.bind(k.table);
    k.table.exitedOnItsOwn = (row, ...rest) => {
      const out = exitedOnItsOwn(row, ...rest);
      if (row.pid === b!.pid) throw new Error("disk full");
      return out;
    };
    const answers = recordExits(k, k.store, [a!, b!, c!].map((w) => ({ pid: w.pid, exit: done(0), result: "r", report })));
    expect(answers[1]).toBeInstanceOf(Error);
    expect(answers[0]).toMatchObject({ code: 0 });
    expect(answers[2]).toMatchObject({ code: 0 });
    // b's exit was rolled back whole (row, task, audit); a's and c's are written once each.
    expect(k.table.get(b!.pid)).toMatchObject({ state: "running", exit: null });
    expect(k.tasks.get(b!.taskId)).toMatchObject({ state: "working" });
    expect(k.audit.page(0, 100).filter((e) => e.event === "terminate").map((e) => e.pid)).toEqual([a!.pid, c!.pid]);
    expect(k.audit.verify({ full: true }).ok).toBe(true);
  });

  it("answers the starts of processes it just made from memory, the same entries the table holds", async () => {
    const k = harness();
    k.register("w");
    const [a, b] = [(await k.spawn("w")).pid, (await k.spawn("w")).pid];
    const fromTable = k.outbox.due({ onlyPids: [a, b], fromAlarm: false });
    expect(fromTable.map((e) => e.kind)).toEqual(["start", "start"]);
    expect(k.outbox.dueOfNew([a, b])).toEqual(fromTable);
    // Delivered: gone from memory too; a pid it holds nothing of sends the caller to the table.
    k.outbox.delivered([fromTable[0]!.id]);
    expect(k.outbox.dueOfNew([a, b])).toBeNull();
    expect(k.outbox.dueOfNew([b])).toEqual([fromTable[1]]);
    // A rolled-back transaction's entries are never answered.
    expect(() =>
      k.store.transactionSync(() => {
        k.outbox.add(b, { kind: "terminate", payload: done(1) });
        throw new Error("rolled back");
      }),
    ).toThrow();
    expect(k.outbox.dueOfNew([b])).toBeNull();
    expect(k.outbox.due({ onlyPids: [b], fromAlarm: false })).toEqual([fromTable[1]]);
  });

  it("a batch of exits charges each ancestor once, and leaves the same tree usage and reservations as exits one at a time", async () => {
    const build = async () => {
      const k = harness();
      k.register("lead", { tools: ["delegate"], budget: { tokens: 10_000, toolCalls: 100 }, limits: { maxChildren: 5, maxDepth: 4 } });
      k.register("mid", { tools: ["delegate"], budget: { tokens: 3_000 }, limits: { maxChildren: 5, maxDepth: 4 } });
      k.register("leaf", { budget: { tokens: 500, toolCalls: 10 } });
      const lead = (await k.spawn("lead")).pid;
      const mid = (await k.delegate(lead, { agent: "mid" })).pid;
      k.ledger.outstandingReservations(lead); // a running sum from here on, which the exits must keep right
      k.ledger.outstandingReservations(mid);
      const leaves = [(await k.delegate(mid, { agent: "leaf" })).pid, (await k.delegate(mid, { agent: "leaf" })).pid, (await k.delegate(lead, { agent: "leaf" })).pid];
      const used = (tokens: number) => ({ ...report, budgetUsed: { tokens, toolCalls: 2, wallMs: 7 } });
      const exits = [
        { pid: leaves[0]!, exit: done(0), result: "a", report: used(120) },
        { pid: mid, exit: done(0), result: "m", report: used(40) },
        { pid: leaves[1]!, exit: done(0), result: "b", report: used(300) },
        { pid: leaves[2]!, exit: done(1), result: null, report: used(80) },
      ];
      return { k, lead, exits };
    };
    const state = (k: Harness) =>
      k.rows<{ pid: number; budget_used: string; tree_used: string; children_outstanding: string | null }>("SELECT pid, budget_used, tree_used, children_outstanding FROM procs ORDER BY pid");
    const together = await build();
    recordExits(together.k, together.k.store, together.exits);
    const apart = await build();
    for (const e of apart.exits) recordExits(apart.k, apart.k.store, [e]);
    expect(state(together.k)).toEqual(state(apart.k));
    // The lead's tree is everyone's usage (the second leaf's report came after its parent's exit had
    // ended it, so it is not charged); its running sum is what a scan finds.
    expect(JSON.parse(state(together.k)[0]!.tree_used)).toMatchObject({ tokens: 240, toolCalls: 6 });
    expect(together.k.ledger.outstandingReservations(together.lead)).toEqual(scanOutstandingReservations(together.k.store.sql, together.lead));
  });

  it("an exit writes the worker's row once: its charged usage rides on the exit's update", async () => {
    const {
      k,
      lead,
      workers: [w],
    } = await copilotWith(1);
    const used = { ...report, budgetUsed: { tokens: 70, toolCalls: 3, wallMs: 9 } };
    const updates = (await queriesOf(k, /^\s*UPDATE procs/, () => recordExits(k, k.store, [{ pid: w!.pid, exit: done(0), result: "r", report: used }]))).filter((q) => q.bindings.at(-1) === w!.pid);
    expect(updates).toHaveLength(1);
    const row = k.table.get(w!.pid)!;
    expect(row.state).toBe("zombie");
    expect(JSON.parse(row.budget_used)).toMatchObject({ tokens: 70, toolCalls: 3 });
    expect(JSON.parse(row.tree_used)).toMatchObject({ tokens: 70, toolCalls: 3 });
    // And the copilot's tree counts it, as when the charge wrote the row itself.
    expect(JSON.parse(k.table.get(lead)!.tree_used)).toMatchObject({ tokens: 70, toolCalls: 3 });
  });

  it("a start that lands on a row written running costs no transaction: its entry goes with the next one", async () => {
    const k = harness();
    k.register("w");
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 1 } });
    const { pid } = await k.spawn("w");
    expect(k.table.get(pid)!.state).toBe("running");
    let transactions = 0;
    const store = { ...k.store, transactionSync: <T>(fn: () => T): T => (transactions++, k.store.transactionSync(fn)) };
    const starts: number[] = [];
    const host = { k, store, process: (p: number) => ({ start: async () => (starts.push(p), "running") }) } as unknown as DeliveryHost;
    const [entry] = k.outbox.due({ onlyPids: [pid], fromAlarm: false });
    await deliverDue([entry!], host, new Set(), "acme");
    expect(starts).toEqual([pid]);
    expect(transactions).toBe(0);
    // Landed: never due again here, though its row waits for the kernel's next transaction.
    expect(k.outbox.due({ fromAlarm: false })).toEqual([]);
    expect(k.rows("SELECT id FROM outbox WHERE id = ?", entry!.id)).toHaveLength(1);
    // Another incarnation (this one died first) finds it due and delivers it again (the process takes it once).
    expect(new Outbox(k.store.sql).due({ fromAlarm: true }).map((e) => e.id)).toEqual([entry!.id]);
    k.register("other");
    expect(k.rows("SELECT id FROM outbox")).toEqual([]);

    // A queued worker's start moves its `created` row, in a transaction, once it lands.
    const lead = (await k.spawn("lead")).pid;
    for (const e of k.outbox.due({ fromAlarm: true })) k.outbox.deliveredLater([e.id]);
    const first = await k.delegate(lead, { agent: "w" });
    const queued = await k.delegate(lead, { agent: "w" });
    expect(k.table.get(queued.pid)!.state).toBe("created");
    // A delegation that starts at once was written running, its task working: its start lands with no transaction either.
    expect(k.tasks.get(first.taskId)).toMatchObject({ state: "working" });
    transactions = 0;
    await deliverDue(k.outbox.due({ onlyPids: [first.pid], fromAlarm: false }), host, new Set(), "acme");
    expect(transactions).toBe(0);
    expect(k.audit.page(0, 1000).filter((e) => e.event === "task_state" && e.taskId === first.taskId).map((e) => e.data.state)).toEqual(["submitted", "working"]);
    k.exit(first.pid);
    const released = k.outbox.due({ onlyPids: [queued.pid], fromAlarm: false });
    transactions = 0;
    await deliverDue(released, host, new Set(), "acme");
    expect(transactions).toBe(1);
    expect(k.table.get(queued.pid)).toMatchObject({ state: "running" });
    expect(k.tasks.get(queued.taskId)).toMatchObject({ state: "working" });
    // What had landed went with that transaction: left is the first worker's result for the lead.
    expect(k.rows<{ kind: string; pid: number }>("SELECT kind, pid FROM outbox ORDER BY id")).toEqual([{ kind: "deliver", pid: lead }]);
  });

  it("a copilot's results that landed cost no transaction either: their entries go with the next one", async () => {
    const {
      k,
      lead,
      workers: [a, b],
    } = await copilotWith(2);
    for (const e of k.outbox.due({ fromAlarm: true })) k.outbox.deliveredLater([e.id]);
    recordExits(k, k.store, [a!, b!].map((w) => ({ pid: w.pid, exit: done(0), result: `r${w.pid}`, report })));
    let transactions = 0;
    const store = { ...k.store, transactionSync: <T>(fn: () => T): T => (transactions++, k.store.transactionSync(fn)) };
    const delivered: number[][] = [];
    const host = { k, store, process: () => ({ deliverTasks: async (items: { task: { taskId: string } }[]) => void delivered.push(items.map((i) => i.task.taskId.length)) }) } as unknown as DeliveryHost;
    // Results go out from the alarm (a fresh event), as the kernel's alarm drains them.
    const results = k.outbox.due({ fromAlarm: true });
    expect(results.map((e) => [e.kind, e.pid])).toEqual([
      ["deliver", lead],
      ["deliver", lead],
    ]);
    await deliverDue(results, host, new Set(), "acme");
    // Both in one call to the copilot, and nothing written for them yet, nor when the alarm looks for what is due next.
    expect(delivered).toHaveLength(1);
    const writes = k.store.db.prepare("SELECT total_changes() AS n").get() as { n: number };
    expect(k.outbox.nextDue()).toBeNull();
    expect((k.store.db.prepare("SELECT total_changes() AS n").get() as { n: number }).n).toBe(writes.n);
    expect(transactions).toBe(0);
    expect(k.rows("SELECT id FROM outbox WHERE kind = 'deliver'")).toHaveLength(2);
    // Another incarnation (this one died first) delivers them again; the copilot takes each once.
    expect(new Outbox(k.store.sql).due({ fromAlarm: true }).map((e) => e.id)).toEqual(results.map((e) => e.id));
    // The kernel's next transaction removes them.
    k.register("other");
    expect(k.rows("SELECT id FROM outbox")).toEqual([]);
  });

  it("ends a delegated task from its worker's terms only when they name that worker's task and parent", async () => {
    const {
      k,
      lead,
      workers: [w],
    } = await copilotWith(1);
    const row = k.table.get(w!.pid)!;
    expect(delegationTermsOf(row)).toEqual({ copilot_pid: lead, agent: "w", delivery: k.tasks.get(w!.taskId)!.delivery });
    const forged = (delegation: object) => ({ ...row, metadata: JSON.stringify({ delegation }) });
    const terms = JSON.parse(row.metadata).delegation;
    // A spawn whose own metadata claims a delegation: no parent, another task, another copilot, or no policy.
    expect(delegationTermsOf({ ...row, parent_pid: null })).toBeUndefined();
    expect(delegationTermsOf(forged({ ...terms, taskId: "other" }))).toBeUndefined();
    expect(delegationTermsOf(forged({ ...terms, copilotPid: lead + 100 }))).toBeUndefined();
    expect(delegationTermsOf(forged({ ...terms, deliveryPolicy: "whenever" }))).toBeUndefined();
    // Without terms the task is read back, and answers the same.
    const answered = k.store.transactionSync(() => k.tasks.end(w!.taskId, w!.pid, done(0), "r"));
    expect(answered).toMatchObject({ id: w!.taskId, copilot_pid: lead, worker_pid: w!.pid, agent: "w", state: "completed", result: "r", status_message: null });
  });

  it("gives outbox ids that only grow: past removed entries, after a rollback, in a new incarnation", async () => {
    const k = harness();
    k.register("w");
    const a = (await k.spawn("w")).pid;
    const [first] = k.outbox.due({ fromAlarm: true });
    k.store.transactionSync(() => k.outbox.delivered([first!.id]));
    expect(k.rows("SELECT id FROM outbox")).toEqual([]);
    expect(() =>
      k.store.transactionSync(() => {
        k.outbox.add(a, { kind: "terminate", payload: done(1) });
        throw new Error("rolled back");
      }),
    ).toThrow();
    const b = (await k.spawn("w")).pid;
    new Outbox(k.store.sql).add(b, { kind: "terminate", payload: done(1) });
    const ids = k.rows<{ id: number }>("SELECT id FROM outbox ORDER BY id").map((r) => r.id);
    // The removed entry's id is never given again, not even once the table is empty.
    expect(ids).toEqual([first!.id + 1, first!.id + 2]);
    expect(k.outbox.dueOfNew([b])).toEqual(k.outbox.due({ onlyPids: [b], fromAlarm: false }).filter((e) => e.kind === "start"));
  });

  it("a drain after a spawn's own looks for nothing: the start it wrote was delivered; a released start is looked for", async () => {
    const k = harness();
    k.register("w");
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 1 } });
    const starts: number[] = [];
    let alarm: number | null = null;
    const drain = new OutboxDrain(
      { k, store: k.store, process: (p: number) => ({ start: async () => (starts.push(p), "running") }) } as unknown as DeliveryHost,
      { getAlarm: async () => alarm, setAlarm: async (at) => void (alarm = at) },
      () => "acme",
    );
    const { pid } = await k.spawn("w");
    await drain.drain([pid]);
    expect(starts).toEqual([pid]);
    k.exit(pid);
    // The exit's drain: nothing this incarnation wrote waits outside the alarm, so no read of the outbox.
    expect(await queriesOf(k, /FROM outbox/, () => drain.drain())).toEqual([]);

    // A queued worker's start, released by its sibling's exit, is written in SQL only: the drain reads for it.
    const lead = (await k.spawn("lead")).pid;
    await drain.drain([lead]);
    const first = await k.delegate(lead, { agent: "w" });
    const queued = await k.delegate(lead, { agent: "w" });
    await drain.drain([first.pid, queued.pid]);
    expect(starts).toEqual([pid, lead, first.pid]);
    k.exit(first.pid);
    expect(await queriesOf(k, /SELECT \* FROM outbox/, () => drain.drain())).toHaveLength(1);
    expect(starts).toEqual([pid, lead, first.pid, queued.pid]);
  });

  it("reads the next pid once an incarnation, and again after a rollback, so a rolled-back spawn's pid is given again", async () => {
    const k = harness();
    k.register("w");
    const reads = await queriesOf(k, /key = 'next_pid'/, async () => {
      for (let i = 0; i < 3; i++) await k.spawn("w");
    });
    expect(reads.filter((q) => q.query.startsWith("SELECT"))).toHaveLength(1);
    const insert = k.table.insert.bind(k.table);
    k.table.insert = () => {
      throw new Error("disk full");
    };
    await expect(k.spawn("w")).rejects.toThrow("disk full");
    k.table.insert = insert;
    const again = await queriesOf(k, /SELECT value FROM meta WHERE key = 'next_pid'/, async () => expect((await k.spawn("w")).pid).toBe(4));
    expect(again).toHaveLength(1);
    expect((await k.spawn("w")).pid).toBe(5);
  });

  it("a batch of delegations reads each fact once and still holds maxChildren and idempotency exactly", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 3 } });
    k.register("w");
    const lead = (await k.spawn("lead")).pid;
    const items = Array.from({ length: 5 }, (_, i) => ({ input: { agent: "w", message: `t${i}` }, idempotencyKey: `k${i}` }));
    const out = await k.spawner.delegateMany(lead, items, { actor: `process:${lead}` });
    const pids = out.map((o) => (o.ok ? o.value.pid : 0));
    expect(pids).toEqual([lead + 1, lead + 2, lead + 3, lead + 4, lead + 5]);
    // Three start now, two wait for a slot (submitted), as if they had come one at a time.
    expect(k.rows<{ started: number }>("SELECT started FROM procs WHERE parent_pid = ? ORDER BY pid", lead).map((r) => r.started)).toEqual([1, 1, 1, 0, 0]);
    expect(k.table.get(lead)!.started_children).toBe(3);
    expect(k.table.liveCount()).toBe(6);
    // The same keys again answer the same tasks, and the next pid follows the batch.
    const again = await k.spawner.delegateMany(lead, items, { actor: `process:${lead}` });
    expect(again.map((o) => (o.ok ? o.value.pid : 0))).toEqual(pids);
    expect((await k.spawn("w")).pid).toBe(lead + 6);
    // A worker's exit frees its slot for the first queued one.
    k.exit(pids[0]!);
    expect(k.rows<{ started: number }>("SELECT started FROM procs WHERE pid = ?", pids[3])[0]!.started).toBe(1);
  });
});
