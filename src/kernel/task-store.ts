import { fail, isTerminalTask, ok, type Budget, type DeliveryPolicy, type ExitStatus, type Metadata, type Outcome, type Task, type TaskState } from "../contracts";
import { takePage, type Page } from "../lib/paging";
import type { Sql } from "../lib/sql-store";
import type { Actor, AuditLog } from "./audit-log";
import type { FeedLog } from "./tenant-feed";
import { mapRows, TERMINAL_TASK_SQL, type TaskRow } from "./rows";
import { taskOutcome, toTask } from "./tasks";

/** A delegation (or a top-level A2A task) as it is recorded, in the spawn's transaction. */
export interface NewTask {
  id: string;
  /** Null: the task of a top-level process spawned over A2A (SPEC §12). */
  copilotPid: number | null;
  workerPid: number;
  agent: string;
  delivery: DeliveryPolicy;
  budget: Budget;
  requested: Record<string, unknown>;
  granted: Record<string, unknown>;
  /** The delegation's own metadata. */
  metadata: Metadata;
  at: string;
  /** The worker waits for a free maxChildren slot. */
  queued: boolean;
  /**
   * Its worker's start order is written with it and goes out at once (`Spawner.commit`): the task is
   * `working` from this commit on, so the start's landing has nothing to write to it. Both states are
   * audited here, as they would be one after the other.
   */
  working?: boolean;
}

/** Which tasks a list or a count is about. */
export interface TaskQuery {
  copilotPid?: number;
  /** Tasks worked on by this agent (the A2A endpoint of an agent lists its own). */
  agent?: string;
  state?: TaskState;
  v1?: boolean;
}

/** What an ended task's delivery to its copilot needs (`TaskStore.end`). */
export type EndedTask = Pick<TaskRow, "id" | "copilot_pid" | "worker_pid" | "agent" | "state" | "result" | "status_message" | "delivery">;
const ENDED_COLUMNS = "id, copilot_pid, worker_pid, agent, state, result, status_message, delivery";

/**
 * The kernel's task table (SPEC §7): a task is `submitted` when made, `working` once its worker
 * started (a delegation whose worker starts at once is written `working`: its start order is durable
 * with it), and ends once, when its worker exits. It is `input-required` while its worker waits on a
 * person (an approval or a question, SPEC §11), and a top-level process's task (A2A, §12) also while
 * its process sleeps for the caller's next message. A terminal state never changes: every write is
 * guarded by the state it leaves, and each change is audited in the same transaction.
 */
export class TaskStore {
  /** @param changed told after every state change of a task (A2A callers waiting for its next state) */
  constructor(
    private readonly sql: Sql,
    private readonly audit: AuditLog,
    private readonly feed: FeedLog | null = null,
    /** A task's state changed (an A2A caller may be waiting for it). */
    private readonly onChange: (id: string) => void = () => {},
  ) {}

  /** A task was made or its state was set: the feed announces it, its waiters look. */
  private changed(id: string) {
    this.feed?.note("task", id);
    this.onChange(id);
  }

  /** Whether the task is still in `seen`'s state, begun at `seen.timestamp` (an A2A caller follows it). */
  isAt(id: string, seen: { state: string; timestamp: string }): boolean {
    const row = this.get(id);
    return row !== null && row.state === seen.state && row.status_at === seen.timestamp;
  }

  get(id: string): TaskRow | null {
    return this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE id = ?", id).toArray()[0] ?? null;
  }

  /** Several tasks in one read, by id. */
  getMany(ids: readonly string[]): Map<string, TaskRow> {
    const rows = new Map<string, TaskRow>();
    if (ids.length === 0) return rows;
    for (const row of this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE id IN (SELECT value FROM json_each(?))", JSON.stringify(ids))) rows.set(row.id, row);
    return rows;
  }

  /** Tasks in creation order (a task's worker pid grows with it), a page at a time. */
  page(query: TaskQuery & { limit: number; cursor?: string }): Page<Task> {
    const { where, bindings } = filterOf(query);
    const rows = this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE worker_pid > ?${where} ORDER BY worker_pid LIMIT ?`, Number(query.cursor ?? 0), ...bindings, query.limit + 1);
    return takePage(mapRows(rows, (r) => toTask(r, query.v1 ?? false)), query.limit, (t) => t.metadata.workerPid);
  }

  /** How many tasks a query matches, over all its pages. */
  count(query: TaskQuery): number {
    const { where, bindings } = filterOf(query);
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM tasks WHERE 1 = 1${where}`, ...bindings).one().n;
  }

