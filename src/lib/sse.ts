/**
 * Server-Sent Events from a stored, ordered log: a stream sends the backlog after the reader's
 * `Last-Event-ID` a page at a time (a long log is never held in memory whole), then follows live
 * events until it is closed. Used by a process's event log and by the tenant's feed.
 */
const encoder = new TextEncoder();

export interface SseEvent {
  /** The event's position in its log: its SSE id. */
  seq: number;
  type: string;
  data: object;
}

export const SSE_HEADERS = { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" };

export function encodeSse(events: readonly SseEvent[]): Uint8Array {
  let text = "";
  for (const e of events) text += `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
  return encoder.encode(text);
}

/** A `Last-Event-ID` header as a position to resume after (0: from the start). */
export function lastEventId(header: string | null): number {
  const n = Number.parseInt(header ?? "0", 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export class SseHub {
  /** Each live stream and the seq of the last event it was sent, so none gets an event twice. */
  private readonly subscribers = new Map<WritableStreamDefaultWriter<Uint8Array>, number>();
  private closed = false;

  /** @param backlog the stored events after a position, in order, a bounded page at a time */
  constructor(private readonly backlog: (after: number) => SseEvent[]) {}

  get listening(): boolean {
    return this.subscribers.size > 0;
  }

  /** A response that sends the backlog after `after`, then live events until `close()` (or at once if `ended`). */
  stream(after: number, ended = false): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    void this.follow(writable.getWriter(), after, ended || this.closed);
    return new Response(readable, { headers: SSE_HEADERS });
  }

  /**
   * The last empty read of the backlog and the subscription happen in one synchronous stretch, so
   * no event published in between is missed.
   */
  private async follow(writer: WritableStreamDefaultWriter<Uint8Array>, after: number, ended: boolean) {
    try {
      for (let page = this.backlog(after); page.length > 0; page = this.backlog(after)) {
        await writer.write(encodeSse(page));
        after = page.at(-1)!.seq;
      }
    } catch {
      return; // the reader went away
    }
    if (ended || this.closed) void writer.close().catch(() => {});
    else this.subscribers.set(writer, after);
  }

  /** Sends stored events to the live streams that have not had them yet. */
  publish(events: readonly SseEvent[]) {
    if (events.length === 0) return;
    for (const [w, seen] of this.subscribers) {
      const fresh = events.filter((e) => e.seq > seen);
      if (fresh.length === 0) continue;
      this.subscribers.set(w, fresh.at(-1)!.seq);
      w.write(encodeSse(fresh)).catch(() => this.subscribers.delete(w));
    }
  }

  /** Reads the log from the oldest position a live stream has reached and publishes what is new. */
  catchUp() {
    if (!this.listening) return;
    let after = Math.min(...this.subscribers.values());
    for (let page = this.backlog(after); page.length > 0; page = this.backlog(after)) {
      this.publish(page);
      after = page.at(-1)!.seq;
    }
  }

  /** Sends a chunk that is not part of the log (no id) to the live streams. */
  send(chunk: Uint8Array) {
    for (const w of this.subscribers.keys()) w.write(chunk).catch(() => this.subscribers.delete(w));
  }

  /** Ends every live stream, and answers later ones with their backlog only. */
  close() {
    this.closed = true;
    for (const w of this.subscribers.keys()) void w.close().catch(() => {});
    this.subscribers.clear();
  }
}
