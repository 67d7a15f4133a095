import {
  ExitCode,
  isLive,
  type Budget,
  type ExitStatus,
  type FsScope,
  type HookContext,
  type HookEvent,
  type KillRequest,
  type KillResult,
  type Limits,
  type ListQuery,
  type Metadata,
  type Process,
  type Signal,
  type Usage,
  type WaitResult,
  type Warning,
} from "../contracts";
import { outstanding, subUse, zeroUse } from "../agent/budget";
import { adjustChildrenOutstanding, releaseLease, type OwnUsage } from "./budget-ledger";
import { takePage, type Page } from "../lib/paging";
import type { Actor, AuditLog } from "./audit-log";
import type { Outbox } from "./outbox";
import { budgetLimitOf, exitOf, limitsOf, LIVE_SQL, treeUsedOf, mapRows, toProcess, type ProcRow, type TaskRow } from "./rows";
import type { TaskStore } from "./task-store";
import type { FeedLog } from "./tenant-feed";
import { collectedOf, delegationTermsOf } from "./tasks";
import type { Sql, SqlStore } from "../lib/sql-store";
import type { ProcessReport } from "../rpc/messages";

/** A new row of the table, as spawn writes it. */
export interface NewProcess {
  pid: number;
  agent: string;
  parentPid: number | null;
  taskId: string | null;
  mode: "task" | "interactive";
  turnCount: number;
  usage: Usage;
  tools: string[];
  fs: FsScope[];
  budget: Budget;
  limits: Required<Limits>;
  depth: number;
  at: string;
  metadata: Metadata;
  warnings: Warning[];
  /** The agent's name when it is a singleton. */
  singletonOf: string | null;
  /** False while a delegation waits for a free maxChildren slot. */
  started: boolean;
  /** `running` when its start order goes out with the row (Spawner.commit), else `created` until a start lands. */
  state: "created" | "running";
}

/** What an exit sets in motion besides the row, in the same transaction. */
export interface ExitEffects {
  audit: AuditLog;
  /** The tenant feed: every change of a row's state, turn, usage or exit is announced in its transaction. */
  feed: FeedLog;
  outbox: Outbox;
  tasks: TaskStore;
  /** The post_terminate hook event of an exit, or null when no hook listens. */
  postTerminate(row: ProcRow, exit: ExitStatus): HookContext | null;
  /** A process has exited (whoever waits for it may look). */
  onExit(pid: number): void;
  /** What the process waited on (approvals, a question) is over; in the exit's transaction. */
  closeWaits(row: ProcRow, exit: ExitStatus): void;
}

const now = () => new Date().toISOString();

/** What an exit needs of its parent's row. */
type ParentFacts = Pick<ProcRow, "pid" | "state" | "limits" | "started_children">;

/** What a process said last, written with its exit: its turns and usage, and its usage columns once charged (`BudgetLedger.charge`'s `ownRow`). */
export interface LastReport {
  turnCount: number;
  usage: Usage;
  charged?: OwnUsage;
}

/**
 * The process table (SPEC §5): one row per process, pid order, never deleted. States move
 * `created → running ⇄ sleeping ⇄ paused → zombie → stopped`; the only way into `zombie` is
 * `markExited`, guarded by `exit IS NULL`, so everything an exit promises (the terminate entry, the
 * task's end and its delivery, the post_terminate order, the stop order) happens exactly once.
 */
export class ProcessTable {
  /** Whether a queued delegation may exist (a held start order), as this incarnation knows it; read once. */
  private queued: boolean | undefined = undefined;
  /** What the running transaction changed of the live count: written once at its end, read back by `liveCount`. */
  private liveDelta = 0;
  /**
   * What the running transaction changed of parents' `started_children`, by parent: written once a
   * parent at its end, and added to every read of a row meanwhile (a batch of a copilot's exits
   * rewrites its row once, not once each).
   */
  private readonly startedDelta = new Map<number, number>();
  /**
   * Parents' facts as the running transaction first read them (`started_children` as stored: what
   * the transaction changes of it is in `startedDelta`). Of a parent's state only whether it is live
   * is used, and a live row leaves the live states only through `markExited`, which drops it here.
   */
  private readonly parentFacts = new Map<number, ParentFacts>();
  /** `meta.next_pid` as this incarnation last read or wrote it (the kernel object is its only writer); dropped with a rollback. */
  private nextPid: number | null = null;

