/**
 * What a storage service needs of a Durable Object: its SQL and synchronous transactions.
 * `ctx.storage` is one; `test/node/support/sqlite.ts` is another, over node:sqlite, so services
 * are tested without workerd.
 */
import { TERMINAL_TASK_STATES } from "../contracts/tasks";

/** `('a','b')`, for `x IN ...` over a fixed list of known words. */
export function sqlList(values: readonly string[]): string {
  return `(${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(",")})`;
}

/** The terminal task states, as SQL (`state NOT IN ${TERMINAL_TASK_SQL}`), built from the contract. */
export const TERMINAL_TASK_SQL = sqlList(TERMINAL_TASK_STATES);

/** The part of `SqlStorage` the services use. */
export type Sql = Pick<SqlStorage, "exec">;

export interface SqlStore {
  readonly sql: Sql;
  transactionSync<T>(fn: () => T): T;
  /** Resolves once every write so far is durable (`ctx.storage.sync()`); absent where writes are durable at once. */
  sync?(): Promise<void>;
  /**
   * Calls `listener` whenever a `transactionSync` of this store rolls back (at any depth), so what a
   * service keeps in memory about its rows can be dropped with them. Absent: the service keeps nothing.
   */
  onRollback?(listener: () => void): void;
}

/**
 * `transactionSync` over `run` that tells listeners when a transaction rolled back (`SqlStore.onRollback`).
 * A nested transaction that throws tells them too, even when its caller catches and goes on.
 */
export function rollbackAware(run: <T>(fn: () => T) => T): Pick<SqlStore, "transactionSync" | "onRollback"> {
  const listeners: (() => void)[] = [];
  return {
    transactionSync<T>(fn: () => T): T {
      try {
        return run(fn);
      } catch (err) {
        for (const listener of listeners) listener();
        throw err;
      }
    },
    onRollback(listener) {
      listeners.push(listener);
    },
  };
}
