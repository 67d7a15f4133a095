import type { Approval, CollectedTask, DeliveryPolicy, ExitStatus, HookContext, InputAnswer } from "../contracts";
import type { ProcessConfig } from "../rpc/messages";
import type { OutboxRow } from "./rows";
import type { Sql, SqlStore } from "../lib/sql-store";

/** How the outbox holds a start order: the first message, or the checkpoint to continue from. */
export type StartOrder = { input: string } | { checkpointId: string };

/**
 * What the kernel has promised to deliver, and to whom (the entry's pid):
 * - `start`: start the process object of a new process;
 * - `terminate`: stop the process object of a process the kernel ended (kill, cancel, cascade);
 * - `post_terminate`: run the post_terminate hooks of a process that exited;
 * - `deliver`: hand a worker's task result (or its question, `input-required`) to its copilot;
 * - `approval`: hand a decided (or expired) approval to the process whose call waits on it;
 * - `input`: hand the answer to a worker's question to the worker.
 *
 * The row keeps `kind` in its own column and `payload` as JSON, as it always has. A start with
 * `running` belongs to a row written `running` with it (`Spawner.commit`), and with `taskWorking`
 * too, to a delegation whose task was written `working` with it: its landing changes nothing but the
 * outbox, so it is removed with the kernel's next transaction (`deliveredLater`). A start without
 * `running` (a queued worker's, a restore's, or one written by older code) moves its row from
 * `created` to the state the process answers; a task not written `working` is moved there when its
 * start lands.
 */
export type OutboxMessage =
  | { kind: "start"; payload: { config: ProcessConfig; start: StartOrder; running?: true; taskWorking?: true } }
  | { kind: "terminate"; payload: ExitStatus }
  | { kind: "post_terminate"; payload: HookContext }
  | { kind: "deliver"; payload: { task: CollectedTask; delivery: DeliveryPolicy } }
  | { kind: "approval"; payload: Approval }
  | { kind: "input"; payload: InputAnswer };

export type OutboxKind = OutboxMessage["kind"];

/** An entry due for delivery. */
export type OutboxEntry = { id: number; pid: number; attempts: number } & OutboxMessage;

/** Backoff between attempts of a failed delivery. */
export const redeliveryDelay = (attempts: number) => Math.min(60_000, 500 * 2 ** attempts);

/**
 * The kernel's outbox in SQLite (its table is in schema.ts). An entry is written in the same
 * transaction as the change that promises it, and removed only once delivered, so every promise is
 * kept at least once.
 *
 * `held`: a start waiting for a maxChildren slot. `viaAlarm`: delivered only from the kernel's alarm, a
 * fresh event, never inside the call that produced it (results reach a copilot that way, so a delivery
 * is never nested in the copilot's own outbound call).
 */
export class Outbox {
  /**
   * What this incarnation wrote since the kernel last looked (`takeNews`): whether a queued start was
   * released (due outside the alarm, though not in `written`), and the earliest time an entry falls
   * due. What another incarnation wrote is found by the alarm, which always reads the table.
   */
  private news: { released: boolean; wake: number | null } = { released: false, wake: null };
  /** Entries this incarnation wrote, due at once outside the alarm, until delivered or retried (`dueOfNew`). */
  private readonly written = new Map<number, OutboxEntry>();
  /**
   * Delivered entries whose removal waits for the kernel's next transaction (`deliveredLater`), so a
   * delivery that changes nothing else here (a start of a row already running, a copilot's results)
   * costs no commit of its own. Lost with the incarnation, they are delivered again, which every
   * receiver takes once.
   */
  private readonly landed = new Set<number>();
  /** Those of `landed` last removed (back to `landed` if a transaction rolls back). */
  private removing: number[] = [];
  /** The id the next entry gets: read once an incarnation, given out here (no read-back per insert), read again after a rollback. */
  private nextId: number | null = null;

  constructor(
    private readonly sql: Sql,
    store?: Pick<SqlStore, "onRollback" | "beforeCommit">,
  ) {
    store?.onRollback?.(() => {
      this.written.clear();
      this.nextId = null;
      for (const id of this.removing) this.landed.add(id);
      this.removing = [];
    });
    store?.beforeCommit?.(() => this.removeLanded());
  }

  /**
   * An entry written for `at`. One due at once outside the alarm (`direct`) is delivered by the call
   * that wrote it; its wake is a safety net for when that call dies, as `drainOutbox` arms before delivering.
   */
  private note(at: number, direct: boolean) {
    this.noteWake(direct ? at + 5_000 : at);
  }

  /** Something else the kernel's alarm must do at `at` (an approval's deadline). */
  noteWake(at: number) {
    this.news.wake = this.news.wake === null ? at : Math.min(this.news.wake, at);
  }

  /**
   * What was written since the last call (see `news`), and forgets it (a release only with
   * `clearDirect`). `direct`: an entry may be due outside the alarm, i.e. one this incarnation wrote is
   * still undelivered (`written`: a start delivered by `dueOfNew` is not asked for again) or a start was released.
   */
  takeNews(clearDirect = true): { direct: boolean; wake: number | null } {
    const { released, wake } = this.news;
    this.news = { released: clearDirect ? false : released, wake: null };
    return { direct: released || this.written.size > 0, wake };
  }

