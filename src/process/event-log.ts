import type { ProcessEvent, ProcessEventType } from "../contracts";
import { takePage } from "../lib/paging";
import { SseHub, type SseEvent } from "../lib/sse";
import type { Sql } from "../lib/sql-store";

const encoder = new TextEncoder();
/** Backlog events read and sent at a time. */
const BACKLOG_PAGE = 200;

/** An event as its SSE stream carries it: the sequence number is the id, so `Last-Event-ID` resumes after it. */
const toSse = (e: ProcessEvent): SseEvent => ({ seq: e.seq, type: e.type, data: { seq: e.seq, at: e.at, ...(e.data as object) } });

/** A process's event log in SQLite, and the live SSE streams that follow it. */
export class EventLog {
  private readonly hub = new SseHub((after) => this.since(after).map(toSse));

  constructor(private readonly sql: Sql) {
    sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL)");
  }

  /** Stores an event (in the caller's transaction); `publish` sends it once the write is done. */
  insert(type: ProcessEventType, data: unknown): ProcessEvent {
    const at = new Date().toISOString();
    const seq = this.sql.exec<{ seq: number }>("INSERT INTO events (type, at, data) VALUES (?, ?, ?) RETURNING seq", type, at, JSON.stringify(data)).one().seq;
    return { seq, type, at, data };
  }

  /** The events after `seq`, at most `limit` of them and a few MiB. */
  since(seq: number, limit = BACKLOG_PAGE): ProcessEvent[] {
    const rows = this.sql.exec<{ seq: number; type: string; at: string; data: string }>("SELECT seq, type, at, data FROM events WHERE seq > ? ORDER BY seq LIMIT ?", seq, limit + 1);
    return takePage(
      (function* () {
        for (const r of rows) yield { seq: r.seq, type: r.type as ProcessEventType, at: r.at, data: JSON.parse(r.data) as unknown };
      })(),
      limit,
      (e) => e.seq,
    ).items;
  }

  publish(events: readonly ProcessEvent[]) {
    if (this.hub.listening) this.hub.publish(events.map(toSse));
  }

  /**
   * For live subscribers only, with no id: streamed text deltas (persisting every token would multiply
   * storage writes, and the persisted `model` event that follows carries the whole text), so a
   * Last-Event-ID resume continues from the last persisted event.
   */
  publishTransient(type: ProcessEventType, data: object) {
    if (this.hub.listening) this.hub.send(encoder.encode(`event: ${type}\ndata: ${JSON.stringify({ at: new Date().toISOString(), ...data })}\n\n`));
  }

  /** An SSE response: the backlog after `afterSeq`, then live events until `close()` (or at once if `ended`). */
  stream(afterSeq: number, ended: boolean): Response {
    return this.hub.stream(afterSeq, ended);
  }

  /** Ends every live stream (the process exited). */
  close() {
    this.hub.close();
  }
}
