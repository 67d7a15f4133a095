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
  /**
   * Calls `listener` at the end of every outermost `transactionSync`, inside it (what it writes commits
   * or rolls back with the rest), so a service may gather rows and write them once a transaction.
   * Absent (and `inTransaction` with it): the service writes as it goes.
   */
  beforeCommit?(listener: () => void): void;
  /** Whether a `transactionSync` is running now. */
  inTransaction?(): boolean;
}

/**
 * `transactionSync` over `run` (one savepoint) in which a nested transaction joins the one around it.
 *
 * Why: in workerd each savepoint copies every page it changes into SQLite's sub-journal, and the
 * sub-journal spills to a temporary file past 64 KiB; a nested savepoint copies the same pages again.
 * A batch of 64 spawns or exits, each in a savepoint of its own inside the batch's, wrote megabytes of
 * sub-journal to disk (docs/architecture.md, "The kernel off the hot path").
 *
 * Atomicity stays whole: a nested transaction that throws dooms the outermost one, which rolls back
 * when it ends even if the caller caught the throw and went on (it rethrows the first failure), so
 * nothing half-written is ever committed. Code that wants one item's failure not to undo the others
 * writes them with `atomicBatches`. Listeners (`SqlStore.onRollback`) hear of every rollback.
 */
export function flatTransactions(run: <T>(fn: () => T) => T): Pick<SqlStore, "transactionSync" | "onRollback" | "beforeCommit" | "inTransaction"> {
  const listeners: (() => void)[] = [];
  const committing: (() => void)[] = [];
  let depth = 0;
  let doomed: { error: unknown } | null = null;
  const rolledBack = () => {
    for (const listener of listeners) listener();
  };
  return {
    transactionSync<T>(fn: () => T): T {
      if (depth > 0) {
        try {
          return fn();
        } catch (err) {
          doomed ??= { error: err };
          throw err;
        }
      }
      depth = 1;
      try {
        return run(() => {
          const out = fn();
          if (doomed) throw doomed.error;
          for (const listener of committing) listener();
          return out;
        });
      } catch (err) {
        rolledBack();
        throw err;
      } finally {
        depth = 0;
        doomed = null;
      }
    },
    onRollback(listener) {
      listeners.push(listener);
    },
    beforeCommit(listener) {
      committing.push(listener);
    },
    inTransaction: () => depth > 0,
  };
}

/**
 * `write` over all of `items` in one transaction; if it throws, that transaction rolls back and each
 * item is written again alone (`write([item])`) in a transaction of its own, so a failing item is
 * answered (with its error) alone and the others still land. `write` answers one result per item.
 * Must not be called inside a transaction (the retry would be doomed with it).
 */
export function atomicBatches<I, O>(store: Pick<SqlStore, "transactionSync">, items: readonly I[], write: (batch: readonly I[]) => O[]): (O | Error)[] {
  try {
    return store.transactionSync(() => write(items));
  } catch {
    return items.map((item) => {
      try {
        return store.transactionSync(() => write([item])[0]!);
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    });
  }
}
