import type { CollectedTask, CollectInput, CollectResult } from "../contracts/tasks";
import { isTerminalTask } from "../contracts/tasks";

/**
 * Whether a collect over `tasks` is satisfied (SPEC §7):
 * - all: every task has ended;
 * - any: at least one has ended;
 * - first_n: at least n have ended (n is clamped to the number of tasks);
 * - quorum: at least n completed, or so many ended otherwise that n can no longer complete.
 */
export function collectSatisfied(tasks: readonly CollectedTask[], mode: CollectInput["mode"], n = 1): boolean {
  const ended = tasks.filter((t) => isTerminalTask(t.state)).length;
  const completed = tasks.filter((t) => t.state === "completed").length;
  const want = Math.min(Math.max(1, n), tasks.length);
  switch (mode) {
    case "all":
      return ended === tasks.length;
    case "any":
      return tasks.length === 0 || ended >= 1;
    case "first_n":
      return ended >= want;
    case "quorum":
      return completed >= want || tasks.length - (ended - completed) < want;
  }
}

/** The largest collect answer as a tool result (it joins the copilot's conversation) and over HTTP. */
export const MAX_COLLECT_TOOL_CHARS = 1024 * 1024;
export const MAX_COLLECT_HTTP_CHARS = 8 * 1024 * 1024;

/**
 * The collect answer: tasks by outcome, the unfinished ones named in `pending`. When the results
 * together exceed `maxChars`, each is cut to an equal share with a note naming where the whole of it
 * is (the task), so a fan-out of many large answers still fits one answer.
 */
export function collectResult(tasks: readonly CollectedTask[], satisfied: boolean, maxChars = Infinity): CollectResult {
  const total = tasks.reduce((n, t) => n + (t.result?.length ?? 0), 0);
  const share = total > maxChars * 0.9 ? Math.max(256, Math.floor((maxChars * 0.9) / Math.max(1, tasks.length)) - 200) : Infinity;
  const out: CollectResult = { completed: [], failed: [], canceled: [], pending: [], satisfied };
  for (const task of tasks) {
    const t = task.result && task.result.length > share ? { ...task, result: `${task.result.slice(0, share)}… [cut: ${task.result.length - share} more characters; GET /v1/tasks/${task.taskId} has all of it]` } : task;
    if (t.state === "completed") out.completed.push(t);
    else if (t.state === "failed" || t.state === "rejected") out.failed.push(t);
    else if (t.state === "canceled") out.canceled.push(t);
    else out.pending.push(t);
  }
  return out;
}
