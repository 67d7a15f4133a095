/** What the kernel has promised to deliver, and to whom. */
export type OutboxKind = "start" | "terminate" | "post_terminate" | "deliver";

export interface OutboxEntry {
  id: number;
  kind: OutboxKind;
  pid: number;
  payload: string;
  attempts: number;
  next_at: number;
  held: number;
  via_alarm: number;
  [key: string]: SqlStorageValue;
}

/** Backoff between attempts of a failed delivery. */
export const redeliveryDelay = (attempts: number) => Math.min(60_000, 500 * 2 ** attempts);

/**
 * The kernel's outbox in SQLite. An entry is written in the same transaction as the change that
 * promises it, and removed only once delivered, so every promise is kept at least once.
 *
 * `held`: a start waiting for a maxChildren slot. `viaAlarm`: delivered only from the kernel's alarm, a
 * fresh event, never inside the call that produced it (results reach a copilot that way, so a delivery
 * is never nested in the copilot's own outbound call).
 */
export class Outbox {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, pid INTEGER NOT NULL, payload TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 0, via_alarm INTEGER NOT NULL DEFAULT 0
    )`);
  }

  add(kind: OutboxKind, pid: number, payload: unknown, { held = false, viaAlarm = false } = {}) {
    this.sql.exec(
      "INSERT INTO outbox (kind, pid, payload, next_at, held, via_alarm) VALUES (?, ?, ?, ?, ?, ?)",
      kind,
      pid,
      JSON.stringify(payload),
      Date.now(),
      held ? 1 : 0,
      viaAlarm ? 1 : 0,
    );
  }

  /** Entries due now; outside the alarm, not those that must come from a fresh event. */
  due({ onlyPid, fromAlarm }: { onlyPid?: number; fromAlarm: boolean }, limit = 500): OutboxEntry[] {
    return this.sql
      .exec<OutboxEntry>(
        `SELECT * FROM outbox WHERE held = 0 AND next_at <= ?${fromAlarm ? "" : " AND via_alarm = 0"}${onlyPid !== undefined ? " AND pid = ?" : ""} ORDER BY id LIMIT ?`,
        Date.now(),
        ...(onlyPid !== undefined ? [onlyPid] : []),
        limit,
      )
      .toArray();
  }

  delivered(id: number) {
    this.sql.exec("DELETE FROM outbox WHERE id = ?", id);
  }

  retryLater(entry: OutboxEntry) {
    const attempts = entry.attempts + 1;
    this.sql.exec("UPDATE outbox SET attempts = ?, next_at = ? WHERE id = ?", attempts, Date.now() + redeliveryDelay(attempts), entry.id);
  }

  /** A queued start gets its slot. */
  release(pid: number) {
    this.sql.exec("UPDATE outbox SET held = 0, next_at = ? WHERE pid = ? AND kind = 'start'", Date.now(), pid);
  }

  /** A process that exits before its queued start never starts. */
  dropHeldStart(pid: number) {
    this.sql.exec("DELETE FROM outbox WHERE pid = ? AND kind = 'start' AND held = 1", pid);
  }

  /** When the next entry falls due, or null when nothing waits. */
  nextDue(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(next_at) AS t FROM outbox WHERE held = 0").one().t;
  }
}
