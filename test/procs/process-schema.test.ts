import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { initialLoopState } from "../../src/process/machine";
import { PROCESS_SCHEMA_VERSION } from "../../src/process/schema";
import { freshTenant } from "../support/http";
import { processConfig } from "../node/support/process";
import { OLD_PROCESS_TABLES } from "../node/support/old-process-tables";


describe("a process object written by the code before schema versions", () => {
  it("is migrated when it is first used and keeps its conversation, events, inbox and journal", async () => {
    const tenant = freshTenant();
    const stub = env.PROCESS.getByName(`${tenant}/1`);
    const messages = [
      { role: "user", content: "hello" },
      { role: "assistant", content: "hi there" },
    ];
    const bytes = messages.reduce((n, m) => n + JSON.stringify(m).length, 0);
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      sql.exec(OLD_PROCESS_TABLES);
      sql.exec("INSERT INTO kv (key, value) VALUES ('config', ?)", JSON.stringify({ ...processConfig({ tools: ["delegate", "collect"], spec: { mode: "interactive" } }), tenant }));
      sql.exec("INSERT INTO kv (key, value) VALUES ('loop', ?)", JSON.stringify({ ...initialLoopState(), phase: "sleeping", turnCount: 1, modelCalls: 1 }));
      for (const m of messages) sql.exec("INSERT INTO messages (body) VALUES (?)", JSON.stringify(m));
      sql.exec("INSERT INTO conversation_size (id, bytes) VALUES (1, ?)", bytes);
      sql.exec("INSERT INTO events (type, at, data) VALUES ('state', '2026-01-01T00:00:00.000Z', '{\"state\":\"sleeping\"}')");
      sql.exec(
        "INSERT INTO inbox (task_id, seq, worker_pid, agent, state, result, reason, usage, delivery) VALUES ('t1', 1, 7, 'w', 'completed', 'the result', NULL, ?, 'on_demand')",
        JSON.stringify({ inputTokens: 1, outputTokens: 1, toolCalls: 0 }),
      );
      sql.exec("INSERT INTO journal (key, value) VALUES ('model:0', '{\"kept\":true}')");
    });

    const page = await stub.conversationPage({ limit: 10 });
    expect(page).toEqual({ ok: true, value: { items: messages, nextCursor: null } });
    const collected = await stub.collect({ taskIds: ["t1"], mode: "all" });
    expect(collected).toMatchObject({ ok: true, value: { satisfied: true, completed: [{ taskId: "t1", pid: 7, result: "the result" }] } });

    const stored = await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql;
      const kv = Object.fromEntries(sql.exec<{ key: string; value: string }>("SELECT key, value FROM kv").toArray().map((r) => [r.key, JSON.parse(r.value)]));
      const tables = sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name").toArray().map((t) => t.name);
      const inboxColumns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('inbox')").toArray().map((c) => c.name);
      const question = sql.exec<{ question: string | null; answered: string; collected: number }>("SELECT question, answered, collected FROM inbox WHERE task_id = 't1'").one();
      const journal = sql.exec<{ value: string }>("SELECT value FROM journal WHERE key = 'model:0'").one().value;
      const events = sql.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n;
      return { kv, tables, inboxColumns, question, journal, events };
    });
    expect(stored.kv).toMatchObject({ schemaVersion: PROCESS_SCHEMA_VERSION, conversationBytes: bytes, loop: { phase: "sleeping", turnCount: 1 } });
    expect(stored.tables).toEqual(["events", "inbox", "journal", "kv", "messages"]);
    expect(stored.inboxColumns).toEqual(expect.arrayContaining(["question", "question_id", "question_shown", "answered"]));
    expect(stored.question).toEqual({ question: null, answered: "[]", collected: 1 });
    expect(JSON.parse(stored.journal)).toEqual({ kept: true });
    expect(stored.events).toBe(1);
  });

  it("a new object has no tables until its process is created, then only those every process writes", async () => {
    const tenant = freshTenant();
    const stub = env.PROCESS.getByName(`${tenant}/9`);
    expect(await stub.conversationPage({ limit: 10 })).toMatchObject({ ok: false });
    const names = () =>
      runInDurableObject(stub, (_i, state) =>
        state.storage.sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' ORDER BY name").toArray().map((t) => t.name),
      );
    expect(await names()).toEqual([]);
  });
});
