import type { CollectedTask, CollectInput, CollectResult } from "../contracts/tasks";
import { isTerminalTask } from "../contracts/tasks";

/**
 * One collect (SPEC §7), for the tool and for `POST /v1/procs/:pid/collect` alike: `startCollect`
 * fixes what it waits for and until when, `settleCollect` answers once it is satisfied or past its
 * deadline (and marks the tasks it returns collected). The tool persists the wait in the loop state
 * and is settled again when the process wakes; the HTTP route holds the request and settles again
 * when a result is delivered.
 */

/** What a started collect waits for: its task set, fixed when it starts, and its deadline. */
export interface CollectWait {
  taskIds: string[];
  deadline: number;
}

/** The part of a copilot's inbox a collect reads and marks. */
export interface CollectInbox {
  uncollectedIds(): string[];
  unknown(ids: readonly string[]): string[];
  list(ids: readonly string[]): CollectedTask[];
  markCollected(tasks: readonly CollectedTask[]): void;
  /** A task's status that is not its end (a question asked, or answered). */
  applyStatus(task: CollectedTask): boolean;
}

/** How long a collect may wait: its default, and the most a caller may ask for. */
export interface CollectLimits {
  defaultMs: number;
  maxMs: number;
}
/** The tool waits inside the loop, without CPU: ten minutes unless it asks otherwise. */
export const TOOL_COLLECT: CollectLimits = { defaultMs: 10 * 60_000, maxMs: Infinity };
/** An HTTP collect holds its request: at most 60 s. */
export const HTTP_COLLECT: CollectLimits = { defaultMs: 60_000, maxMs: 60_000 };

/**
 * Starts a collect: the default task set (every task not yet collected) is fixed now, so results of
 * later delegations do not join it. Unknown task ids are refused.
 */
export function startCollect(
  inbox: CollectInbox,
  args: Pick<CollectInput, "taskIds" | "timeoutMs">,
  now: number,
  limits: CollectLimits,
): { ok: true; wait: CollectWait } | { ok: false; unknown: string[] } {
  const taskIds = args.taskIds ?? inbox.uncollectedIds();
  const unknown = inbox.unknown(taskIds);
  if (unknown.length) return { ok: false, unknown };
  return { ok: true, wait: { taskIds, deadline: now + Math.min(args.timeoutMs ?? limits.defaultMs, limits.maxMs) } };
}

/**
 * The answer of a started collect once its mode is satisfied, its deadline has passed, or a task of
 * its set needs input (SPEC §11: the copilot answers and collects again), else null: it waits on.
 * Its ended tasks are then marked collected, and the questions it returns seen.
 */
export function settleCollect(
  inbox: CollectInbox,
  wait: CollectWait,
  args: Pick<CollectInput, "mode" | "n">,
  now: number,
  maxChars: number,
): CollectResult | null {
  const tasks = inbox.list(wait.taskIds);
  const satisfied = collectSatisfied(tasks, args.mode, args.n);
  if (!satisfied && now < wait.deadline && !tasks.some(needsInput)) return null;
  inbox.markCollected(tasks);
  return collectResult(tasks, satisfied, maxChars);
}

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
  return satisfiedBy({ total: tasks.length, ended, completed }, mode, n);
}

/** How a collect's tasks stand, counted (`Inbox.counts`): what `collectSatisfied` decides on. */
export interface CollectCounts {
  total: number;
  ended: number;
  completed: number;
}

/** `collectSatisfied` over counts. */
export function satisfiedBy({ total, ended, completed }: CollectCounts, mode: CollectInput["mode"], n = 1): boolean {
  const want = Math.min(Math.max(1, n), total);
  switch (mode) {
    case "all":
      return ended === total;
    case "any":
      return total === 0 || ended >= 1;
    case "first_n":
      return ended >= want;
    case "quorum":
      return completed >= want || total - (ended - completed) < want;
  }
}

/** The kernel's view of a task now (its status), or null when it cannot be asked. */
export type TaskLookup = (taskId: string) => Promise<{ state: string; message?: string } | null>;

/**
 * A reply can land (over HTTP, by another actor) before its delivery reaches this copilot: the open
 * questions of a collect's set are checked with the kernel, and those no longer open there are working
 * again here (the late delivery then changes nothing), so a collect never returns for an answered question.
 */
export async function refreshQuestions(inbox: CollectInbox, ids: readonly string[], lookup: TaskLookup | undefined): Promise<void> {
  if (!lookup) return;
  for (const t of inbox.list(ids)) {
    if (!needsInput(t)) continue;
    const now = await lookup(t.taskId).catch(() => null);
    if (!now || (now.state === "input-required" && now.message === t.question)) continue;
    inbox.applyStatus({ taskId: t.taskId, pid: t.pid, agent: t.agent, state: "working", result: null, reason: null, usage: t.usage });
  }
}

/** A task whose worker waits for an answer to its question. */
export const needsInput = (t: CollectedTask): boolean => t.state === "input-required" && t.question !== undefined;

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
  const out: CollectResult = { completed: [], failed: [], canceled: [], pending: [], satisfied, inputRequired: [] };
  for (const task of tasks) {
    const t = task.result && task.result.length > share ? { ...task, result: `${task.result.slice(0, share)}… [cut: ${task.result.length - share} more characters; GET /v1/tasks/${task.taskId} has all of it]` } : task;
    if (t.state === "completed") out.completed.push(t);
    else if (t.state === "failed" || t.state === "rejected") out.failed.push(t);
    else if (t.state === "canceled") out.canceled.push(t);
    else out.pending.push(t);
    if (needsInput(t)) out.inputRequired.push({ taskId: t.taskId, pid: t.pid, question: t.question! });
  }
  return out;
}
