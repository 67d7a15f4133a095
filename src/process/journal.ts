import type { SqlStore } from "../lib/sql-store";
import { createJournal, tableNames } from "./schema";

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
 * Some effects cannot be made harmless by their receiver: a call to a tool on an MCP server acts on
 * the world outside. For those the journal keeps a **sent** marker (`sent:tool:<call id>`), written
 * and made durable before the call goes out (`beginSend`). A call that finds its marker but no
 * result was in flight when an earlier incarnation died: it is sent again only when the tool says a
 * repeat is harmless (read-only or idempotent); otherwise it is answered as interrupted, since it
 * may or may not have taken effect (SPEC §10).
 *
 * The journal holds the step in flight, not history (the conversation and the event log have that):
 * it is cleared when the next model call begins, when no entry of the step before can be asked for.
 * The sent markers go with it: by then every call of the turn has its result.
 */
export const journalKey = {
  model: (n: number) => `model:${n}`,
  tool: (callId: string) => `tool:${callId}`,
  sent: (callId: string) => `sent:tool:${callId}`,
};

/**
 * What a call that acts on the world does now: goes out for the first time (`send`), goes out again
 * after a crash because a repeat is harmless (`resend`), or does not go out (`interrupted`).
 */
export type SendDecision = "send" | "resend" | "interrupted";

/** The rule, given whether an earlier attempt left its sent marker and whether a repeat is harmless. */
export function sendDecision(markedSent: boolean, repeatable: boolean): SendDecision {
  if (!markedSent) return "send";
  return repeatable ? "resend" : "interrupted";
}

export class Journal {
  /** Effects running in this incarnation: a second run of the same key joins the first. */
  private readonly running = new Map<string, Promise<unknown>>();

  /** Whether the journal table exists (src/process/schema.ts: the first record makes it); undefined: not known. */
  private table: boolean | undefined = undefined;
  /** True when the journal is known to hold nothing (no table, or just cleared): nothing is read. */
  private empty = false;

  /**
   * `ended`: whether the process has exited. A result persisted in the commit that ends the process is
   * not recorded: no step runs after it, so nothing asks for it again.
   */
  constructor(
    private readonly store: SqlStore,
    private readonly ended: () => boolean = () => false,
  ) {}

  /** What the store knows of the table (undefined: not known, its caller's transaction was rolled back). */
  knowTable(exists: boolean | undefined) {
    this.table = exists;
    this.empty = exists === false;
  }

  has(key: string): boolean {
    return !this.none() && this.store.sql.exec("SELECT 1 FROM journal WHERE key = ?", key).toArray().length > 0;
  }

  get<T>(key: string): T | undefined {
    if (this.none()) return undefined;
    const row = this.store.sql.exec<{ value: string }>("SELECT value FROM journal WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : undefined;
  }

  /** Whether the journal is known to hold nothing (false: it may hold entries). */
  isEmpty(): boolean {
    return this.none();
  }

  /** True when the journal holds nothing; a statement only when the table's existence is not known. */
  private none(): boolean {
    if (this.table === undefined) this.knowTable(tableNames(this.store.sql).has("journal"));
    return this.empty;
  }

  private insert(sql: string, key: string, value: unknown) {
    this.none();
    if (!this.table) {
      createJournal(this.store.sql);
      this.table = true;
    }
    this.store.sql.exec(sql, key, JSON.stringify(value));
    this.empty = false;
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
      persist?.(value);
      if (!this.ended()) this.insert("INSERT INTO journal (key, value) VALUES (?, ?)", key, value);
      return value;
    });
  }

  /**
   * Called right before call `callId` goes out to the world. The first time, writes its sent marker
   * and waits until the marker is durable, so that no crash can lose it once the call may have left.
   * A marker already there means an earlier attempt may have reached the world (its object died, or
   * its step failed, before the result was recorded): the answer is `resend` when `repeatable`, else
   * `interrupted` (record the interrupted result; do not send).
   */
  async beginSend(callId: string, repeatable: boolean): Promise<SendDecision> {
    const key = journalKey.sent(callId);
    const decision = sendDecision(this.has(key), repeatable);
    if (decision === "interrupted") return decision;
    if (decision === "send") this.markSent(callId);
    // Workerd's output gate holds outgoing messages until pending writes are durable; sync() says so explicitly.
    await this.store.sync?.();
    return decision;
  }

  /** Marks a call as possibly sent without sending it (a restored process's calls that its original may have sent). */
  markSent(callId: string): void {
    this.insert("INSERT INTO journal (key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING", journalKey.sent(callId), { at: Date.now() });
  }

  /** Forgets every entry: the step they belong to is over. In the caller's transaction, which calls `knowTable(undefined)` if it rolls back. */
  clear(): void {
    if (this.none()) return;
    this.store.sql.exec("DELETE FROM journal");
    this.empty = true;
  }
}