  constructor(
    private readonly store: SqlStore,
    private readonly fx: ExitEffects,
  ) {
    store.beforeCommit?.(() => {
      this.writeLiveCount();
      this.writeStartedChildren();
      this.parentFacts.clear();
    });
    store.onRollback?.(() => {
      this.nextPid = null;
      this.liveDelta = 0;
      this.startedDelta.clear();
      this.parentFacts.clear();
    });
  }

  private get sql(): Sql {
    return this.store.sql;
  }

  // ----------------------------------------------------------------- reads

  get(pid: number): ProcRow | null {
    const row = this.sql.exec<ProcRow>("SELECT * FROM procs WHERE pid = ?", pid).toArray()[0] ?? null;
    return row && this.current(row);
  }

  /** Several rows in one read, by pid. */
  getMany(pids: readonly number[]): Map<number, ProcRow> {
    const rows = new Map<number, ProcRow>();
    if (pids.length === 0) return rows;
    for (const row of this.sql.exec<ProcRow>("SELECT * FROM procs WHERE pid IN (SELECT value FROM json_each(?))", JSON.stringify(pids))) rows.set(row.pid, this.current(row));
    return rows;
  }

  /** A row as the running transaction has it: with the started children it counted and has not written yet. */
  private current<R extends Pick<ProcRow, "pid" | "started_children">>(row: R): R {
    const delta = this.startedDelta.get(row.pid);
    if (delta) row.started_children += delta;
    return row;
  }

  has(pid: number): boolean {
    return this.sql.exec("SELECT 1 FROM procs WHERE pid = ?", pid).toArray().length > 0;
  }

  page(query: ListQuery): Page<Process> {
    const where: string[] = ["pid > ?"];
    const args: SqlStorageValue[] = [Number(query.cursor ?? 0)];
    if (query.state) (where.push("state = ?"), args.push(query.state));
    if (query.parentPid !== undefined) (where.push("parent_pid = ?"), args.push(query.parentPid));
    if (query.agent) (where.push("agent = ?"), args.push(query.agent));
    const rows = this.sql.exec<ProcRow>(`SELECT * FROM procs WHERE ${where.join(" AND ")} ORDER BY pid LIMIT ?`, ...args, query.limit + 1);
    return takePage(mapRows(rows, toProcess), query.limit, (p) => p.pid);
  }

  /** Whether any delegation waits for a slot: a held start order (checked once an incarnation, then kept). */
  private mayHaveQueued(): boolean {
    return (this.queued ??= this.sql.exec("SELECT 1 FROM outbox WHERE held = 1 LIMIT 1").toArray().length > 0);
  }

  /** Live processes: a counter (schema v7) kept where a row is made or leaves the live states, not a count over the table. */
  liveCount(): number {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'live_count'").toArray()[0];
    return (row ? Number(row.value) : 0) + this.liveDelta;
  }

  /** The live process of a singleton agent, if any. */
  singletonPid(agent: string): number | null {
    return this.sql.exec<{ pid: number }>("SELECT pid FROM procs WHERE singleton_of = ?", agent).toArray()[0]?.pid ?? null;
  }

  /** Live children holding a maxChildren slot (queued delegations do not): a counter on the parent's row (schema v7), kept with `live_count`. */
  startedChildren(pid: number): number {
    const stored = this.sql.exec<{ n: number }>("SELECT started_children AS n FROM procs WHERE pid = ?", pid).toArray()[0]?.n ?? 0;
    return stored + (this.startedDelta.get(pid) ?? 0);
  }

