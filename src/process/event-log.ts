import type { ProcessEvent, ProcessEventType } from "../contracts";
import { takePage } from "../lib/paging";
import { SseHub, type SseEvent } from "../lib/sse";
import type { Sql } from "../lib/sql-store";

const encoder = new TextEncoder();
/** Backlog events read and sent at a time. */
const BACKLOG_PAGE = 200;
/** Rows per INSERT (a statement takes at most 100 bound values). */
const MAX_ROWS_PER_INSERT = 25;

/** An event as its SSE stream carries it: the sequence number is the id, so `Last-Event-ID` resumes after it. */
const toSse = (e: ProcessEvent): SseEvent => ({ seq: e.seq, type: e.type, data: { seq: e.seq, at: e.at, ...(e.data as object) } });

/** A process's event log in SQLite, and the live SSE streams that follow it. */
export class EventLog {
  private readonly hub = new SseHub((after) => this.since(after).map(toSse));

  /** The last stored sequence number (null: read it at the next insert). */
  private last: number | null = null;

  constructor(private readonly sql: Sql) {}

  /** A new process (0), or its caller's transaction was rolled back (null: read again). */
  knowLast(seq: number | null) {
    this.last = seq;
  }

  /** Stores an event (in the caller's transaction); `publish` sends it once the write is done. */
  insert(type: ProcessEventType, data: unknown): ProcessEvent {
    return this.insertAll([[type, data]])[0]!;
  }

  /** Stores events in order, one statement per 25 (in the caller's transaction). */
  insertAll(events: readonly (readonly [ProcessEventType, unknown])[]): ProcessEvent[] {
    const at = new Date().toISOString();
    let seq = (this.last ??= this.sql.exec<{ n: number | null }>("SELECT max(seq) AS n FROM events").one().n ?? 0);
    const out = events.map(([type, data]) => ({ seq: ++seq, type, at, data }));
    for (let i = 0; i < out.length; i += MAX_ROWS_PER_INSERT) {
      const chunk = out.slice(i, i + MAX_ROWS_PER_INSERT);
      const values = chunk.flatMap((e) => [e.seq, e.type, at, JSON.stringify(e.data)]);
      this.sql.exec(`INSERT INTO events (seq, type, at, data) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`, ...values);
      this.last = chunk.at(-1)!.seq;
    }
    return out;
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
