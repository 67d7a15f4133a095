import type { ProcessEvent, ProcessEventType } from "../contracts";

const encoder = new TextEncoder();

/** Server-Sent Events: the sequence number is the event id, so `Last-Event-ID` resumes after it. */
export function encodeEvents(events: readonly ProcessEvent[]): Uint8Array {
  let text = "";
  for (const e of events) text += `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ seq: e.seq, at: e.at, ...(e.data as object) })}\n\n`;
  return encoder.encode(text);
}

/** A process's event log in SQLite, and the live SSE streams that follow it. */
export class EventLog {
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();

  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL)");
  }

  /** Stores an event (in the caller's transaction); `publish` sends it once the write is done. */
  insert(type: ProcessEventType, data: unknown): ProcessEvent {
    const at = new Date().toISOString();
    const seq = this.sql.exec<{ seq: number }>("INSERT INTO events (type, at, data) VALUES (?, ?, ?) RETURNING seq", type, at, JSON.stringify(data)).one().seq;
    return { seq, type, at, data };
  }

  since(seq: number): ProcessEvent[] {
    return this.sql
      .exec<{ seq: number; type: string; at: string; data: string }>("SELECT seq, type, at, data FROM events WHERE seq > ? ORDER BY seq", seq)
      .toArray()
      .map((r) => ({ seq: r.seq, type: r.type as ProcessEventType, at: r.at, data: JSON.parse(r.data) as unknown }));
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
    const writer = writable.getWriter();
    void writer.write(encodeEvents(this.since(afterSeq)));
    if (ended) void writer.close();
    else this.subscribers.add(writer);
    return new Response(readable, { headers: { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" } });
  }

  /** Ends every live stream (the process exited). */
  close() {
    for (const w of this.subscribers) void w.close().catch(() => {});
    this.subscribers.clear();
  }

  private send(chunk: Uint8Array) {
    for (const w of this.subscribers) w.write(chunk).catch(() => this.subscribers.delete(w));
  }
}
