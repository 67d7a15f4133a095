import type { CollectedTask, DeliveryPolicy } from "../contracts";
import { isTerminalTask } from "../contracts/tasks";
import { afterTaskResult, isCollecting, type LoopState } from "./machine";
import { satisfiedBy } from "../agent/collect";
import { TASK_TOOL_ARGS } from "../contracts/tools";
import { isCollectWait } from "./waits";
import type { Inbox } from "./inbox";
import type { ProcessStore } from "./store";

/** One task's news for its copilot, as the kernel's outbox delivers it. */
export interface TaskDelivery {
  task: CollectedTask;
  delivery: DeliveryPolicy;
}

/**
 * Applies task results (and a worker's questions and `working` again) to a copilot's inbox, each once
 * (a task's terminal state never changes, so a repeated delivery changes nothing), in the order given.
 * Never calls out. Answers whether anything changed (HTTP collects should look again) and whether the
 * loop must wake: the object then schedules once for the whole batch, not once per result.
 */
export function applyTaskDeliveries(store: ProcessStore, items: readonly TaskDelivery[]): { changed: boolean; wake: boolean } {
  let changed = false;
  let wake = false;
  const { inbox } = store;
  for (const { task, delivery } of items) {
    if (isTerminalTask(task.state)) {
      // A delegation this object never recorded (its delegate call died after the kernel's commit) is recorded now.
      if (!inbox.applyResult(task) && !inbox.record(task, delivery)) continue;
    } else {
      // A worker's question, or `working` again once answered (SPEC §11): a status, not the task's end.
      inbox.record({ ...task, state: "working" }, delivery);
      if (!inbox.applyStatus(task)) continue;
    }
    if (delivery !== "on_demand") {
      store.emit("task", { taskId: task.taskId, workerPid: task.pid, agent: task.agent, state: task.state, result: task.result, ...(task.question ? { question: task.question } : {}) });
    }
    changed = true;
    if (store.exit || task.state === "working") continue;
    const after = afterTaskResult(store.loop, delivery);
    if (!after.wake) continue;
    // A copilot waiting in collect wakes when one of its collects can answer, not for every result: its
    // deadline is armed already, so results that leave it waiting cost no alarm and no step.
    if (isCollecting(store.loop) && !collectMayAnswer(store.loop, store.inbox, Date.now())) continue;
    if (after.loop !== store.loop) store.commit({ loop: after.loop, events: [["state", { state: "running" }]] });
    wake = true;
  }
  return { changed, wake };
}

/**
 * Whether a collect the loop waits on can answer now: its mode is satisfied, a task of its set asks a
 * question, or its deadline has passed (what `settleCollect` decides, from counts).
 */
export function collectMayAnswer(loop: LoopState, inbox: Pick<Inbox, "counts">, now: number): boolean {
  for (const [callId, wait] of Object.entries(loop.waiting ?? {})) {
    if (!isCollectWait(wait)) continue;
    if (now >= wait.deadline) return true;
    const call = loop.phase === "tools" ? loop.pendingCalls.find((c) => c.id === callId) : undefined;
    const args = TASK_TOOL_ARGS.collect.safeParse(call?.arguments ?? {});
    const { mode, n } = args.success ? args.data : { mode: "all" as const, n: undefined };
    const counts = inbox.counts(wait.taskIds);
    if (counts.asking > 0 || satisfiedBy(counts, mode, n)) return true;
  }
  return false;
}
