import { describe, expect, it } from "vitest";
import type { SqlStore } from "../../../src/lib/sql-store";
import { initialLoopState } from "../../../src/process/machine";
import { createInbox, createJournal, createTables, migrateProcessSchema, PROCESS_SCHEMA_VERSION } from "../../../src/process/schema";
import { ProcessStore } from "../../../src/process/store";
import { processConfig } from "../support/process";
import { memoryStore } from "../support/sqlite";
import { OLD_PROCESS_TABLES } from "../support/old-process-tables";

const tables = (store: SqlStore) =>
  store.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").toArray().map((t) => t.name);
/** Every table and index as SQLite describes it: columns with their types, defaults and keys; index columns and conditions. */
function layout(store: SqlStore) {
  const out: Record<string, unknown> = {};
  for (const t of tables(store)) {
    out[t] = store.sql.exec(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info('${t}') ORDER BY cid`).toArray();
    out[`${t} rowid`] = /WITHOUT ROWID/i.test(store.sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = ?", t).one().sql);
  }
  for (const i of store.sql.exec<{ name: string; sql: string | null }>("SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").toArray()) {
    out[`index ${i.name}`] = i.sql?.replace(/\s+/g, " ") ?? "(automatic)";
  }
  return out;
}

/** The tables as the process object made them before versions existed (the earliest: no question columns). */
function oldObject(store: SqlStore, { questions }: { questions: boolean }) {
  store.sql.exec(OLD_PROCESS_TABLES);
  if (questions) {
    store.sql.exec(`
      ALTER TABLE inbox ADD COLUMN question TEXT;
      ALTER TABLE inbox ADD COLUMN question_id TEXT;
      ALTER TABLE inbox ADD COLUMN question_shown INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE inbox ADD COLUMN answered TEXT NOT NULL DEFAULT '[]';
      CREATE INDEX inbox_seq ON inbox (seq);
    `);
  }
  const put = (key: string, value: unknown) => store.sql.exec("INSERT INTO kv (key, value) VALUES (?, ?)", key, JSON.stringify(value));
  put("config", processConfig({ tools: ["delegate", "collect"] }));
  put("loop", { ...initialLoopState(), phase: "sleeping", turnCount: 1, modelCalls: 1 });
  const messages = [
    { role: "user", content: "hello" },
    { role: "assistant", content: "hi there" },
  ];
  for (const m of messages) store.sql.exec("INSERT INTO messages (body) VALUES (?)", JSON.stringify(m));
  store.sql.exec("INSERT INTO conversation_size (id, bytes) VALUES (1, ?)", messages.reduce((n, m) => n + JSON.stringify(m).length, 0));
  store.sql.exec("INSERT INTO events (type, at, data) VALUES ('state', '2026-01-01T00:00:00.000Z', '{\"state\":\"running\"}')");
  store.sql.exec(
    "INSERT INTO inbox (task_id, seq, worker_pid, agent, state, result, reason, usage, delivery) VALUES ('t1', 1, 7, 'w', 'completed', 'done', NULL, ?, 'immediate')",
    JSON.stringify({ inputTokens: 1, outputTokens: 1, toolCalls: 0 }),
  );
  store.sql.exec("INSERT INTO journal (key, value) VALUES ('model:0', '{\"x\":1}')");
  return messages;
}

/** Counts the statements a store runs, DDL apart. */
function counting(store: SqlStore) {
  const seen: string[] = [];
  const sql = { exec: (query: string, ...b: unknown[]) => (seen.push(query.trim()), store.sql.exec(query, ...b)) } as SqlStore["sql"];
  return { store: { ...store, sql, transactionSync: store.transactionSync }, seen, ddl: () => seen.filter((q) => /^(CREATE|ALTER|DROP)\b/i.test(q)) };
}

describe("the process schema", () => {
  it("a new object's tables, made as used, are what the migrations leave an old object", () => {
    const fresh = memoryStore();
    createTables(fresh);
    createJournal(fresh.sql);
    createInbox(fresh.sql);
    for (const questions of [false, true]) {
      const old = memoryStore();
      oldObject(old, { questions });
      migrateProcessSchema(old, 0);
      expect(layout(old)).toEqual(layout(fresh));
    }
  });

  it("an object written before versions existed is migrated on its first load and keeps its data", () => {
    for (const questions of [false, true]) {
      const db = memoryStore();
      const messages = oldObject(db, { questions });
      const store = new ProcessStore(db, () => {});
      expect(store.load()).toBe(true);
      expect(store.loop).toMatchObject({ phase: "sleeping", turnCount: 1 });
      expect(store.conversation.all()).toEqual(messages);
      expect(store.conversation.bytes()).toBe(messages.reduce((n, m) => n + JSON.stringify(m).length, 0));
      expect(store.inbox.list()).toEqual([{ taskId: "t1", pid: 7, agent: "w", state: "completed", result: "done", reason: null, usage: { inputTokens: 1, outputTokens: 1, toolCalls: 0 } }]);
      expect(store.journal.get("model:0")).toEqual({ x: 1 });
      expect(store.events.since(0).map((e) => e.type)).toEqual(["state"]);
      expect(db.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = 'schemaVersion'").one().value).toBe(String(PROCESS_SCHEMA_VERSION));
      expect(tables(db)).not.toContain("conversation_size");
      // What it learned lands where the current code keeps it: the next append counts from the migrated size.
      store.commit({ append: [{ role: "user", content: "again" }], events: [["message", { role: "user", content: "again" }]] });
      const bytes = store.conversation.bytes();
      const reloaded = new ProcessStore(db, () => {});
      expect(reloaded.load()).toBe(true);
      expect(reloaded.conversation.bytes()).toBe(bytes);
      expect(reloaded.conversation.all()).toHaveLength(3);
      // The result it had shows in the conversation before the next model call, as it would have.
      reloaded.beginModelCall();
      expect(reloaded.conversation.all().at(-1)).toMatchObject({ role: "user", content: expect.stringContaining("[task t1 from w (pid 7) completed: done]") });
      expect(reloaded.journal.has("model:0")).toBe(false);
    }
  });

  it("a new object makes its tables in the transaction that creates its process; one at the current version runs no DDL", () => {
    const db = memoryStore();
    const first = counting(db);
    const store = new ProcessStore(first.store, () => {});
    expect(store.load()).toBe(false);
    expect(tables(db)).toEqual([]);
    store.create(processConfig({ tools: [] }), initialLoopState(), [{ role: "user", content: "go" }], [["state", { state: "running" }]]);
    expect(tables(db)).toEqual(["events", "kv", "messages"]);
    expect(first.ddl()).toHaveLength(1);

    const again = counting(db);
    const next = new ProcessStore(again.store, () => {});
    expect(next.load()).toBe(true);
    expect(again.ddl()).toEqual([]);
    expect(again.seen).toHaveLength(2); // the table names, then every kv row at once
    expect(next.conversation.all()).toEqual([{ role: "user", content: "go" }]);
    expect(next.events.since(0).map((e) => e.type)).toEqual(["state"]);
  });

  it("the journal and the inbox are made by their first write; until then they read as empty", () => {
    const db = memoryStore();
    const store = new ProcessStore(db, () => {});
    store.create(processConfig({ tools: ["delegate"] }), initialLoopState(), [{ role: "user", content: "go" }], []);
    expect(store.journal.has("model:0")).toBe(false);
    expect(store.inbox.any()).toBe(false);
    expect(store.inbox.list()).toEqual([]);
    store.journal.record("model:0", { a: 1 });
    expect(store.inbox.record({ taskId: "t1", pid: 2, agent: "w", state: "working" }, "immediate")).toBe(true);
    expect(tables(db)).toEqual(["events", "inbox", "journal", "kv", "messages"]);
    // A new incarnation finds them.
    const next = new ProcessStore(db, () => {});
    expect(next.load()).toBe(true);
    expect(next.journal.get("model:0")).toEqual({ a: 1 });
    expect(next.inbox.any()).toBe(true);
    expect(next.inbox.record({ taskId: "t2", pid: 3, agent: "w", state: "working" }, "immediate")).toBe(true);
    expect(next.inbox.list().map((t) => t.taskId)).toEqual(["t1", "t2"]);
  });

  it("a commit that fails leaves nothing, and the store reads again what it held in memory", () => {
    const db = memoryStore();
    const store = new ProcessStore(db, () => {});
    store.create(processConfig({ tools: [] }), initialLoopState(), [{ role: "user", content: "go" }], []);
    const loop = store.loop;
    const failing = { ...db, transactionSync: <T>(fn: () => T): T => db.transactionSync(() => (fn(), (() => { throw new Error("disk full"); })())) } as SqlStore;
    const doomed = new ProcessStore(failing, () => {});
    expect(doomed.load()).toBe(true);
    expect(() => doomed.commit({ loop: { ...loop, turnCount: 9 }, append: [{ role: "user", content: "lost" }], events: [["state", { state: "x" }]] })).toThrow("disk full");
    expect(doomed.loop).toEqual(loop);
    expect(doomed.conversation.all()).toEqual([{ role: "user", content: "go" }]);
    const next = new ProcessStore(db, () => {});
    expect(next.load()).toBe(true);
    expect(next.loop.turnCount).toBe(0);
    expect(next.events.since(0)).toEqual([]);
    next.commit({ append: [{ role: "assistant", content: "ok" }], events: [["state", { state: "y" }]] });
    expect(next.events.since(0).map((e) => e.seq)).toEqual([1]);
  });

  it("events of one commit are stored in order, in one statement, and numbered after the last", () => {
    const db = memoryStore();
    const store = new ProcessStore(db, () => {});
    store.create(processConfig({ tools: [] }), initialLoopState(), [{ role: "user", content: "go" }], [["state", { state: "running" }]]);
    const published: number[] = [];
    const next = new ProcessStore(db, (events) => published.push(...events.map((e) => e.seq)));
    expect(next.load()).toBe(true);
    next.commit({ events: [["model", { n: 1 }], ["turn", { turn: 1 }], ["state", { state: "sleeping" }]] });
    expect(next.events.since(0).map((e) => [e.seq, e.type])).toEqual([
      [1, "state"],
      [2, "model"],
      [3, "turn"],
      [4, "state"],
    ]);
    expect(published).toEqual([2, 3, 4]);
  });
});
