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
}
