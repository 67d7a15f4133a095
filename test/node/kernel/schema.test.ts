import { describe, expect, it } from "vitest";
import { MIGRATIONS, migrate, SCHEMA_VERSION, schemaVersion } from "../../../src/kernel/schema";
import type { TaskRow } from "../../../src/kernel/rows";
import { toTask } from "../../../src/kernel/tasks";
import { FEED_RETENTION, FeedLog } from "../../../src/kernel/tenant-feed";
import { kernelStore, memoryStore } from "../support/sqlite";
import { harness } from "./harness";

const columns = (store: ReturnType<typeof memoryStore>, table: string) =>
  store.sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`).toArray().map((c) => c.name);
const tables = (store: ReturnType<typeof memoryStore>) =>
  store.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").toArray().map((t) => t.name);

/** A store as a kernel from before schema versions left it: version 1's tables, rows, no version row. */
function storeFromBeforeVersions() {
  const store = memoryStore();
  store.sql.exec(MIGRATIONS[0]!.sql);
  const at = "2026-01-01T00:00:00.000Z";
  store.sql.exec("INSERT INTO meta (key, value) VALUES ('next_pid', '3')");
  store.sql.exec("INSERT INTO agents (name, spec, updated_at) VALUES ('a', ?, ?)", JSON.stringify({ name: "a", model: "scripted" }), at);
  for (const [pid, parent, task] of [
    [1, null, null],
    [2, 1, "t-1"],
  ] as const) {
    store.sql.exec(
      `INSERT INTO procs (pid, agent, parent_pid, task_id, state, mode, usage, tools, fs, budget_limit, budget_used, tree_used, limits, depth, created_at, updated_at, metadata)
       VALUES (?, 'a', ?, ?, 'running', 'task', '{}', '[]', '[]', '{}', '{"tokens":0,"toolCalls":0,"wallMs":0}', '{"tokens":0,"toolCalls":0,"wallMs":0}', '{"maxChildren":20,"maxDepth":3}', 0, ?, ?, '{}')`,
      pid,
      parent,
      task,
      at,
      at,
    );
  }
  store.sql.exec(
    `INSERT INTO tasks (id, copilot_pid, worker_pid, agent, state, status_message, status_at, result, delivery, budget, requested, granted, metadata, created_at, idem_key)
     VALUES ('t-1', 1, 2, 'a', 'working', NULL, ?, NULL, 'immediate', '{}', '{}', '{}', '{}', ?, 'never-read')`,
    at,
    at,
  );
  store.sql.exec("INSERT INTO outbox (kind, pid, payload, next_at) VALUES ('terminate', 2, ?, 0)", JSON.stringify({ code: -15, reason: "x", at }));
  return store;
}

describe("the kernel's schema versions", () => {
  it("brings a new store to the current version: every table, and tasks without idem_key", () => {
    const store = memoryStore();
    expect(schemaVersion(store)).toBe(0);
    expect(migrate(store)).toEqual({ from: 0, to: SCHEMA_VERSION });
    expect(SCHEMA_VERSION).toBe(9);
    // The feed and the counters are the services' (v9): no trigger is left.
    expect(store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger'").one().n).toBe(0);
    expect(schemaVersion(store)).toBe(SCHEMA_VERSION);
    expect(tables(store)).toEqual(["agents", "approvals", "audit", "audit_verified", "checkpoint_chunks", "checkpoints", "hooks", "idempotency", "mcp_servers", "mcp_tools", "meta", "outbox", "procs", "questions", "tasks", "tenant_events"]);
    expect(columns(store, "procs")).toContain("pending_input");
    expect(columns(store, "procs")).toEqual(expect.arrayContaining(["lease", "leased"]));
    expect(columns(store, "tasks")).not.toContain("idem_key");
    expect(columns(store, "tasks")).toContain("created_at");
  });

  it("migrates a store from before versions to the current one and keeps every row", () => {
    const store = storeFromBeforeVersions();
    expect(columns(store, "tasks")).toContain("idem_key");
    expect(schemaVersion(store)).toBe(0);
    expect(migrate(store)).toEqual({ from: 0, to: SCHEMA_VERSION });
    expect(columns(store, "tasks")).not.toContain("idem_key");
    expect(store.sql.exec<{ pid: number }>("SELECT pid FROM procs ORDER BY pid").toArray().map((r) => r.pid)).toEqual([1, 2]);
    const task = store.sql.exec<TaskRow>("SELECT * FROM tasks").one();
    expect(toTask(task).status.state).toBe("working");
    expect(store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n).toBe(1);

    // The services work on the migrated rows: pids continue, the task ends, the old outbox entry is due.
    const k = harness({ store });
    expect(k.table.get(2)?.task_id).toBe("t-1");
    expect(k.outbox.due({ fromAlarm: true }).map((e) => e.kind)).toEqual(["terminate"]);
    k.exit(2, 0, "done");
    expect(k.tasks.get("t-1")).toMatchObject({ state: "completed", result: "done" });
    k.register("b");
    return k.spawn("b").then((p) => expect(p.pid).toBe(3));
  });

  it("is a no-op the second time: a store at the current version is left as it is", async () => {
    const k = harness();
    k.register("a");
    await k.spawn("a");
    const before = k.rows("SELECT * FROM procs");
    const audit = k.rows("SELECT * FROM audit");
    expect(migrate(k.store)).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION });
    // A second kernel over the same store (the object woken again) migrates nothing either.
    const again = harness({ store: k.store });
    expect(again.rows("SELECT * FROM procs")).toEqual(before);
    expect(again.rows("SELECT * FROM audit")).toEqual(audit);
    expect(again.audit.verify({ full: true }).ok).toBe(true);
  });

  it("applies only the migrations after the store's version", () => {
    const store = memoryStore();
    migrate(store, MIGRATIONS.slice(0, 1));
    expect(schemaVersion(store)).toBe(1);
    expect(columns(store, "tasks")).toContain("idem_key");
    expect(migrate(store)).toEqual({ from: 1, to: SCHEMA_VERSION });
    expect(columns(store, "tasks")).not.toContain("idem_key");
  });

  it("rolls back a migration that fails, version bump included", () => {
    const store = memoryStore();
    migrate(store);
    const broken = [...MIGRATIONS, { version: SCHEMA_VERSION + 1, description: "broken", sql: "CREATE TABLE extra (x INTEGER); ALTER TABLE nowhere ADD COLUMN y TEXT;" }];
    expect(() => migrate(store, broken)).toThrow();
    expect(schemaVersion(store)).toBe(SCHEMA_VERSION);
    expect(tables(store)).not.toContain("extra");
  });

  it("v9: the services announce process, task, approval and audit changes in the transaction that makes them", async () => {
    const k = harness();
    const feed = (after = 0) => k.rows<{ type: string; ref: string }>("SELECT type, ref FROM tenant_events WHERE seq > ? ORDER BY seq", after).map((r) => `${r.type}:${r.ref}`);
    const last = () => k.rows<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM tenant_events")[0]!.seq;
    k.register("lead", { tools: ["delegate"], budget: { tokens: 1000 }, limits: { maxChildren: 1 } });
    k.register("w");
    const lead = (await k.spawn("lead")).pid;
    let at = last();
    const { taskId, pid } = await k.delegate(lead, { agent: "w" });
    expect(feed(at)).toEqual(expect.arrayContaining([`proc:${pid}`, `task:${taskId}`]));
    expect(feed(at).filter((e) => e.startsWith("audit:"))).toHaveLength(4); // spawn, delegate, task_state ×2 (submitted, working)
    // A second worker waits for the slot, `created`, its task `submitted`.
    const queued = await k.delegate(lead, { agent: "w" });
    at = last();
    // The first was written running (its task working) with its start order: its start landing changes neither any more.
    k.table.recordStarts([
      { pid, state: "running" },
      { pid: queued.pid, state: "running" },
    ]);
    k.tasks.markWorkingMany([
      { id: taskId, workerPid: pid },
      { id: queued.taskId, workerPid: queued.pid },
    ]);
    expect(feed(at).filter((e) => !e.startsWith("audit:"))).toEqual([`proc:${queued.pid}`, `task:${queued.taskId}`]);
    at = last();
    k.store.transactionSync(() => k.ledger.charge(pid, { tokens: 10, toolCalls: 0, wallMs: 0 }));
    // Tree usage is shown on the worker and on every ancestor.
    expect(feed(at)).toEqual([`proc:${pid}`, `proc:${lead}`]);
    at = last();
    k.exit(pid);
    expect(feed(at).filter((e) => !e.startsWith("audit:"))).toEqual([`proc:${pid}`, `task:${taskId}`]);
    // A change that rolls back is never announced.
    at = last();
    expect(() =>
      k.store.transactionSync(() => {
        k.table.recordPause(lead);
        throw new Error("rolled back");
      }),
    ).toThrow();
    expect(feed(at)).toEqual([]);
    expect(k.table.liveCount()).toBe(2); // the lead and the queued worker
  });

  it("writes a transaction's feed rows at its end, once per thing changed, and none when it rolls back", () => {
    const store = kernelStore();
    migrate(store);
    const log = new FeedLog(store);
    const rows = () => store.sql.exec<{ type: string; ref: string }>("SELECT type, ref FROM tenant_events ORDER BY seq").toArray().map((r) => `${r.type}:${r.ref}`);
    store.transactionSync(() => {
      log.note("proc", 7);
      log.note("task", "t");
      store.transactionSync(() => log.note("proc", 7));
      log.noteMany("proc", [8, 7]);
      expect(rows()).toEqual([]);
    });
    expect(rows()).toEqual(["proc:7", "task:t", "proc:8"]);
    expect(() =>
      store.transactionSync(() => {
        log.note("proc", 9);
        throw new Error("rolled back");
      }),
    ).toThrow();
    store.transactionSync(() => log.note("audit", 1));
    expect(rows()).toEqual(["proc:7", "task:t", "proc:8", "audit:1"]);
  });

  it("keeps the feed to its last FEED_RETENTION rows as it grows", () => {
    const store = memoryStore();
    migrate(store);
    const log = new FeedLog(store);
    for (let i = 0; i < FEED_RETENTION + 1_000; i++) log.note("audit", i);
    const { n, first } = store.sql.exec<{ n: number; first: number }>("SELECT count(*) AS n, min(seq) AS first FROM tenant_events").one();
    expect(n).toBeLessThanOrEqual(FEED_RETENTION + 500);
    expect(n).toBeGreaterThanOrEqual(FEED_RETENTION);
    expect(first).toBeGreaterThan(1);
    log.noteMany("task", ["a", "b"]);
    expect(store.sql.exec<{ type: string; ref: string }>("SELECT type, ref FROM tenant_events ORDER BY seq DESC LIMIT 2").toArray()).toEqual([
      { type: "task", ref: "b" },
      { type: "task", ref: "a" },
    ]);
  });

  it("v5: a task may have no copilot, and the rows of v3 are kept", () => {
    const store = memoryStore();
    migrate(store, MIGRATIONS.slice(0, 3));
    const at = "2026-01-01T00:00:00.000Z";
    const insertTask = (id: string, copilot: number | null, worker: number) =>
      store.sql.exec(
        `INSERT INTO tasks (id, copilot_pid, worker_pid, agent, state, status_message, status_at, result, delivery, budget, requested, granted, metadata, created_at)
         VALUES (?, ?, ?, 'a', 'working', NULL, ?, NULL, 'immediate', '{}', '{}', '{}', '{}', ?)`,
        id,
        copilot,
        worker,
        at,
        at,
      );
    insertTask("t-1", 1, 2);
    expect(() => insertTask("t-0", null, 3)).toThrow(/NOT NULL/);
    migrate(store);
    expect(schemaVersion(store)).toBe(SCHEMA_VERSION);
    expect(store.sql.exec<TaskRow>("SELECT * FROM tasks").toArray()).toMatchObject([{ id: "t-1", copilot_pid: 1, worker_pid: 2 }]);
    insertTask("t-2", null, 3);
    expect(toTask(store.sql.exec<TaskRow>("SELECT * FROM tasks WHERE id = 't-2'").one()).metadata.copilotPid).toBeNull();
  });

  it("v6: approvals join the feed (made and decided), and a process's pending question announces its row", async () => {
    const k = harness();
    k.register("a", { mode: "interactive" });
    const pid = (await k.spawn("a")).pid;
    const feed = () => k.rows<{ type: string; ref: string }>("SELECT type, ref FROM tenant_events WHERE type IN ('approval', 'proc') ORDER BY seq").map((r) => `${r.type}:${r.ref}`);
    const before = feed().length;
    const { c: asked } = k.people.approvals.open(k.table.get(pid)!, [{ id: "c", name: "write_file", arguments: {}, paths: [] }], { c: { hook: "h", reason: "r", timeoutMs: 60_000 } });
    k.people.approvals.decide(asked!.approvalId, { decision: "reject" }, "api:operator");
    k.people.questions.ask(k.table.get(pid)!, "q", "why?");
    expect(feed().slice(before)).toEqual([`approval:${asked!.approvalId}`, `approval:${asked!.approvalId}`, `proc:${pid}`]);
  });
});