  /** Live descendants at any depth, in pid order. */
  liveDescendants(pid: number): ProcRow[] {
    return this.sql
      .exec<ProcRow>(
        `WITH RECURSIVE tree(pid) AS (SELECT pid FROM procs WHERE parent_pid = ? UNION SELECT p.pid FROM procs p JOIN tree t ON p.parent_pid = t.pid)
         SELECT * FROM procs WHERE pid IN (SELECT pid FROM tree) AND state IN ${LIVE_SQL} ORDER BY pid`,
        pid,
      )
      .toArray();
  }

  // ----------------------------------------------------------------- writes

  /** The pid the next spawn gets: from 1, never reused (a pid taken by a rolled-back spawn is taken again). */
  peekNextPid(): number {
    if (this.nextPid !== null) return this.nextPid;
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'next_pid'").toArray()[0];
    const pid = row ? Number(row.value) : 1;
    // Kept only where the store says when a transaction rolls back (a rolled-back pid is given again).
    if (this.store.onRollback) this.nextPid = pid;
    return pid;
  }

  setNextPid(pid: number) {
    this.sql.exec("INSERT INTO meta (key, value) VALUES ('next_pid', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", String(pid));
    if (this.store.onRollback) this.nextPid = pid;
  }

  insert(p: NewProcess) {
    this.sql.exec(
      `INSERT INTO procs (pid, agent, parent_pid, task_id, state, mode, turn_count, usage, tools, fs, budget_limit, budget_used, tree_used, limits, depth,
          created_at, updated_at, exit, result, metadata, warnings, singleton_of, started) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,?,?,?,?)`,
      p.pid,
      p.agent,
      p.parentPid,
      p.taskId,
      p.state,
      p.mode,
      p.turnCount,
      JSON.stringify(p.usage),
      JSON.stringify(p.tools),
      JSON.stringify(p.fs),
      JSON.stringify(p.budget),
      // Nothing used yet, by it or by descendants.
      JSON.stringify(zeroUse()),
      JSON.stringify(zeroUse()),
      JSON.stringify(p.limits),
      p.depth,
      p.at,
      p.at,
      JSON.stringify(p.metadata),
      JSON.stringify(p.warnings),
      p.singletonOf,
      p.started ? 1 : 0,
    );
    if (!p.started) this.queued = true;
    // Its counters (live, a started child of its parent) are the spawner's to write, once a batch (SpawnFacts.write).
    this.fx.feed.note("proc", p.pid);
    // Its whole reservation is outstanding until it spends (its own sum stays NULL: no children to scan yet).
    if (p.parentPid !== null) adjustChildrenOutstanding(this.sql, p.parentPid, outstanding(p.budget, zeroUse()));
  }

  /** Process objects started (a batch of starts landed): `created` → the state each reports, one update per state. */
  recordStarts(started: readonly { pid: number; state: Process["state"] }[]) {
    const byState = new Map<Process["state"], number[]>();
    for (const s of started) {
      const pids = byState.get(s.state);
      if (pids) pids.push(s.pid);
      else byState.set(s.state, [s.pid]);
    }
    const at = now();
    // Live to live: the counters stay as they are.
    for (const [state, pids] of byState) {
      const moved = this.sql
        .exec<{ pid: number }>("UPDATE procs SET state = ?, updated_at = ? WHERE pid IN (SELECT value FROM json_each(?)) AND state = 'created' RETURNING pid", state, at, JSON.stringify(pids))
        .toArray();
      const landed = new Set(moved.map((m) => m.pid));
      this.fx.feed.noteMany("proc", pids.filter((pid) => landed.has(pid)));
    }
  }

  /** A live process's progress (an exited one's row no longer changes). */
  recordReport(pid: number, report: { state: ProcessReport["state"]; turnCount: number; usage: Usage }) {
    // A live state to a live state: the counters stay as they are.
    const changed = this.sql.exec(
      `UPDATE procs SET state = ?, turn_count = ?, usage = ?, updated_at = ? WHERE pid = ? AND exit IS NULL`,
      report.state,
      report.turnCount,
      JSON.stringify(report.usage),
      now(),
      pid,
    ).rowsWritten;
    if (changed) this.fx.feed.note("proc", pid);
  }

