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
  }

  /** A new delegation; false when it was already known. */
  record(task: { taskId: string; pid: number; agent: string; state: TaskState; result?: string | null; reason?: string | null; usage?: CollectedTask["usage"] }, delivery: DeliveryPolicy): boolean {
    const seq = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM inbox").one().n + 1;
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
        `UPDATE inbox SET state = ?, result = ?, reason = ?, usage = ? WHERE task_id = ? AND state NOT IN ${TERMINAL_TASK_SQL}`,
        task.state,
        task.result,
        task.reason,
        JSON.stringify(task.usage),
        task.taskId,
      ).rowsWritten > 0
    );
  }

  /** The tasks in delegation order, or the given ones in the given order (unknown ids are left out). */
  list(ids?: readonly string[]): CollectedTask[] {
    const rows = this.sql
      .exec<InboxRow>("SELECT task_id, worker_pid, agent, state, result, reason, usage FROM inbox ORDER BY seq")
      .toArray()
      .map((r) => ({ taskId: r.task_id, pid: r.worker_pid, agent: r.agent, state: r.state as TaskState, result: r.result, reason: r.reason, usage: JSON.parse(r.usage) }));
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
    for (const t of tasks) if (isTerminalTask(t.state)) this.sql.exec("UPDATE inbox SET collected = 1 WHERE task_id = ?", t.taskId);
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
