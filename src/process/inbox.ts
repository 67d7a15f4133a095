import type { CollectedTask, DeliveryPolicy, TaskState } from "../contracts/tasks";
import { isTerminalTask } from "../contracts/tasks";
import { zeroUsage } from "../contracts";
import { TERMINAL_TASK_SQL } from "../lib/sql-store";
import type { Sql } from "../lib/sql-store";
import type { CollectCounts } from "../agent/collect";
import { createInbox, INBOX_UNSHOWN_QUESTIONS, INBOX_UNSHOWN_RESULTS, tableNames } from "./schema";

/** An `inbox` row (the columns `list` reads). */
type InboxRow = {
  task_id: string;
  worker_pid: number;
  agent: string;
  state: string;
  result: string | null;
  reason: string | null;
  usage: string;
  question: string | null;
};

/**
 * A copilot's delegations, as its process object knows them: what `collect`, `list_tasks` and result
 * delivery read and write. The kernel's task table is the authority; results arrive here at least
 * once and are applied once, since a task's terminal state never changes.
 */
export class Inbox {
  /** Whether the inbox table exists (src/process/schema.ts: the first delegation makes it); undefined: not known. */
  private table: boolean | undefined = undefined;
  /** Whether any delegation is recorded; undefined until asked (or after a rolled-back transaction). */
  private rows: boolean | undefined = undefined;

  constructor(private readonly sql: Sql) {}

  /** What the store knows of the table (undefined: not known, its caller's transaction was rolled back). */
  knowTable(exists: boolean | undefined) {
    this.table = exists;
    this.rows = exists === false ? false : undefined;
  }

  /** Whether this process has delegated anything (its descendants' usage then counts against its budget). */
  any(): boolean {
    if (this.none()) return false;
    this.rows ??= this.sql.exec("SELECT 1 FROM inbox LIMIT 1").toArray().length > 0;
    return this.rows;
  }

  /** True when nothing is recorded (no table, or no rows); a statement only when that is not known. */
  private none(): boolean {
    if (this.table === undefined) {
      this.table = tableNames(this.sql).has("inbox");
      if (!this.table) this.rows = false;
    }
    return this.rows === false;
  }

  /** A new delegation; false when it was already known. */
  record(task: { taskId: string; pid: number; agent: string; state: TaskState; result?: string | null; reason?: string | null; usage?: CollectedTask["usage"] }, delivery: DeliveryPolicy): boolean {
    this.none();
    if (!this.table) {
      createInbox(this.sql);
      this.table = true;
    }
    // The next position from the index's last entry (one lookup), not a count of the rows (a scan per delegation).
    const written =
      this.sql.exec(
        "INSERT OR IGNORE INTO inbox (task_id, seq, worker_pid, agent, state, result, reason, usage, delivery) VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM inbox), ?, ?, ?, ?, ?, ?, ?)",
        task.taskId,
        task.pid,
        task.agent,
        task.state,
        task.result ?? null,
        task.reason ?? null,
        JSON.stringify(task.usage ?? zeroUsage()),
        delivery,
      ).rowsWritten > 0;
    if (written) this.rows = true;
    return written;
  }

  /** A task's final result; false when it was already applied (or the task is unknown). */
  applyResult(task: CollectedTask): boolean {
    if (this.none()) return false;
    return (
      this.sql.exec(
        `UPDATE inbox SET state = ?, result = ?, reason = ?, usage = ?, question = NULL WHERE task_id = ? AND state NOT IN ${TERMINAL_TASK_SQL}`,
        task.state,
        task.result,
        task.reason,
        JSON.stringify(task.usage),
        task.taskId,
      ).rowsWritten > 0
    );
  }

  /**
   * A task that is not ending: its worker asked a question (`input-required` with the question), or an
   * answer made it `working` again. Keyed by the question's id, so a repeated or late delivery changes
   * nothing: an answered question never opens again. False when nothing changed.
   */
  applyStatus(task: CollectedTask): boolean {
    if (this.none()) return false;
    const row = this.sql.exec<{ state: string; question_id: string | null; answered: string }>("SELECT state, question_id, answered FROM inbox WHERE task_id = ?", task.taskId).toArray()[0];
    if (!row || isTerminalTask(row.state as TaskState)) return false;
    const answered = JSON.parse(row.answered) as string[];
    if (task.state === "input-required" && task.question) {
      const id = task.questionId ?? `text:${task.question}`;
      if (answered.includes(id) || (row.state === "input-required" && row.question_id === id)) return false;
      this.sql.exec("UPDATE inbox SET state = 'input-required', question = ?, question_id = ?, question_shown = 0 WHERE task_id = ?", task.question, id, task.taskId);
      return true;
    }
    if (task.state === "working") {
      // The answer to `questionId` (or, without one, to whatever is open) arrived: the task works again.
      const id = task.questionId ?? row.question_id;
      if (id && !answered.includes(id)) answered.push(id);
      const closes = row.state === "input-required" && (task.questionId === undefined || row.question_id === task.questionId);
      this.sql.exec(
        `UPDATE inbox SET answered = ?${closes ? ", state = 'working', question = NULL" : ""} WHERE task_id = ?`,
        JSON.stringify(answered),
        task.taskId,
      );
      return closes;
    }
    return false;
  }

