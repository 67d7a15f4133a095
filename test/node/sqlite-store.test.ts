import { describe, expect, it } from "vitest";
import { memoryStore } from "./support/sqlite";

describe("the node:sqlite SqlStore used by service tests", () => {
  it("runs DDL, binds values, counts written rows and rolls back a failed transaction", () => {
    const store = memoryStore();
    store.sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL); CREATE INDEX t_v ON t (v);");
    expect(store.sql.exec("INSERT INTO t (k, v) VALUES (?, ?)", "a", 1).rowsWritten).toBe(1);
    expect(store.sql.exec<{ k: string; v: number }>("SELECT k, v FROM t").toArray()).toEqual([{ k: "a", v: 1 }]);
    expect(store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM t").one().n).toBe(1);
    expect(store.sql.exec<{ k: string }>("INSERT INTO t (k, v) VALUES ('b', 2) RETURNING k").one().k).toBe("b");
    expect(() =>
      store.transactionSync(() => {
        store.sql.exec("UPDATE t SET v = 10");
        store.transactionSync(() => store.sql.exec("DELETE FROM t WHERE k = 'a'"));
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(store.sql.exec<{ k: string; v: number }>("SELECT k, v FROM t ORDER BY k").toArray()).toEqual([
      { k: "a", v: 1 },
      { k: "b", v: 2 },
    ]);
    expect([...store.sql.exec<{ k: string }>("SELECT k FROM t ORDER BY k")].map((r) => r.k)).toEqual(["a", "b"]);
  });
});