  /** A copilot's tasks that have not ended, in creation order. */
  open(copilotPid: number): TaskRow[] {
    return this.sql.exec<TaskRow>(`SELECT * FROM tasks WHERE copilot_pid = ? AND state NOT IN ${TERMINAL_TASK_SQL} ORDER BY worker_pid`, copilotPid).toArray();
  }

  /** The task a cancel names, if it may be cancelled: 404 when unknown (or not the copilot's), 409 once ended. */
  cancelable(id: string, copilotPid?: number): Outcome<TaskRow> {
    const task = this.get(id);
    if (!task || (copilotPid !== undefined && task.copilot_pid !== copilotPid)) return fail(404, "task_not_found", "No such task.");
    if (isTerminalTask(task.state)) return fail(409, "task_not_cancelable", `Task ${id} has already ended (${task.state}).`, { state: task.state });
    return ok(task);
  }

  /** Records a task (`submitted`, or `working` when its worker starts with it) and its states, and for a delegation the `delegate` entry. */
  insert(t: NewTask, actor: Actor) {
    this.sql.exec(
      `INSERT INTO tasks (id, copilot_pid, worker_pid, agent, state, status_message, status_at, result, delivery, budget, requested, granted, metadata, created_at)
           VALUES (?,?,?,?,?,NULL,?,NULL,?,?,?,?,?,?)`,
      t.id,
      t.copilotPid,
      t.workerPid,
      t.agent,
      t.working ? "working" : "submitted",
      t.at,
      t.delivery,
      JSON.stringify(t.budget),
      JSON.stringify(t.requested),
      JSON.stringify(t.granted),
      JSON.stringify(t.metadata),
      t.at,
    );
    if (t.copilotPid !== null) {
      this.audit.append({
        actor,
        event: "delegate",
        pid: t.copilotPid,
        taskId: t.id,
        data: { workerPid: t.workerPid, agent: t.agent, deliveryPolicy: t.delivery, requested: t.requested, granted: t.granted, queued: t.queued },
      });
    }
    this.audit.append({ actor: "kernel", event: "task_state", pid: t.workerPid, taskId: t.id, data: { state: "submitted" } });
    if (t.working) this.audit.append({ actor: "kernel", event: "task_state", pid: t.workerPid, taskId: t.id, data: { state: "working" } });
    this.changed(t.id);
  }

  /** The worker started: `submitted` → `working`. False when the task had already moved on. */
  markWorking(id: string, workerPid: number, at = new Date().toISOString()): boolean {
    return this.markWorkingMany([{ id, workerPid }], at) === 1;
  }

