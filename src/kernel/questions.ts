import { fail, isLive, isTerminalTask, ok, type CollectedTask, type InputRoute, type Outcome, type Usage } from "../contracts";
import type { SqlStore } from "../lib/sql-store";
import type { Actor, AuditLog } from "./audit-log";
import type { Outbox } from "./outbox";
import type { ProcRow, QuestionRow } from "./rows";
import type { TaskStore } from "./task-store";
import type { FeedLog } from "./tenant-feed";

export interface QuestionDeps {
  store: SqlStore;
  audit: AuditLog;
  feed: FeedLog;
  tasks: TaskStore;
  outbox: Outbox;
}

const now = () => new Date().toISOString();
const noTask = () => fail(404, "task_not_found", "No such task.");

/** How much of an asked call's arguments a task's status message shows. */
const ARGUMENTS_SHOWN = 200;

/**
 * What a worker's task says while its worker waits on a person: its oldest open question, else its
 * oldest pending approval (its tool, the start of its arguments, its id and the rule's reason: what
 * a reader of the task, an A2A client among them, needs to decide), else nothing (it works). Null
 * when it does not wait. `arguments` is the approval row's JSON text.
 */
export function waitMessage(question: string | null, approval: { id: string; tool: string; reason: string; arguments?: string } | null): string | null {
  if (question !== null) return question;
  if (!approval) return null;
  const args = approval.arguments === undefined ? "" : approval.arguments.length > ARGUMENTS_SHOWN ? ` ${approval.arguments.slice(0, ARGUMENTS_SHOWN)}…` : ` ${approval.arguments}`;
  return `Waiting for a person to approve ${approval.tool}${args} (approval ${approval.id}): ${approval.reason}`;
}

/**
 * Questions (`request_input`, SPEC §11). Each is a row keyed by (pid, tool call id), kept once
 * answered, so a process that asks again after a crash gets the same question, or its answer again,
 * never a second question. A worker's question makes its task `input-required` and reaches its
 * copilot like a result (the `deliver` outbox kind, by delivery policy); its answer comes by
 * `reply_task` or `POST /v1/tasks/:id/reply` and reaches the worker through the `input` outbox kind.
 * A top-level process's question is its row's `pendingInput` until a message answers it.
 */
export class Questions {
  constructor(
    private readonly deps: QuestionDeps,
    /** Recomputes whether a worker's task waits on a person (questions or approvals). */
    private readonly syncTask: (pid: number) => void,
    /** The oldest pending approval of a process, to point a reply that cannot answer at it. */
    private readonly pendingApproval: (pid: number) => string | null,
  ) {}

  private get sql() {
    return this.deps.store.sql;
  }

  get(pid: number, toolCallId: string): QuestionRow | null {
    return this.sql.exec<QuestionRow>("SELECT * FROM questions WHERE pid = ? AND tool_call_id = ?", pid, toolCallId).toArray()[0] ?? null;
  }

  /** The oldest unanswered question of a process. */
  firstOpen(pid: number): QuestionRow | null {
    return this.sql.exec<QuestionRow>("SELECT * FROM questions WHERE pid = ? AND answered_at IS NULL ORDER BY asked_at, rowid LIMIT 1", pid).toArray()[0] ?? null;
  }

  /**
   * A process asks. Idempotent on (pid, tool call id): asked again, the question stays as it is; once
   * answered, a worker gets the answer delivered again (it may not have recorded it before a crash).
   * An exited process's question is not recorded.
   */
  ask(row: ProcRow, toolCallId: string, question: string): InputRoute {
    const route: InputRoute = row.task_id ? { kind: "task", taskId: row.task_id } : { kind: "person" };
    if (row.exit) return route;
    this.deps.store.transactionSync(() => {
      const known = this.get(row.pid, toolCallId);
      if (known) {
        if (known.answered_at !== null && known.answer !== null && row.task_id) this.sendAnswer(row.pid, known);
        return;
      }
      const at = now();
      this.sql.exec("INSERT INTO questions (pid, tool_call_id, task_id, question, asked_at) VALUES (?,?,?,?,?)", row.pid, toolCallId, row.task_id, question, at);
      this.deps.audit.append({
        actor: `process:${row.pid}`,
        event: "input_requested",
        pid: row.pid,
        ...(row.task_id ? { taskId: row.task_id } : {}),
        data: { toolCallId, question, askedOf: row.task_id ? "copilot" : "person" },
      });
      if (!row.task_id) {
        this.sql.exec("UPDATE procs SET pending_input = ?, updated_at = ? WHERE pid = ?", JSON.stringify({ question, toolCallId }), at, row.pid);
        this.deps.feed.note("proc", row.pid);
        return;
      }
      this.syncTask(row.pid);
      this.tellCopilot(row, { state: "input-required", question, questionId: toolCallId });
    });
    return route;
  }