  /** A checkpoint paused it. */
  recordPause(pid: number) {
    if (this.sql.exec("UPDATE procs SET state = 'paused', updated_at = ? WHERE pid = ? AND exit IS NULL", now(), pid).rowsWritten > 0) this.fx.feed.note("proc", pid);
  }

  /** A hook that failed or could not be asked: kept on the process row (`wait` shows it) and in the audit log. */
  addWarnings(pid: number, warnings: Warning[], event: HookEvent, onRow = true) {
    if (warnings.length === 0) return;
    this.store.transactionSync(() => {
      for (const w of warnings) this.fx.audit.append({ actor: "kernel", event: "hook_warning", pid, data: { hook: w.component, hookEvent: event, message: w.message } });
      const row = onRow ? this.get(pid) : null;
      if (row) this.sql.exec("UPDATE procs SET warnings = ? WHERE pid = ?", JSON.stringify([...JSON.parse(row.warnings), ...warnings]), pid);
    });
  }

  /** `meta.live_count` by `delta`: rows made (the spawner, SpawnFacts.write) or leaving the live states (`markExited`). */
  countLive(delta: number) {
    // A batch of exits writes it once (nothing but `liveCount` reads it).
    this.liveDelta += delta;
    if (!this.store.inTransaction?.()) this.writeLiveCount();
  }

  private writeLiveCount() {
    if (this.liveDelta === 0) return;
    this.sql.exec("UPDATE meta SET value = value + ? WHERE key = 'live_count'", this.liveDelta);
    this.liveDelta = 0;
  }

  /** A parent's `started_children` by `delta`: live children took a slot (made started, or released from the queue) or gave it back (exited). */
  countStartedChild(parentPid: number, delta: number) {
    if (this.store.inTransaction?.()) this.startedDelta.set(parentPid, (this.startedDelta.get(parentPid) ?? 0) + delta);
    else this.sql.exec("UPDATE procs SET started_children = started_children + ? WHERE pid = ?", delta, parentPid);
  }

  private writeStartedChildren() {
    for (const [pid, delta] of this.startedDelta) {
      if (delta !== 0) this.sql.exec("UPDATE procs SET started_children = started_children + ? WHERE pid = ?", delta, pid);
    }
    this.startedDelta.clear();
  }

  /** The facts of `pid` an exit of one of its children needs, read once a transaction (`parentFacts`). */
  private parentOf(pid: number): ParentFacts | null {
    const inTransaction = this.store.inTransaction?.() ?? false;
    let facts = inTransaction ? this.parentFacts.get(pid) : undefined;
    if (!facts) {
      facts = this.sql.exec<ParentFacts>("SELECT pid, state, limits, started_children FROM procs WHERE pid = ?", pid).toArray()[0];
      if (!facts) return null;
      if (inTransaction) this.parentFacts.set(pid, facts);
    }
    return this.current({ ...facts });
  }

  // ----------------------------------------------------------------- exits

