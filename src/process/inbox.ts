import type { CollectedTask, DeliveryPolicy, TaskState } from "../contracts/tasks";
import { isTerminalTask } from "../contracts/tasks";
import { zeroUsage } from "../contracts";
import { TERMINAL_TASK_SQL } from "../lib/sql-store";
import type { Sql } from "../lib/sql-store";

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
  constructor(private readonly sql: Sql) {
    sql.exec(`CREATE TABLE IF NOT EXISTS inbox (
      task_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
      result TEXT, reason TEXT, usage TEXT NOT NULL, delivery TEXT NOT NULL,
      injected INTEGER NOT NULL DEFAULT 0, collected INTEGER NOT NULL DEFAULT 0
    )`);
    // A worker's open question (SPEC §11): its text and call id, whether the model has seen it (in its
    // conversation or a collect), and the question ids already answered (deliveries come at least once, in any order).
    const columns = new Set(sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('inbox')").toArray().map((c) => c.name));
    if (!columns.has("question")) {
      sql.exec("ALTER TABLE inbox ADD COLUMN question TEXT");
      sql.exec("ALTER TABLE inbox ADD COLUMN question_id TEXT");
      sql.exec("ALTER TABLE inbox ADD COLUMN question_shown INTEGER NOT NULL DEFAULT 0");
      sql.exec("ALTER TABLE inbox ADD COLUMN answered TEXT NOT NULL DEFAULT '[]'");
    }
    sql.exec("CREATE INDEX IF NOT EXISTS inbox_seq ON inbox (seq)");
  }

  /** Whether this process has delegated anything (its descendants' usage then counts against its budget). */
  any(): boolean {
    return this.sql.exec("SELECT 1 FROM inbox LIMIT 1").toArray().length > 0;
  }

  /** A new delegation; false when it was already known. */
  record(task: { taskId: string; pid: number; agent: string; state: TaskState; result?: string | null; reason?: string | null; usage?: CollectedTask["usage"] }, delivery: DeliveryPolicy): boolean {
    // The next position from the index's last entry (one lookup), not a count of the rows (a scan per delegation).
    const seq = (this.sql.exec<{ n: number | null }>("SELECT max(seq) AS n FROM inbox").one().n ?? 0) + 1;
    return (
      this.sql.exec(
        "INSERT OR IGNORE INTO inbox (task_id, seq, worker_pid, agent, state, result, reason, usage, delivery) VALUES (?,?,?,?,?,?,?,?,?)",
        task.taskId,
        seq,
        task.pid,
        task.agent,
        task.state,
        task.result ?? null,
        task.reason ?? null,
        JSON.stringify(task.usage ?? zeroUsage()),
        delivery,
      ).rowsWritten > 0
    );
  }

  /** A task's final result; false when it was already applied (or the task is unknown). */
  applyResult(task: CollectedTask): boolean {
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
    const row = this.sql.exec<{ question_id: string | null }>("SELECT question_id FROM inbox WHERE task_id = ? AND state = 'input-required'", taskId).toArray()[0];
    if (!row) return;
    this.applyStatus({ taskId, pid: 0, agent: "", state: "working", result: null, reason: null, usage: zeroUsage(), ...(row.question_id ? { questionId: row.question_id } : {}) });
  }

  /** The tasks in delegation order, or the given ones in the given order (unknown ids are left out). */
  list(ids?: readonly string[]): CollectedTask[] {
    const rows = this.sql
      .exec<InboxRow>("SELECT task_id, worker_pid, agent, state, result, reason, usage, question FROM inbox ORDER BY seq")
      .toArray()
      .map((r) => ({
        taskId: r.task_id,
        pid: r.worker_pid,
        agent: r.agent,
        state: r.state as TaskState,
        result: r.result,
        reason: r.reason,
        usage: JSON.parse(r.usage),
        ...(r.question !== null ? { question: r.question } : {}),
      }));
    if (!ids) return rows;
    const byId = new Map(rows.map((r) => [r.taskId, r]));
    return ids.map((id) => byId.get(id)).filter((t): t is CollectedTask => t !== undefined);
  }

  unknown(ids: readonly string[]): string[] {
    const known = new Set(this.list(ids).map((t) => t.taskId));
    return ids.filter((id) => !known.has(id));
  }

  uncollectedIds(): string[] {
    return this.sql.exec<{ task_id: string }>("SELECT task_id FROM inbox WHERE collected = 0 ORDER BY seq").toArray().map((r) => r.task_id);
  }

  markCollected(tasks: readonly CollectedTask[]) {
    for (const t of tasks) {
      if (isTerminalTask(t.state)) this.sql.exec("UPDATE inbox SET collected = 1 WHERE task_id = ?", t.taskId);
      // A question a collect returned has been seen: it does not join the conversation as well.
      else if (t.question !== undefined) this.sql.exec("UPDATE inbox SET question_shown = 1 WHERE task_id = ?", t.taskId);
    }
  }

  /**
   * Open questions of immediate and deferred tasks the model has not seen yet (on_demand ones reach it
   * only through collect). Marks them shown.
   */
  takeQuestionsForConversation(): CollectedTask[] {
    const ids = this.sql
      .exec<{ task_id: string }>("SELECT task_id FROM inbox WHERE state = 'input-required' AND question IS NOT NULL AND question_shown = 0 AND delivery != 'on_demand' ORDER BY seq")
      .toArray()
      .map((r) => r.task_id);
    for (const id of ids) this.sql.exec("UPDATE inbox SET question_shown = 1 WHERE task_id = ?", id);
    return this.list(ids);
  }

  /**
   * Ended immediate and deferred tasks not yet shown to the model, unless a collect already returned
   * them; on_demand results only ever reach the model through collect. Marks them shown.
   */
  takeForConversation(): CollectedTask[] {
    const ids = this.sql
      .exec<{ task_id: string }>(`SELECT task_id FROM inbox WHERE injected = 0 AND collected = 0 AND delivery != 'on_demand' AND state IN ${TERMINAL_TASK_SQL} ORDER BY seq`)
      .toArray()
      .map((r) => r.task_id);
    for (const id of ids) this.sql.exec("UPDATE inbox SET injected = 1 WHERE task_id = ?", id);
    return this.list(ids);
  }
}
