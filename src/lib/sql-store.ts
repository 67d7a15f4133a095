/**
 * What a storage service needs of a Durable Object: its SQL and synchronous transactions.
 * `ctx.storage` is one; `test/node/support/sqlite.ts` is another, over node:sqlite, so services
 * are tested without workerd.
 */
export interface SqlStore {
  readonly sql: SqlStorage;
  transactionSync<T>(fn: () => T): T;
}
