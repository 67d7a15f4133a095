import { fail, isTerminalTask, ok, type Budget, type DeliveryPolicy, type ExitStatus, type Metadata, type Outcome, type Task } from "../contracts";
import { takePage, type Page } from "../lib/paging";
import type { Sql } from "../lib/sql-store";
import type { Actor, AuditLog } from "./audit-log";
import { mapRows, TERMINAL_TASK_SQL, type TaskRow } from "./rows";
import { taskOutcome, toTask } from "./tasks";

/** A delegation as it is recorded, in the spawn's transaction. */
export interface NewTask {
  id: string;
  copilotPid: number;
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
}

/**
 * The kernel's task table (SPEC §7): a task is `submitted` when made, `working` once its worker
 * started (`input-required` while the worker waits on a person, SPEC §11), and ends once, when its worker exits. A terminal state never changes: every write is
 * guarded by the state it leaves, and each change is audited in the same transaction.
 */
export class TaskStore {
  constructor(
    private readonly sql: Sql,
    private readonly audit: AuditLog,
  ) {}

  get(id: string): TaskRow | null {
    return this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE id = ?", id).toArray()[0] ?? null;
  }

  /** Tasks in creation order (a task's worker pid grows with it), a page at a time. */
  page(query: { copilotPid?: number; v1?: boolean; limit: number; cursor?: string }): Page<Task> {
    const after = Number(query.cursor ?? 0);
    const rows =
      query.copilotPid === undefined
        ? this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE worker_pid > ? ORDER BY worker_pid LIMIT ?", after, query.limit + 1)
        : this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE copilot_pid = ? AND worker_pid > ? ORDER BY worker_pid LIMIT ?", query.copilotPid, after, query.limit + 1);
    return takePage(mapRows(rows, (r) => toTask(r, query.v1 ?? false)), query.limit, (t) => t.metadata.workerPid);
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

  /** Records a delegation: the task (`submitted`), the `delegate` entry and the task's first state. */
  insert(t: NewTask, actor: Actor) {
    this.sql.exec(
      `INSERT INTO tasks (id, copilot_pid, worker_pid, agent, state, status_message, status_at, result, delivery, budget, requested, granted, metadata, created_at)
           VALUES (?,?,?,?,'submitted',NULL,?,NULL,?,?,?,?,?,?)`,
      t.id,
      t.copilotPid,
      t.workerPid,
      t.agent,
      t.at,
      t.delivery,
      JSON.stringify(t.budget),
      JSON.stringify(t.requested),
      JSON.stringify(t.granted),
      JSON.stringify(t.metadata),
      t.at,
    );
    this.audit.append({
      actor,
      event: "delegate",
      pid: t.copilotPid,
      taskId: t.id,
      data: { workerPid: t.workerPid, agent: t.agent, deliveryPolicy: t.delivery, requested: t.requested, granted: t.granted, queued: t.queued },
    });
    this.audit.append({ actor: "kernel", event: "task_state", pid: t.workerPid, taskId: t.id, data: { state: "submitted" } });
  }

  /** The worker started: `submitted` → `working`. False when the task had already moved on. */
  markWorking(id: string, workerPid: number, at = new Date().toISOString()): boolean {
    if (this.sql.exec("UPDATE tasks SET state = 'working', status_at = ? WHERE id = ? AND state = 'submitted'", at, id).rowsWritten === 0) return false;
    this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state: "working" } });
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
      return true;
    }
    if (task.state !== "input-required") return false;
    this.sql.exec("UPDATE tasks SET state = 'working', status_message = NULL, status_at = ? WHERE id = ?", at, id);
    this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state: "working" } });
    return true;
  }

  /**
   * The worker exited: the task takes its outcome, once. Answers the ended task, or null when it had
   * already ended (its terminal state stays as it was).
   */
  end(id: string, workerPid: number, exit: ExitStatus, result: string | null): TaskRow | null {
    const state = taskOutcome(exit);
    const message = state === "completed" ? null : exit.reason;
    const changed = this.sql.exec(
      `UPDATE tasks SET state = ?, status_message = ?, status_at = ?, result = ? WHERE id = ? AND state NOT IN ${TERMINAL_TASK_SQL}`,
      state,
      message,
      exit.at,
      result,
      id,
    ).rowsWritten;
    if (!changed) return null;
    this.audit.append({ actor: "kernel", event: "task_state", pid: workerPid, taskId: id, data: { state, ...(message ? { message } : {}) } });
    return this.get(id);
  }
}
