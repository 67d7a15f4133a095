import { takePage } from "../lib/paging";
import { SseHub, type SseEvent } from "../lib/sse";
import type { Sql, SqlStore } from "../lib/sql-store";

/**
 * The tenant's feed (`GET /v1/events`): what a live view listens to. The services append a row to
 * `tenant_events` (`FeedLog`) whenever a process row's state, turn, usage, exit or pending question
 * changes, a task is made or changes state, an approval is made or decided, or an audit entry is
 * written, in the same transaction as that change, so a change that is not committed is never announced. A row names what changed; the event carries it
 * as it is when the event is sent (a live view wants the current process, not a past one). The last
 * `FEED_RETENTION` rows are kept (the newest is never pruned, so a plain rowid keeps growing without
 * AUTOINCREMENT's bookkeeping); a reader further behind resumes from the oldest kept.
 */
export type FeedType = "proc" | "task" | "audit" | "approval";
export const FEED_RETENTION = 10_000;
const PAGE = 200;

type FeedRow = { seq: number; type: string; ref: string; at: string };

export class TenantFeed {
  private readonly hub = new SseHub((after) => this.page(after));
  private flushing = false;

  /** @param render the current JSON of what a row names (a process, a task, an audit entry), or null when it is gone */
  constructor(
    private readonly sql: Sql,
    private readonly render: (type: FeedType, ref: string) => object | null,
  ) {}

  /** Events after `after`, rendered, at most a page and a few MiB. */
  page(after: number, limit = PAGE): SseEvent[] {
    const rows = this.sql.exec<FeedRow>("SELECT seq, type, ref, at FROM tenant_events WHERE seq > ? ORDER BY seq LIMIT ?", after, limit + 1);
    const render = this.render;
    return takePage(
      (function* () {
        for (const r of rows) {
          const data = render(r.type as FeedType, r.ref);
          // Gone (a pruned row): the event keeps its place with what is known.
          yield { seq: r.seq, type: r.type, data: { seq: r.seq, at: r.at, ...(data ?? { ref: r.ref, gone: true }) } };
        }
      })(),
      limit,
      (e) => e.seq,
    ).items;
  }

  stream(after: number): Response {
    return this.hub.stream(after);
  }

  /** After a commit: the live streams get what it added, once the current synchronous work is done. */
  flushSoon() {
    if (this.flushing || !this.hub.listening) return;
    this.flushing = true;
    queueMicrotask(() => {
      this.flushing = false;
      this.hub.catchUp();
    });
  }
}

/**
 * Appends the feed's rows, each in the transaction of the change it names. The services call it where
 * they make the change; until schema v9 SQLite triggers did, but inside a savepoint a statement that
 * fires a trigger copies the pages it touches into the sub-journal once more (docs/architecture.md).
 * Within a transaction the rows are gathered and written at its end, in one statement, once per
 * (type, ref): an event carries its process or task as it is when sent, and no one sees a transaction
 * halfway, so a second row for the same thing would say nothing new. Every `PRUNE_EVERY` rows it drops
 * the rows older than the last `FEED_RETENTION` (at most that many rows late after a restart).
 */
export class FeedLog {
  private sincePrune = 0;
  private readonly pending = new Map<string, { type: FeedType; ref: string }>();

  /** @param written rows are being written (the live streams may look once the synchronous work that writes them is done) */
  constructor(
    private readonly store: Pick<SqlStore, "sql" | "beforeCommit" | "inTransaction" | "onRollback">,
    private readonly written: () => void = () => {},
  ) {
    // Registered before the audit log's own flush (it is made first), so nothing may note a row from a
    // later beforeCommit listener: the audit log notes its entries as they are appended, not as it writes them.
    store.beforeCommit?.(() => this.flush());
    store.onRollback?.(() => this.pending.clear());
  }

