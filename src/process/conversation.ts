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

export const storedBytes = (message: Message): number => utf8Length(JSON.stringify(message));

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

/** A process's conversation in SQLite, with its size kept alongside so a check never scans it. */
export class Conversation {
  private bytesUsed: number | null = null;

  constructor(private readonly sql: Sql) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS conversation_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
    `);
  }

  all(): Message[] {
    return this.sql.exec<{ body: string }>("SELECT body FROM messages ORDER BY seq").toArray().map((r) => JSON.parse(r.body) as Message);
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
    const row = this.sql.exec<{ body: string }>("SELECT body FROM messages ORDER BY seq DESC LIMIT 1").toArray()[0];
    const last = row ? (JSON.parse(row.body) as Message) : null;
    return last?.role === "assistant" ? last.content : null;
  }

  bytes(): number {
    if (this.bytesUsed === null) {
      // Objects written before the size was kept learn it once.
      const row = this.sql.exec<{ bytes: number }>("SELECT bytes FROM conversation_size").toArray()[0];
      this.bytesUsed = row ? row.bytes : this.all().reduce((n, m) => n + storedBytes(m), 0);
    }
    return this.bytesUsed;
  }

  fits(messages: readonly Message[]): Admission {
    return admit(this.bytes(), messages);
  }

  /** Appends in the caller's transaction; the caller has checked `fits` where the input is not its own. */
  append(messages: readonly Message[]) {
    if (messages.length === 0) return;
    let bytes = this.bytes();
    for (const m of messages) {
      const body = JSON.stringify(m);
      this.sql.exec("INSERT INTO messages (body) VALUES (?)", body);
      bytes += utf8Length(body);
    }
    this.sql.exec("INSERT INTO conversation_size (id, bytes) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET bytes = excluded.bytes", bytes);
    this.bytesUsed = bytes;
  }

  /** A transaction that appended was rolled back: the cached size is re-read. */
  forgetSize() {
    this.bytesUsed = null;
  }
}
