import type { Message } from "../contracts";
import { takePage, type Page } from "../lib/paging";
import { utf8Length } from "../workspace/fs-tools";
import type { Sql } from "../lib/sql-store";

/**
 * A conversation is bounded: it is read whole into each model context, a checkpoint and a restore,
 * and each message is one SQLite value (at most 2 MB). These caps keep all of that inside the
 * platform's limits whatever the agent, its tools or a caller put into it.
 */
export const MAX_CONVERSATION_BYTES = 8 * 1024 * 1024;
/** One stored message (its JSON, UTF-8), with room under SQLite's 2 MB for the event that repeats it. */
export const MAX_MESSAGE_BYTES = 1536 * 1024;

export const storedBytes = (message: Message): number => byteLength(JSON.stringify(message));

const ASCII = /^[\x00-\x7f]*$/;
/**
 * A stored text's UTF-8 length. Nearly every message is ASCII, counted by the native regex engine;
 * counting in a JS loop costs microseconds per message, and far more once V8 gives up optimizing it.
 */
const byteLength = (text: string): number => (ASCII.test(text) ? text.length : utf8Length(text));

export type Admission = { ok: true } | { ok: false; why: "message" | "conversation"; bytes: number; room: number };

/** Whether `messages` may join a conversation of `used` bytes. */
export function admit(used: number, messages: readonly Message[]): Admission {
  let bytes = 0;
  for (const m of messages) {
    const size = storedBytes(m);
    if (size > MAX_MESSAGE_BYTES) return { ok: false, why: "message", bytes: size, room: MAX_MESSAGE_BYTES };
    bytes += size;
  }
  return used + bytes <= MAX_CONVERSATION_BYTES ? { ok: true } : { ok: false, why: "conversation", bytes, room: Math.max(0, MAX_CONVERSATION_BYTES - used) };
}

/** Says why a message does not fit, for a tool result the model sees or an HTTP error. */
export function describeRefusal(refusal: Extract<Admission, { ok: false }>, what: string): string {
  return refusal.why === "message"
    ? `${what} is ${refusal.bytes} bytes as stored; one message is limited to ${MAX_MESSAGE_BYTES} bytes`
    : `${what} (${refusal.bytes} bytes) does not fit in the conversation: ${refusal.room} of its ${MAX_CONVERSATION_BYTES} bytes are left`;
}

/** A conversation up to this size is also kept in memory, so a model call does not read it back. */
const CACHED_BYTES = 256 * 1024;

/**
 * A process's conversation in SQLite. Its size is kept by the store (`kv.conversationBytes`, written
 * with each append) so a check never scans it; a small conversation is also kept in memory.
 */
export class Conversation {
  private bytesUsed: number | null = null;
  /** The messages in order, while the conversation is small (null: read them from SQLite). */
  private cached: Message[] | null = null;

  constructor(private readonly sql: Sql) {}

  /** The size the store read (null: not stored, objects written before it was kept). */
  knowBytes(bytes: number | null) {
    this.bytesUsed = bytes;
  }

  /** A new process: nothing stored yet. */
  startEmpty() {
    this.bytesUsed = 0;
    this.cached = [];
  }

  all(): Message[] {
    if (this.cached) return [...this.cached];
    const messages = this.sql.exec<{ body: string }>("SELECT body FROM messages ORDER BY seq").toArray().map((r) => JSON.parse(r.body) as Message);
    // Objects written before the size was kept learn it here once (the store writes it with the next append).
    this.bytesUsed ??= messages.reduce((n, m) => n + storedBytes(m), 0);
    if (this.bytesUsed <= CACHED_BYTES) this.cached = [...messages];
    return messages;
  }

  /** Messages after the cursor (a message's position), a page at a time. */
  page(limit: number, cursor?: string): Page<Message> {
    const rows = this.sql.exec<{ seq: number; body: string }>("SELECT seq, body FROM messages WHERE seq > ? ORDER BY seq LIMIT ?", Number(cursor ?? 0), limit + 1);
    const page = takePage(
      (function* () {
        for (const r of rows) yield { seq: r.seq, message: JSON.parse(r.body) as Message };
      })(),
      limit,
      (m) => m.seq,
    );
    return { items: page.items.map((m) => m.message), nextCursor: page.nextCursor };
  }

  /** The text of the last message when it is the model's answer (what an interactive agent said last). */
  lastAnswer(): string | null {
    let last: Message | null;
    if (this.cached) last = this.cached.at(-1) ?? null;
    else {
      const row = this.sql.exec<{ body: string }>("SELECT body FROM messages ORDER BY seq DESC LIMIT 1").toArray()[0];
      last = row ? (JSON.parse(row.body) as Message) : null;
    }
    return last?.role === "assistant" ? last.content : null;
  }

  bytes(): number {
    if (this.bytesUsed === null) this.all();
    return this.bytesUsed!;
  }

  fits(messages: readonly Message[]): Admission {
    return admit(this.bytes(), messages);
  }

  /**
   * Appends in the caller's transaction (one statement), and answers the new size, which the caller
   * writes in the same transaction; the caller has checked `fits` where the input is not its own.
   */
  append(messages: readonly Message[]): number {
    let bytes = this.bytes();
    if (messages.length === 0) return bytes;
    const bodies = messages.map((m) => JSON.stringify(m));
    for (let i = 0; i < bodies.length; i += MAX_ROWS_PER_INSERT) {
      const chunk = bodies.slice(i, i + MAX_ROWS_PER_INSERT);
      this.sql.exec(`INSERT INTO messages (body) VALUES ${chunk.map(() => "(?)").join(", ")}`, ...chunk);
    }
    for (const body of bodies) bytes += byteLength(body);
    this.bytesUsed = bytes;
    if (this.cached && bytes <= CACHED_BYTES) this.cached.push(...messages);
    else this.cached = null;
    return bytes;
  }

  /** A transaction that appended was rolled back: the size and messages are read again. */
  forget() {
    this.bytesUsed = null;
    this.cached = null;
  }
}

/** Rows per INSERT (a statement takes at most 100 bound values). */
const MAX_ROWS_PER_INSERT = 50;