  note(type: FeedType, ref: string | number) {
    const item = { type, ref: String(ref) };
    if (this.store.inTransaction?.()) {
      // Told at the first row, not at the flush: the live streams look right after the transaction,
      // before the work it woke (a waiter reaping the process it announces) changes the row again.
      if (this.pending.size === 0) this.written();
      this.pending.set(`${type}:${item.ref}`, item);
      return;
    }
    this.store.sql.exec("INSERT INTO tenant_events (type, ref, at) VALUES (?, ?, ?)", type, item.ref, new Date().toISOString());
    this.written();
    this.added(1);
  }

  noteMany(type: FeedType, refs: readonly (string | number)[]) {
    for (const ref of refs) this.note(type, ref);
  }

  private flush() {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    this.pending.clear();
    this.store.sql.exec(
      "INSERT INTO tenant_events (type, ref, at) SELECT value ->> 0, value ->> 1, ? FROM json_each(?)",
      new Date().toISOString(),
      JSON.stringify(rows.map((r) => [r.type, r.ref])),
    );
    this.added(rows.length);
  }

  private added(n: number) {
    this.sincePrune += n;
    if (this.sincePrune < PRUNE_EVERY) return;
    this.sincePrune = 0;
    this.store.sql.exec("DELETE FROM tenant_events WHERE seq <= (SELECT max(seq) FROM tenant_events) - ?", FEED_RETENTION);
  }
}
const PRUNE_EVERY = 500;

/** What a feed row names, as it is now (null: gone). */

/** Schema v3: the feed's table and the triggers that fill it. */
export const FEED_SCHEMA = `
  CREATE TABLE IF NOT EXISTS tenant_events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, ref TEXT NOT NULL, at TEXT NOT NULL);
  CREATE TRIGGER IF NOT EXISTS feed_proc_insert AFTER INSERT ON procs BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('proc', NEW.pid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER IF NOT EXISTS feed_proc_update AFTER UPDATE OF state, turn_count, usage, tree_used, exit ON procs BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('proc', NEW.pid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER IF NOT EXISTS feed_task_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('task', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER IF NOT EXISTS feed_task_update AFTER UPDATE OF state ON tasks BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('task', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER IF NOT EXISTS feed_audit AFTER INSERT ON audit BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('audit', NEW.seq, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER IF NOT EXISTS feed_retention AFTER INSERT ON tenant_events WHEN NEW.seq % 500 = 0 BEGIN
    DELETE FROM tenant_events WHERE seq <= NEW.seq - ${FEED_RETENTION};
  END;
`;

/**
 * Schema v4: approvals join the feed (made, decided, expired), and a process's row announces a change
 * of its pending question too (the proc trigger is rebuilt with that column).
 */
export const FEED_V4 = `
  CREATE TRIGGER feed_approval_insert AFTER INSERT ON approvals BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('approval', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER feed_approval_update AFTER UPDATE OF state ON approvals BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('approval', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  DROP TRIGGER IF EXISTS feed_proc_update;
  CREATE TRIGGER feed_proc_update AFTER UPDATE OF state, turn_count, usage, tree_used, exit, pending_input ON procs BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('proc', NEW.pid, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
`;

/**
 * Schema v9: the feed's rows (and the process counters) are written by the services, not by triggers
 * (`FeedLog`; src/kernel/process-table.ts for the counters).
 */
export const DROP_TRIGGERS = `
  DROP TRIGGER IF EXISTS feed_proc_insert;
  DROP TRIGGER IF EXISTS feed_proc_update;
  DROP TRIGGER IF EXISTS feed_task_insert;
  DROP TRIGGER IF EXISTS feed_task_update;
  DROP TRIGGER IF EXISTS feed_audit;
  DROP TRIGGER IF EXISTS feed_retention;
  DROP TRIGGER IF EXISTS feed_approval_insert;
  DROP TRIGGER IF EXISTS feed_approval_update;
  DROP TRIGGER IF EXISTS procs_counters_insert;
  DROP TRIGGER IF EXISTS procs_counters_update;
`;
