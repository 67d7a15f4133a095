import { describe, expect, it } from "vitest";
import { atomicBatches } from "../../src/lib/sql-store";
import { kernelStore, memoryStore } from "./support/sqlite";

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

describe("the kernel's transactions (flatTransactions): nested ones join the outermost", () => {
  const setUp = () => {
    const store = kernelStore();
    store.sql.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    const keys = () => store.sql.exec<{ k: string }>("SELECT k FROM t ORDER BY k").toArray().map((r) => r.k);
    const rollbacks: number[] = [];
    store.onRollback?.(() => rollbacks.push(1));
    return { store, keys, rollbacks };
  };

  it("commits a nested transaction with the outer one, in one savepoint", () => {
    const { store, keys, rollbacks } = setUp();
    const savepoints: string[] = [];
    const exec = store.db.exec.bind(store.db);
    store.db.exec = (sql: string) => (sql.startsWith("SAVEPOINT") && savepoints.push(sql), exec(sql));
    store.transactionSync(() => {
      store.sql.exec("INSERT INTO t VALUES ('a', 1)");
      store.transactionSync(() => store.sql.exec("INSERT INTO t VALUES ('b', 2)"));
    });
    expect(keys()).toEqual(["a", "b"]);
    expect(savepoints).toHaveLength(1);
    expect(rollbacks).toEqual([]);
  });

  it("a nested transaction that throws rolls the outermost back, even when its caller caught the throw", () => {
    const { store, keys, rollbacks } = setUp();
    store.sql.exec("INSERT INTO t VALUES ('before', 0)");
    expect(() =>
      store.transactionSync(() => {
        store.sql.exec("INSERT INTO t VALUES ('a', 1)");
        try {
          store.transactionSync(() => {
            store.sql.exec("INSERT INTO t VALUES ('b', 2)");
            throw new Error("inner failed");
          });
        } catch {
          // caught: the caller goes on, but nothing of this transaction may be committed
        }
        store.sql.exec("INSERT INTO t VALUES ('c', 3)");
      }),
    ).toThrow("inner failed");
    expect(keys()).toEqual(["before"]);
    expect(rollbacks).toEqual([1]);
    // The next transaction starts clean.
    store.transactionSync(() => store.sql.exec("INSERT INTO t VALUES ('d', 4)"));
    expect(keys()).toEqual(["before", "d"]);
  });

  it("atomicBatches writes all items together, and each alone when one fails", () => {
    const { store, keys } = setUp();
    const out = atomicBatches(store, ["a", "b", "c"], (batch) => batch.map((k) => store.sql.exec("INSERT INTO t VALUES (?, 1)", k).rowsWritten));
    expect(out).toEqual([1, 1, 1]);
    const mixed = atomicBatches(store, ["d", "boom", "e"], (batch) =>
      batch.map((k) => {
        store.sql.exec("INSERT INTO t VALUES (?, 1)", k);
        if (k === "boom") throw new Error("no boom");
        return k;
      }),
    );
    expect(mixed[0]).toBe("d");
    expect(mixed[1]).toBeInstanceOf(Error);
    expect(mixed[2]).toBe("e");
    expect(keys()).toEqual(["a", "b", "c", "d", "e"]);
  });
});

describe("the node:sqlite SqlStore is as strict as a Durable Object's", () => {
  it("refuses a statement that binds more than 100 values, as workerd does", () => {
    const store = memoryStore();
    store.sql.exec("CREATE TABLE r (n INTEGER)");
    const values = (n: number) => Array.from({ length: n }, (_, i) => i);
    expect(() => store.sql.exec(`INSERT INTO r (n) VALUES ${values(101).map(() => "(?)").join(", ")}`, ...values(101))).toThrow(/too many SQL variables/);
    store.sql.exec(`INSERT INTO r (n) VALUES ${values(100).map(() => "(?)").join(", ")}`, ...values(100));
    expect(store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM r").one().n).toBe(100);
  });
});
