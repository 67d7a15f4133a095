/// <reference types="node" />
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { flatTransactions, type SqlStore } from "../../../src/lib/sql-store";

/** The most values one statement may bind in a Durable Object's SQLite (D1's limit is the same). */
const MAX_BOUND_VALUES = 100;

/**
 * A `SqlStore` in memory over node:sqlite, with the part of Durable Objects' `SqlStorage` the services
 * use: `exec(query, ...bindings)` answering a cursor (iterable, `toArray`, `one`, `rowsWritten`,
 * `rowsRead`), multi-statement DDL without bindings, and `transactionSync` (nested calls are nested
 * savepoints, as in workerd, and a throw rolls back). Like workerd it refuses a statement binding more
 * than `MAX_BOUND_VALUES` values.
 */
export function memoryStore(): SqlStore & { db: DatabaseSync } {
  const db = new DatabaseSync(":memory:");
  let depth = 0;
  const exec = (query: string, ...bindings: unknown[]) => {
    // As a Durable Object's SQLite refuses it (node:sqlite would take thousands).
    if (bindings.length > MAX_BOUND_VALUES) throw new Error(`too many SQL variables (${bindings.length}): SQLITE_ERROR`);
    const values = bindings.map(toSqlite);
    const trimmed = query.trim();
    // Several statements at once (schema DDL): no bindings, nothing returned.
    if (values.length === 0 && /;\s*\S/.test(trimmed.replace(/;\s*$/, "")) ) {
      db.exec(trimmed);
      return cursor([], 0);
    }
    const statement = db.prepare(trimmed);
    if (statement.columns().length > 0) {
      const rows = statement.all(...values).map((r: object) => ({ ...r }) as Record<string, unknown>);
      const written = /^\s*(insert|update|delete|replace|with)/i.test(trimmed) ? Number((db.prepare("SELECT changes() AS n").get() as { n: number }).n) : 0;
      return cursor(rows, written);
    }
    const result = statement.run(...values);
    return cursor([], Number(result.changes));
  };
  const sql = { exec, get databaseSize() { return 0; } } as unknown as SqlStorage;
  return {
    db,
    sql,
    transactionSync<T>(fn: () => T): T {
      const name = `sp${depth}`;
      db.exec(`SAVEPOINT ${name}`);
      depth++;
      try {
        const out = fn();
        depth--;
        db.exec(`RELEASE ${name}`);
        return out;
      } catch (err) {
        depth--;
        db.exec(`ROLLBACK TO ${name}`);
        db.exec(`RELEASE ${name}`);
        throw err;
      }
    },
  };
}

function toSqlite(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return value as SQLInputValue;
}

function cursor(rows: Record<string, unknown>[], rowsWritten: number) {
  let i = 0;
  return {
    rowsRead: rows.length,
    rowsWritten,
    columnNames: rows[0] ? Object.keys(rows[0]) : [],
    toArray: () => rows,
    one: () => {
      if (rows.length !== 1) throw new Error(`Expected exactly one result from SQL query, but got ${rows.length}.`);
      return rows[0]!;
    },
    next: () => (i < rows.length ? { done: false, value: rows[i++]! } : { done: true, value: undefined }),
    raw: () => rows.map((r) => Object.values(r))[Symbol.iterator](),
    [Symbol.iterator]() {
      return rows[Symbol.iterator]();
    },
  };
}

/** A `memoryStore` with the kernel object's transactions: nested ones join the outermost (`flatTransactions`). */
export function kernelStore(): ReturnType<typeof memoryStore> {
  const base = memoryStore();
  const run = base.transactionSync.bind(base);
  return Object.assign(base, flatTransactions((fn) => run(fn)));
}