  /**
   * The one place a live row becomes a zombie: audit entry, the task's outcome and its delivery to
   * the copilot, post_terminate order and (when the kernel decided the exit) the order to stop the
   * process object, all in the caller's transaction. The `exit IS NULL` guard makes post_terminate
   * fire, and a task end, exactly once per process. False when it had already exited.
   */
  markExited(row: ProcRow, exit: ExitStatus, result: string | null, actor: Actor, stopObject: boolean, last?: LastReport): boolean {
    // No `RETURNING`: it would keep a statement journal (docs/architecture.md); `row` was read in this synchronous run.
    const changed =
      this.sql.exec(
        `UPDATE procs SET state = 'zombie', exit = ?, result = ?, singleton_of = NULL, updated_at = ?, turn_count = coalesce(?, turn_count), usage = coalesce(?, usage),
           budget_used = coalesce(?, budget_used), tree_used = coalesce(?, tree_used)
         WHERE pid = ? AND exit IS NULL`,
        JSON.stringify(exit),
        result,
        exit.at,
        last?.turnCount ?? null,
        last ? JSON.stringify(last.usage) : null,
        last?.charged?.budgetUsed ?? null,
        last?.charged?.treeUsed ?? null,
        row.pid,
      ).rowsWritten > 0;
    if (!changed) return false;
    this.parentFacts.delete(row.pid);
    // A row with no exit is live: it leaves the live count, and a started one gives its parent's slot back.
    this.countLive(-1);
    if (row.started && row.parent_pid !== null) this.countStartedChild(row.parent_pid, -1);
    this.fx.feed.note("proc", row.pid);
    if (row.parent_pid !== null && Object.keys(budgetLimitOf(row)).length > 0) {
      // No longer live: what it had not used of its reservation is no longer promised.
      const now = this.sql.exec<Pick<ProcRow, "budget_limit" | "tree_used">>("SELECT budget_limit, tree_used FROM procs WHERE pid = ?", row.pid).one();
      adjustChildrenOutstanding(this.sql, row.parent_pid, subUse(zeroUse(), outstanding(budgetLimitOf(now), treeUsedOf(now))));
    }
    // Its final usage is charged (an exit report charges first): what it had not spent of its lease is free again.
    // (`row` was read in this synchronous run, so its lease is current.)
    releaseLease(this.sql, row.pid, row);
    const { audit, outbox } = this.fx;
    audit.append({
      actor,
      event: "terminate",
      pid: row.pid,
      ...(row.parent_pid ? { parentPid: row.parent_pid } : {}),
      ...(row.task_id ? { taskId: row.task_id } : {}),
      data: { agent: row.agent, code: exit.code, reason: exit.reason },
    });
    // A worker that never started has nothing to stop; its queued start is void (`started` never goes back to 0).
    if (!row.started) outbox.dropHeldStart(row.pid);
    if (stopObject && row.started) outbox.add(row.pid, { kind: "terminate", payload: exit });
    this.fx.closeWaits(row, exit);
    const hook = this.fx.postTerminate(row, exit);
    if (hook) outbox.add(row.pid, { kind: "post_terminate", payload: hook });
    // Read after the update above, so its counters (started_children) already count this exit; only
    // what the task's delivery and the queue need (a copilot's row carries its whole grant).
    const parent = row.parent_pid !== null ? this.parentOf(row.parent_pid) : null;
    if (row.task_id) this.endTask(row, parent, exit, result, last?.usage ?? (JSON.parse(row.usage) as Usage));
    if (parent) this.releaseQueuedChildren(parent);
    this.fx.onExit(row.pid);
    return true;
  }

  /**
   * A process exited on its own (its final usage already charged): its row records the last report
   * and the exit, and its live descendants are terminated, since no process outlives its parent.
   * False when it had already exited.
   */
  exitedOnItsOwn(row: ProcRow, exit: ExitStatus, result: string | null, report: LastReport): boolean {
    return this.store.transactionSync(() => {
      if (!this.markExited(row, exit, result, `process:${row.pid}`, false, report)) return false;
      // A worker that never delegated has no one to take with it: no tree walk.
      const parentOfAny = row.started_children > 0 || this.mayHaveQueued();
      for (const d of parentOfAny ? this.liveDescendants(row.pid) : []) {
        this.markExited(d, { code: ExitCode.terminated, reason: "parent exited", at: exit.at }, null, "kernel", true);
      }
      return true;
    });
  }

  /** kill(2): the process and, with `cascade`, every live descendant. */
  kill(row: ProcRow, request: KillRequest, actor: Actor): KillResult {
    const result: KillResult = { killed: [], alreadyExited: [] };
    this.store.transactionSync(() => {
      const code = signalCode(request.signal);
      const at = now();
      const targets = [row, ...(request.cascade ? this.liveDescendants(row.pid) : [])];
      for (const target of targets) {
        const reason = target.pid === row.pid ? (request.reason ?? `killed by ${request.signal}`) : `killed by ${request.signal}: ancestor ${row.pid} was killed`;
        if (this.markExited(target, { code, reason, at }, null, actor, true)) {
          result.killed.push(target.pid);
          this.fx.audit.append({ actor, event: "kill", pid: target.pid, data: { signal: request.signal, reason, cascadeFrom: target.pid === row.pid ? null : row.pid } });
        } else result.alreadyExited.push(target.pid);
      }
    });
    return result;
  }