  /**
   * Answers a task's oldest open question. `copilotPid` (the reply_task tool) must own the task.
   * `409 task_not_waiting` unless the task is `input-required` on a question (one waiting on an
   * approval is answered by deciding the approval). `idempotencyKey` (the reply_task call's id): a
   * reply already made under it answers the task as it is now, so a copilot's step re-run after a crash
   * does not see its own answer as `task_not_waiting`.
   */
  reply(taskId: string, message: string, opts: { copilotPid?: number; actor: Actor; idempotencyKey?: string }): Outcome<{ taskId: string; state: string }> {
    const task = this.deps.tasks.get(taskId);
    if (!task || (opts.copilotPid !== undefined && task.copilot_pid !== opts.copilotPid)) return noTask();
    const key = opts.idempotencyKey ? `reply:${opts.copilotPid ?? "api"}:${opts.idempotencyKey}` : null;
    if (key && this.sql.exec("SELECT 1 FROM idempotency WHERE key = ?", key).toArray().length) return ok({ taskId, state: task.state });
    const open = isTerminalTask(task.state) ? null : this.firstOpen(task.worker_pid);
    if (!open) {
      const approval = isTerminalTask(task.state) ? null : this.pendingApproval(task.worker_pid);
      const why = approval
        ? `Task ${taskId} waits for a decision on approval ${approval}, not for an answer: decide it with POST /v1/approvals/${approval}.`
        : `Task ${taskId} is not waiting for input (it is ${task.state}).`;
      return fail(409, "task_not_waiting", why, { state: task.state, ...(approval ? { approvalId: approval } : {}) });
    }
    this.deps.store.transactionSync(() => {
      this.sql.exec("UPDATE questions SET answer = ?, answered_by = ?, answered_at = ? WHERE pid = ? AND tool_call_id = ? AND answered_at IS NULL", message, opts.actor, now(), open.pid, open.tool_call_id);
      if (key) this.sql.exec("INSERT INTO idempotency (key, pid) VALUES (?, ?)", key, open.pid);
      this.deps.audit.append({ actor: opts.actor, event: "input_provided", pid: open.pid, taskId, data: { toolCallId: open.tool_call_id, answer: message } });
      this.syncTask(open.pid);
      this.sendAnswer(open.pid, { ...open, answer: message, answered_by: opts.actor });
      // The copilot's view of the task must learn the question is answered, whoever answered it.
      const worker = this.sql.exec<ProcRow>("SELECT * FROM procs WHERE pid = ?", open.pid).toArray()[0];
      // An answered question is told as `working` without `question` (another open one was told on its own).
      if (worker) this.tellCopilot(worker, { state: "working", questionId: open.tool_call_id });
    });
    return ok({ taskId, state: this.deps.tasks.get(taskId)!.state });
  }

  /** A top-level question was answered by a message: the row forgets it. Idempotent. */
  provided(pid: number, toolCallId: string, actor: Actor, answer?: string) {
    this.deps.store.transactionSync(() => {
      const changed = this.sql.exec(
        "UPDATE questions SET answer = ?, answered_by = ?, answered_at = ? WHERE pid = ? AND tool_call_id = ? AND answered_at IS NULL",
        answer ?? null,
        actor,
        now(),
        pid,
        toolCallId,
      ).rowsWritten;
      if (!changed) return;
      this.clearPending(pid);
      this.deps.audit.append({ actor, event: "input_provided", pid, data: { toolCallId, ...(answer !== undefined ? { answer } : {}) } });
    });
  }

  /** An exited process has no open question to show. */
  clearPending(pid: number) {
    if (this.sql.exec("UPDATE procs SET pending_input = NULL WHERE pid = ? AND pending_input IS NOT NULL", pid).rowsWritten > 0) this.deps.feed.note("proc", pid);
  }

  /** The answer goes to the asking worker while it lives (at least once, from the alarm). */
  private sendAnswer(pid: number, q: Pick<QuestionRow, "tool_call_id" | "answer" | "answered_by">) {
    const live = this.sql.exec("SELECT 1 FROM procs WHERE pid = ? AND exit IS NULL", pid).toArray().length > 0;
    if (live) this.deps.outbox.add(pid, { kind: "input", payload: { toolCallId: q.tool_call_id, answer: q.answer ?? "", by: q.answered_by ?? "kernel" } }, { viaAlarm: true });
  }

  /**
   * A question, or its answer, reaches the copilot like a result does, by its delivery policy; never
   * terminal. `questionId` (the asking call's id) lets the copilot apply deliveries that arrive twice
   * or out of order.
   */
  private tellCopilot(worker: ProcRow, what: { state: CollectedTask["state"]; question?: string; questionId: string }) {
    const task = this.deps.tasks.get(worker.task_id!);
    // A top-level task (A2A, §12) has no copilot: its asker reads the task itself.
    if (!task || task.copilot_pid === null) return;
    const copilot = this.sql.exec<Pick<ProcRow, "state">>("SELECT state FROM procs WHERE pid = ?", task.copilot_pid).toArray()[0];
    if (!copilot || !isLive(copilot.state)) return;
    const collected: CollectedTask = {
      taskId: task.id,
      pid: worker.pid,
      agent: task.agent,
      state: what.state,
      result: null,
      reason: null,
      usage: JSON.parse(worker.usage) as Usage,
      ...(what.question !== undefined ? { question: what.question } : {}),
      questionId: what.questionId,
    };
    this.deps.outbox.add(task.copilot_pid, { kind: "deliver", payload: { task: collected, delivery: task.delivery } }, { viaAlarm: true });
  }
}