  /** Workers started together (a batch of starts landed): one update for all; answers how many moved. */
  markWorkingMany(started: readonly { id: string; workerPid: number }[], at = new Date().toISOString()): number {
    if (started.length === 0) return 0;
    const moved = this.sql
      .exec<{ id: string }>("UPDATE tasks SET state = 'working', status_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND state = 'submitted' RETURNING id", at, JSON.stringify(started.map((s) => s.id)))
      .toArray();
    const ids = new Set(moved.map((m) => m.id));
    // In the order given (RETURNING's order is not), so the audit chain reads as the starts landed.
    const landed = started.filter((s) => ids.has(s.id));
    for (const { id, workerPid } of landed) this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state: "working" } });
    this.feed?.noteMany("task", landed.map((s) => s.id));
    for (const { id } of landed) this.onChange(id);
    return ids.size;
  }

  /**
   * A top-level task's process waits for its caller's next message (an interactive agent's answer):
   * `working` → `input-required`, the answer as the status message. Once per wait: false when the
   * task was not working (already waiting, or ended).
   */
  awaitInput(id: string, pid: number, message: string | null, at = new Date().toISOString()): boolean {
    const sql = "UPDATE tasks SET state = 'input-required', status_message = ?, status_at = ? WHERE id = ? AND state = 'working' AND copilot_pid IS NULL";
    if (this.sql.exec(sql, message, at, id).rowsWritten === 0) return false;
    this.audit.append({ actor: "kernel", event: "task_state", pid, taskId: id, data: { state: "input-required" } });
    this.changed(id);
    return true;
  }

  /**
   * What a process's report says of its top-level task: sleeping for its next message (`awaiting`)
   * or at work. Delegations are left as they are (§7: a worker's task is working until it exits).
   * A process that waits on a person (`onPerson`: an open question, a pending approval) reports no
   * `awaiting` but is not at work: its task stays `input-required` as `setWaiting` made it.
   */
  followReport(id: string, pid: number, awaiting: { message: string | null } | undefined, onPerson = false) {
    if (awaiting) this.awaitInput(id, pid, awaiting.message);
    else if (!onPerson) this.resumeWork(id, pid);
  }

  /** The waiting process got its message and runs again: `input-required` → `working`. */
  resumeWork(id: string, pid: number, at = new Date().toISOString()): boolean {
    const sql = "UPDATE tasks SET state = 'working', status_message = NULL, status_at = ? WHERE id = ? AND state = 'input-required' AND copilot_pid IS NULL";
    if (this.sql.exec(sql, at, id).rowsWritten === 0) return false;
    this.audit.append({ actor: "kernel", event: "task_state", pid, taskId: id, data: { state: "working" } });
    this.changed(id);
    return true;
  }

  /**
   * The worker waits on a person (`message` says for what: `input-required`) or no longer does
   * (null: `working` again). Never touches an ended task; each change of state is audited. True when
   * the task changed.
   */
  setWaiting(id: string, workerPid: number, message: string | null, at = new Date().toISOString()): boolean {
    const task = this.get(id);
    if (!task) return false;
    if (message !== null) {
      // `submitted` too: the worker may ask before the kernel has recorded its start.
      if (!["submitted", "working", "input-required"].includes(task.state)) return false;
      if (task.state === "input-required" && task.status_message === message) return false;
      this.sql.exec("UPDATE tasks SET state = 'input-required', status_message = ?, status_at = ? WHERE id = ?", message, at, id);
      if (task.state !== "input-required") this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state: "input-required", message } });
      this.changed(id);
      return true;
    }
    if (task.state !== "input-required") return false;
    this.sql.exec("UPDATE tasks SET state = 'working', status_message = NULL, status_at = ? WHERE id = ?", at, id);
    this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state: "working" } });
    this.changed(id);
    return true;
  }

  /**
   * The worker exited: the task takes its outcome, once. Answers the ended task, or null when it had
   * already ended (its terminal state stays as it was). With `known` (a delegation's terms, from its
   * worker's row: `delegationTermsOf`) the answer is built without reading the task back.
   */
  end(id: string, workerPid: number, exit: ExitStatus, result: string | null, known?: Pick<TaskRow, "copilot_pid" | "agent" | "delivery">): EndedTask | null {
    const state = taskOutcome(exit);
    const message = state === "completed" ? null : exit.reason;
    // Not `RETURNING *`: a statement with RETURNING keeps a statement journal (docs/architecture.md).
    const changed = this.sql.exec(`UPDATE tasks SET state = ?, status_message = ?, status_at = ?, result = ? WHERE id = ? AND state NOT IN ${TERMINAL_TASK_SQL}`, state, message, exit.at, result, id).rowsWritten;
    // Read back, only what a delivery needs: the row's requested and granted capabilities and metadata are the bulk of it.
    const ended = !changed
      ? null
      : known
        ? { id, worker_pid: workerPid, state, result, status_message: message, ...known }
        : (this.sql.exec<EndedTask>(`SELECT ${ENDED_COLUMNS} FROM tasks WHERE id = ?`, id).toArray()[0] ?? null);
    if (!ended) return null;
    this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state, ...(message ? { message } : {}) } });
    this.changed(id);
    return ended;
  }
}

function filterOf(query: TaskQuery): { where: string; bindings: unknown[] } {
  let where = "";
  const bindings: unknown[] = [];
  if (query.copilotPid !== undefined) {
    where += " AND copilot_pid = ?";
    bindings.push(query.copilotPid);
  }
  if (query.agent !== undefined) {
    where += " AND agent = ?";
    bindings.push(query.agent);
  }
  if (query.state !== undefined) {
    where += " AND state = ?";
    bindings.push(query.state);
  }
  return { where, bindings };
}
