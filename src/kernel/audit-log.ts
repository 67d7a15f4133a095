import type { AuditDraft, AuditEntry, AuditVerify } from "../contracts";
import { GENESIS_HASH, sealEntry, verifyChain } from "./audit-chain";
import type { AuditRow } from "./rows";
import type { FeedLog } from "./tenant-feed";
import type { Sql, SqlStore } from "../lib/sql-store";

/** Who asked: "api:<role>" for HTTP callers, "process:<pid>" for agents, "kernel" for itself. */
export type Actor = string;

const PAGE = 2000;
/**
 * Besides every entry appended since the last verified head, each verify re-hashes this many older
 * entries, in rotation: a log of up to this size is re-hashed whole every time, and a larger one is
 * covered over successive calls while each call's work stays bounded.
 */
export const VERIFY_SWEEP = 10_000;

/**
 * The tenant's audit log in SQLite: append-only, hash-chained (the rules are in audit-chain.ts).
 * Its tables (`audit`, `audit_verified`) are in schema.ts.
 */
export class AuditLog {
  /**
   * The last entry's seq and hash, as this incarnation last wrote or read them: kept only where the
   * store says when a transaction rolls back (an entry that was rolled back must not be linked to).
   */
  private head: { seq: number; hash: string } | null = null;
  private readonly cachesHead: boolean;

  /** Entries of the running transaction not yet written: they are written together at its end. */
  private pending: AuditEntry[] = [];

  constructor(
    private readonly store: Pick<SqlStore, "sql" | "onRollback" | "beforeCommit" | "inTransaction">,
    private readonly feed?: FeedLog,
  ) {
    this.cachesHead = !!store.onRollback;
    store.onRollback?.(() => {
      this.head = null;
      this.pending = [];
    });
    store.beforeCommit?.(() => this.flush());
  }

  private get sql(): Sql {
    return this.store.sql;
  }

  private last(): { seq: number; hash: string } | null {
    if (this.head) return this.head;
    this.flush();
    const row = this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").toArray()[0] ?? null;
    if (this.cachesHead && row) this.head = row;
    return row;
  }

  /**
   * Synchronous, so an entry joins the transaction of the change it records. Sealed now (the chain is
   * in memory); within a transaction it is written with the others of that transaction at its end, in
   * one statement, and read back by this log as if written at once.
   */
  append(draft: AuditDraft): AuditEntry {
    const head = this.last();
    const entry = sealEntry(draft, (head?.seq ?? 0) + 1, new Date().toISOString(), head?.hash ?? GENESIS_HASH);
    if (this.cachesHead) this.head = { seq: entry.seq, hash: entry.hash };
    this.pending.push(entry);
    if (!this.store.inTransaction?.()) this.flush();
    this.feed?.note("audit", entry.seq);
    return entry;
  }

  private flush() {
    if (this.pending.length === 0) return;
    const rows = this.pending.map((e) => [e.seq, e.at, e.actor, e.event, e.pid ?? null, e.parentPid ?? null, e.taskId ?? null, JSON.stringify(e.data), e.prevHash, e.hash]);
    this.pending = [];
    this.sql.exec(
      `INSERT INTO audit (seq, at, actor, event, pid, parent_pid, task_id, data, prev_hash, hash)
       SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9 FROM json_each(?)`,
      JSON.stringify(rows),
    );
  }

  page(afterSeq: number, limit: number): AuditEntry[] {
    this.flush();
    return this.sql
      .exec<AuditRow>("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
      .toArray()
      .map((r) => {
        const e: AuditEntry = { seq: r.seq, at: r.at, actor: r.actor, event: r.event as AuditEntry["event"], data: JSON.parse(r.data), prevHash: r.prev_hash, hash: r.hash };
        if (r.pid !== null) e.pid = r.pid;
        if (r.parent_pid !== null) e.parentPid = r.parent_pid;
        if (r.task_id !== null) e.taskId = r.task_id;
        return e;
      });
  }

  /**
   * Verifies the chain from the last verified head to the end, plus a window of `VERIFY_SWEEP` older
   * entries in rotation; `full` re-hashes it all. The verified head and the sweep position are a
   * cache (a verify that fails stores nothing), so repeated verifies of a long log stay cheap.
   */
  verify({ full = false }: { full?: boolean } = {}): AuditVerify {
    this.flush();
    const last = this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").toArray()[0];
    if (!last) return { ok: true, entries: 0, head: GENESIS_HASH };
    const mark = full ? undefined : this.sql.exec<{ seq: number; hash: string; sweep_next: number }>("SELECT seq, hash, sweep_next FROM audit_verified").toArray()[0];
    // A verified head that no longer matches its row means the log was rewritten: start over.
    const trusted = mark && this.sql.exec("SELECT 1 FROM audit WHERE seq = ? AND hash = ?", mark.seq, mark.hash).toArray().length > 0 ? mark : undefined;
    if (!trusted) {
      const all = verifyChain(this.entries(0, last.seq));
      if (all.ok) this.remember(last.seq, last.hash, 1);
      return all;
    }
    const tail = verifyChain(this.entries(trusted.seq, last.seq), trusted.hash, trusted.seq + 1);
    if (!tail.ok) return { ...tail, entries: trusted.seq + tail.entries };
    const from = trusted.sweep_next <= trusted.seq ? trusted.sweep_next : 1;
    const to = Math.min(trusted.seq, from + VERIFY_SWEEP - 1);
    const before = from === 1 ? GENESIS_HASH : (this.sql.exec<{ hash: string }>("SELECT hash FROM audit WHERE seq = ?", from - 1).toArray()[0]?.hash ?? "");
    const swept = verifyChain(this.entries(from - 1, to), before, from);
    if (!swept.ok) return { ok: false, entries: swept.entries + from - 1, head: swept.head, brokenAt: swept.brokenAt! };
    this.remember(last.seq, last.hash, to >= trusted.seq ? 1 : to + 1);
    return { ok: true, entries: last.seq, head: last.hash };
  }

  /** Entries with `after < seq <= upTo`, read a page at a time. */
  private *entries(after: number, upTo: number): Iterable<AuditEntry> {
    for (let from = after; from < upTo; ) {
      const page = this.page(from, Math.min(PAGE, upTo - from));
      yield* page;
      if (page.length === 0) return;
      from = page.at(-1)!.seq;
    }
  }

  private remember(seq: number, hash: string, sweepNext: number) {
    this.sql.exec(
      "INSERT INTO audit_verified (id, seq, hash, sweep_next) VALUES (1, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, sweep_next = excluded.sweep_next",
      seq,
      hash,
      sweepNext,
    );
  }
}