  /** This copilot answered the task's open question (reply_task): it works again, here at once. */
  markAnswered(taskId: string) {
    if (this.none()) return;
    const row = this.sql.exec<{ question_id: string | null }>("SELECT question_id FROM inbox WHERE task_id = ? AND state = 'input-required'", taskId).toArray()[0];
    if (!row) return;
    this.applyStatus({ taskId, pid: 0, agent: "", state: "working", result: null, reason: null, usage: zeroUsage(), ...(row.question_id ? { questionId: row.question_id } : {}) });
  }

  /** The tasks in delegation order, or the given ones in the given order (unknown ids are left out). */
  list(ids?: readonly string[]): CollectedTask[] {
    if (this.none()) return [];
    const rows = this.sql.exec<InboxRow>(`SELECT ${COLUMNS} FROM inbox ORDER BY seq`).toArray().map(toTask);
    if (!ids) return rows;
    const byId = new Map(rows.map((r) => [r.taskId, r]));
    return ids.map((id) => byId.get(id)).filter((t): t is CollectedTask => t !== undefined);
  }

  /** How the tasks `ids` stand, counted in SQLite (no row reaches JavaScript); `asking`: questions open. */
  counts(ids: readonly string[]): CollectCounts & { asking: number } {
    if (this.none()) return { total: 0, ended: 0, completed: 0, asking: 0 };
    return this.sql
      .exec<{ total: number; ended: number; completed: number; asking: number }>(
        `SELECT count(*) AS total, count(*) FILTER (WHERE state IN ${TERMINAL_TASK_SQL}) AS ended, count(*) FILTER (WHERE state = 'completed') AS completed,
           count(*) FILTER (WHERE state = 'input-required' AND question IS NOT NULL) AS asking
         FROM inbox WHERE task_id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(ids),
      )
      .one();
  }

  unknown(ids: readonly string[]): string[] {
    const known = new Set(this.list(ids).map((t) => t.taskId));
    return ids.filter((id) => !known.has(id));
  }

  uncollectedIds(): string[] {
    if (this.none()) return [];
    return this.sql.exec<{ task_id: string }>("SELECT task_id FROM inbox WHERE collected = 0 ORDER BY seq").toArray().map((r) => r.task_id);
  }

  markCollected(tasks: readonly CollectedTask[]) {
    if (this.none()) return;
    this.updateEach("collected = 1", tasks.filter((t) => isTerminalTask(t.state)).map((t) => t.taskId));
    // A question a collect returned has been seen: it does not join the conversation as well.
    this.updateEach("question_shown = 1", tasks.filter((t) => !isTerminalTask(t.state) && t.question !== undefined).map((t) => t.taskId));
  }

  /** `SET <set>` on the given tasks, a statement per 90 of them rather than one each. */
  private updateEach(set: string, ids: readonly string[]) {
    for (let i = 0; i < ids.length; i += MAX_IDS_PER_STATEMENT) {
      const chunk = ids.slice(i, i + MAX_IDS_PER_STATEMENT);
      this.sql.exec(`UPDATE inbox SET ${set} WHERE task_id IN (${chunk.map(() => "?").join(", ")})`, ...chunk);
    }
  }

  /**
   * Open questions of immediate and deferred tasks the model has not seen yet (on_demand ones reach it
   * only through collect). Marks them shown. One statement, over a partial index of exactly these rows.
   */
  takeQuestionsForConversation(): CollectedTask[] {
    if (this.none()) return [];
    return this.take(`UPDATE inbox SET question_shown = 1 WHERE ${INBOX_UNSHOWN_QUESTIONS} RETURNING seq, ${COLUMNS}`);
  }

  /**
   * Ended immediate and deferred tasks not yet shown to the model, unless a collect already returned
   * them; on_demand results only ever reach the model through collect. Marks them shown. One
   * statement, over a partial index of exactly these rows.
   */
  takeForConversation(): CollectedTask[] {
    if (this.none()) return [];
    return this.take(`UPDATE inbox SET injected = 1 WHERE ${INBOX_UNSHOWN_RESULTS} RETURNING seq, ${COLUMNS}`);
  }

  private take(update: string): CollectedTask[] {
    // RETURNING's order is unspecified: delegation order is restored here.
    const rows = this.sql.exec<InboxRow & { seq: number }>(update).toArray();
    return rows.sort((a, b) => a.seq - b.seq).map(toTask);
  }
}

/** Bound values per statement (SQLite in a Durable Object takes at most 100). */
const MAX_IDS_PER_STATEMENT = 90;

const COLUMNS = "task_id, worker_pid, agent, state, result, reason, usage, question";

function toTask(r: InboxRow): CollectedTask {
  return {
    taskId: r.task_id,
    pid: r.worker_pid,
    agent: r.agent,
    state: r.state as TaskState,
    result: r.result,
    reason: r.reason,
    usage: JSON.parse(r.usage),
    ...(r.question !== null ? { question: r.question } : {}),
  };
}
