import type { ProcessEvent, ProcessEventType } from "../contracts";
import { takePage } from "../lib/paging";

const encoder = new TextEncoder();
/** Backlog events read and sent at a time. */
const BACKLOG_PAGE = 200;

/** Server-Sent Events: the sequence number is the event id, so `Last-Event-ID` resumes after it. */
export function encodeEvents(events: readonly ProcessEvent[]): Uint8Array {
  let text = "";
  for (const e of events) text += `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ seq: e.seq, at: e.at, ...(e.data as object) })}\n\n`;
  return encoder.encode(text);
}

/** A process's event log in SQLite, and the live SSE streams that follow it. */
export class EventLog {
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private closed = false;

  constructor(private readonly sql: SqlStorage) {
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
    if (events.length === 0 || this.subscribers.size === 0) return;
    this.send(encodeEvents(events));
  }

  /**
   * For live subscribers only, with no id: streamed text deltas (persisting every token would multiply
   * storage writes, and the persisted `model` event that follows carries the whole text), so a
   * Last-Event-ID resume continues from the last persisted event.
   */
  publishTransient(type: ProcessEventType, data: object) {
    if (this.subscribers.size === 0) return;
    this.send(encoder.encode(`event: ${type}\ndata: ${JSON.stringify({ at: new Date().toISOString(), ...data })}\n\n`));
  }

  /** An SSE response: the backlog after `afterSeq`, then live events until `close()` (or at once if `ended`). */
  stream(afterSeq: number, ended: boolean): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    void this.follow(writable.getWriter(), afterSeq, ended || this.closed);
    return new Response(readable, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" } });
  }

  /**
   * Sends the backlog a page at a time (a long log is never held in memory whole), then joins the
   * live subscribers. The last empty read and the subscription happen in one synchronous stretch,
   * so no event published in between is missed.
   */
  private async follow(writer: WritableStreamDefaultWriter<Uint8Array>, after: number, ended: boolean) {
    try {
      for (let page = this.since(after); page.length > 0; page = this.since(after)) {
        await writer.write(encodeEvents(page));
        after = page.at(-1)!.seq;
      }
    } catch {
      return; // the reader went away
    }
    if (ended || this.closed) void writer.close().catch(() => {});
    else this.subscribers.add(writer);
  }

  /** Ends every live stream (the process exited). */
  close() {
    this.closed = true;
    for (const w of this.subscribers) void w.close().catch(() => {});
    this.subscribers.clear();
  }

  private send(chunk: Uint8Array) {
    for (const w of this.subscribers) w.write(chunk).catch(() => this.subscribers.delete(w));
  }
}
