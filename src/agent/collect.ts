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

/** The collect answer: tasks by outcome, the unfinished ones named in `pending`. */
export function collectResult(tasks: readonly CollectedTask[], satisfied: boolean): CollectResult {
  const out: CollectResult = { completed: [], failed: [], canceled: [], pending: [], satisfied };
  for (const t of tasks) {
    if (t.state === "completed") out.completed.push(t);
    else if (t.state === "failed" || t.state === "rejected") out.failed.push(t);
    else if (t.state === "canceled") out.canceled.push(t);
    else out.pending.push(t);
  }
  return out;
}
