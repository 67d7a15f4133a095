import type { SqlStore } from "../lib/sql-store";

/**
 * The process's journal: the one place that decides whether a side effect of the agent loop (a
 * model call, a tool call) already happened. `run(key, effect, persist)` answers the recorded
 * result when `key` is recorded, and otherwise runs the effect and records its result, in one
 * transaction with whatever `persist` writes for it (the model's answer or the tool message, their
 * events, the next loop state): a result is recorded and persisted together or not at all, so an
 * effect whose result was persisted is never run again (Restate's `ctx.run` is the model).
 *
 * Keys are `model:<n>` (the process's n-th model call) and `tool:<call id>`. The loop state says
 * which effect comes next; the journal says whether it already happened.
 *
 * What no journal can do is make an effect atomic with its record: the one call in flight when the
 * object dies runs again. The effects that change something elsewhere make that re-run harmless
 * themselves, keyed by the same call id: the workspace stores the outcome of a writing file tool in
 * the transaction of the write (its `calls` table, keyed `<pid>:<call id>`) and answers a re-run
 * with it, and the kernel answers a repeated delegation (idempotency key `tool:<call id>`) with the
 * task it already made. Reads, and a model call (whose answer is simply asked for again), need nothing.
 *
 * The journal holds the step in flight, not history (the conversation and the event log have that):
 * it is cleared when the next model call begins, when no entry of the step before can be asked for.
 */
export const journalKey = {
  model: (n: number) => `model:${n}`,
  tool: (callId: string) => `tool:${callId}`,
};

export class Journal {
  /** Effects running in this incarnation: a second run of the same key joins the first. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly store: SqlStore) {
    store.sql.exec("CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }

  has(key: string): boolean {
    return this.store.sql.exec("SELECT 1 FROM journal WHERE key = ?", key).toArray().length > 0;
  }

  get<T>(key: string): T | undefined {
    const row = this.store.sql.exec<{ value: string }>("SELECT value FROM journal WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  /**
   * The recorded result of `key`, or the effect's, recorded with what `persist` writes. An effect
   * that has no result yet (a call that waits) answers `undefined`: nothing is recorded and the
   * effect is run again the next time. An effect that throws records nothing.
   */
  async run<T>(key: string, effect: () => Promise<T | undefined>, persist?: (value: T) => void): Promise<T | undefined> {
    const seen = this.get<T>(key);
    if (seen !== undefined) return seen;
    const pending = this.running.get(key) as Promise<T | undefined> | undefined;
    if (pending) return pending;
    const run = (async () => {
      const value = await effect();
      return value === undefined ? undefined : this.record(key, value, persist);
    })();
    this.running.set(key, run);
    try {
      return await run;
    } finally {
      this.running.delete(key);
    }
  }

  /** Records a result that needed no effect (or whose effect already ran); the first record of a key wins. */
  record<T>(key: string, value: T, persist?: (value: T) => void): T {
    return this.store.transactionSync(() => {
      const seen = this.get<T>(key);
      if (seen !== undefined) return seen;
      this.store.sql.exec("INSERT INTO journal (key, value) VALUES (?, ?)", key, JSON.stringify(value));
      persist?.(value);
      return value;
    });
  }

  /** Forgets every entry: the step they belong to is over. */
  clear(): void {
    this.store.sql.exec("DELETE FROM journal");
  }
}