  add(pid: number, message: OutboxMessage, { held = false, viaAlarm = false } = {}) {
    const at = Date.now();
    if (!held) this.note(at, !viaAlarm);
    const id = this.allocateId();
    this.sql.exec(
      "INSERT INTO outbox (id, kind, pid, payload, next_at, held, via_alarm) VALUES (?, ?, ?, ?, ?, ?, ?)",
      id,
      message.kind,
      pid,
      JSON.stringify(message.payload),
      at,
      held ? 1 : 0,
      viaAlarm ? 1 : 0,
    );
    if (held || viaAlarm) return;
    this.written.set(id, { id, pid, attempts: 0, ...message });
  }

  /**
   * Ids keep growing, as AUTOINCREMENT gives them (never one an entry had, even a removed one): past
   * the table's sequence and its largest id. The kernel object is the only writer of its outbox.
   */
  private allocateId(): number {
    this.nextId ??=
      this.sql
        .exec<{ last: number }>("SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0), coalesce((SELECT max(id) FROM outbox), 0)) AS last")
        .one().last + 1;
    return this.nextId++;
  }

  /**
   * What is due of processes this incarnation made (a spawn's starts): every entry of a pid made here
   * was written here, so the due ones are those it wrote and has not seen delivered, retried or rolled
   * back, and they are answered from memory, without reading back (and parsing) what was just written.
   * Null when one of the pids has none in memory (the caller reads the table).
   */
  dueOfNew(pids: readonly number[]): OutboxEntry[] | null {
    const wanted = new Set(pids);
    const due = [...this.written.values()].filter((e) => wanted.has(e.pid));
    return new Set(due.map((e) => e.pid)).size === wanted.size ? due : null;
  }

  /** Entries due now (of `onlyPids`, when given); outside the alarm, not those that must come from a fresh event. */
  due({ onlyPids, fromAlarm }: { onlyPids?: readonly number[]; fromAlarm: boolean }, limit = 500): OutboxEntry[] {
    // The alarm reads the whole table, and what is due next: what has landed goes first.
    if (fromAlarm && this.landed.size) this.removeLanded();
    const rows = this.sql
      .exec<OutboxRow>(
        `SELECT * FROM outbox WHERE held = 0 AND next_at <= ?${fromAlarm ? "" : " AND via_alarm = 0"}${onlyPids !== undefined ? " AND pid IN (SELECT value FROM json_each(?))" : ""} ORDER BY id LIMIT ?`,
        Date.now(),
        ...(onlyPids !== undefined ? [JSON.stringify(onlyPids)] : []),
        limit,
      )
      .toArray()
      .map((r) => ({ id: r.id, pid: r.pid, attempts: r.attempts, ...({ kind: r.kind, payload: JSON.parse(r.payload) } as OutboxMessage) }));
    return this.landed.size ? rows.filter((r) => !this.landed.has(r.id)) : rows;
  }

  /** Delivered entries that change nothing else: removed with the kernel's next transaction, not in one of their own. */
  deliveredLater(ids: readonly number[]) {
    for (const id of ids) {
      this.written.delete(id);
      this.landed.add(id);
    }
  }

  /** Removes what has landed, in the running transaction (or its own, outside one). */
  private removeLanded() {
    if (this.landed.size === 0) return;
    const ids = [...this.landed];
    this.landed.clear();
    // Kept until the next removal: a rollback puts them back (removing a removed entry again is harmless).
    this.removing = ids;
    this.remove(ids);
  }

  delivered(ids: readonly number[]) {
    for (const id of ids) this.written.delete(id);
    this.remove(ids);
  }

  private remove(ids: readonly number[]) {
    if (ids.length === 1) this.sql.exec("DELETE FROM outbox WHERE id = ?", ids[0]!);
    else if (ids.length) this.sql.exec("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids));
  }

  retryLater(entry: Pick<OutboxEntry, "id" | "attempts">) {
    this.written.delete(entry.id);
    const attempts = entry.attempts + 1;
    const at = Date.now() + redeliveryDelay(attempts);
    this.note(at, false);
    this.sql.exec("UPDATE outbox SET attempts = ?, next_at = ? WHERE id = ?", attempts, at, entry.id);
  }

  /** A queued start gets its slot. */
  release(pid: number) {
    this.news.released = true;
    this.note(Date.now(), true);
    this.sql.exec("UPDATE outbox SET held = 0, next_at = ? WHERE pid = ? AND kind = 'start'", Date.now(), pid);
  }

  /** A process that exits before its queued start never starts. */
  dropHeldStart(pid: number) {
    this.sql.exec("DELETE FROM outbox WHERE pid = ? AND kind = 'start' AND held = 1", pid);
  }

  /** When the next entry falls due, or null when nothing waits. */
  nextDue(): number | null {
    // What has landed is not due, though its removal waits for the next transaction (a write here, in
    // the alarm after its deliveries, would be a commit of its own).
    const skip = this.landed.size ? " AND id NOT IN (SELECT value FROM json_each(?))" : "";
    const landed = this.landed.size ? [JSON.stringify([...this.landed])] : [];
    // Two index lookups (outbox_due) rather than a scan of every waiting entry.
    return this.sql
      .exec<{ t: number | null }>(
        `SELECT min(t) AS t FROM (SELECT min(next_at) AS t FROM outbox WHERE held = 0 AND via_alarm = 0${skip} UNION ALL SELECT min(next_at) AS t FROM outbox WHERE held = 0 AND via_alarm = 1${skip})`,
        ...landed,
        ...landed,
      )
      .one().t;
  }
}