  /** Cancels tasks: each worker and its descendants end with `delegation cancelled`; siblings go on. */
  cancelTasks(tasks: readonly TaskRow[], actor: Actor) {
    this.store.transactionSync(() => {
      for (const task of tasks) {
        const at = now();
        this.fx.audit.append({ actor, event: "cancel", pid: task.worker_pid, taskId: task.id, data: { copilotPid: task.copilot_pid } });
        const worker = this.get(task.worker_pid);
        if (!worker) continue;
        const reason = task.copilot_pid === null ? "task cancelled" : "delegation cancelled";
        for (const target of [worker, ...this.liveDescendants(worker.pid)]) {
          this.markExited(target, { code: ExitCode.terminated, reason, at }, null, actor, true);
        }
      }
    });
  }

  /** Cancels every unfinished task of a copilot; answers their ids. */
  cancelOpenTasks(copilotPid: number, actor: Actor): string[] {
    return this.store.transactionSync(() => {
      const open = this.fx.tasks.open(copilotPid);
      this.cancelTasks(open, actor);
      return open.map((t) => t.id);
    });
  }

  /**
   * wait(2)'s answer for a row: its exit status once exited, and then (with `reap`) the zombie is
   * reaped: `stopped`, audited once.
   */
  waitResult(row: ProcRow, actor: Actor, reap: boolean): WaitResult {
    const exit = exitOf(row);
    if (!exit) return { pid: row.pid, exited: false, state: row.state };
    if (row.state === "zombie" && reap) {
      this.store.transactionSync(() => {
        if (this.sql.exec("UPDATE procs SET state = 'stopped' WHERE pid = ? AND state = 'zombie'", row.pid).rowsWritten > 0) {
          this.fx.feed.note("proc", row.pid);
          this.fx.audit.append({ actor, event: "reap", pid: row.pid, data: {} });
        }
      });
    }
    const warnings = JSON.parse(row.warnings) as Warning[];
    return { pid: row.pid, exited: true, code: exit.code, reason: exit.reason, at: exit.at, result: row.result, ...(warnings.length ? { warnings } : {}) };
  }

  /** A worker's exit ends its task; the result goes to the copilot from the kernel's next alarm. */
  private endTask(worker: ProcRow, parent: ParentFacts | null, exit: ExitStatus, result: string | null, usage: Usage) {
    const task = this.fx.tasks.end(worker.task_id!, worker.pid, exit, result, delegationTermsOf(worker));
    // A top-level task (A2A) has no copilot to deliver to: its caller reads the task.
    if (!task || task.copilot_pid === null) return;
    const copilot = task.copilot_pid === parent?.pid ? parent : this.get(task.copilot_pid);
    if (copilot && isLive(copilot.state)) {
      this.fx.outbox.add(task.copilot_pid, { kind: "deliver", payload: { task: collectedOf(task, usage), delivery: task.delivery } }, { viaAlarm: true });
    }
  }

  /** Frees queued delegations of `parent` into the slots its maxChildren leaves. */
  private releaseQueuedChildren(parent: ParentFacts) {
    if (!isLive(parent.state) || !this.mayHaveQueued()) return;
    const free = limitsOf(parent).maxChildren - parent.started_children;
    if (free <= 0) return;
    const queued = this.sql
      .exec<{ pid: number }>(`SELECT pid FROM procs WHERE parent_pid = ? AND started = 0 AND state IN ${LIVE_SQL} ORDER BY pid LIMIT ?`, parent.pid, free)
      .toArray();
    for (const { pid } of queued) {
      this.sql.exec("UPDATE procs SET started = 1 WHERE pid = ?", pid);
      this.countStartedChild(parent.pid, +1);
      this.fx.outbox.release(pid);
    }
  }
}

function signalCode(signal: Signal): number {
  return signal === "SIGKILL" ? ExitCode.killed : ExitCode.terminated;
}
