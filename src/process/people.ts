/**
 * People in the loop, as a process receives them (SPEC §11): a decision on a call a policy asked
 * about, the answer to a question. Each is recorded in the waiting call's entry of the loop state, in
 * one commit with its event, and the step that settles the call runs later from the alarm (never
 * inside the delivery). Deliveries come at least once: a second one finds the wait decided or
 * answered, or gone, and changes nothing.
 */
import type { Approval } from "../contracts/approvals";
import { journalKey } from "./journal";
import { withWaits, type LoopState } from "./machine";
import type { ProcessStore } from "./store";
import { approvalEvent, isApprovalWait, openPersonQuestion, withAnswer, withDecision } from "./waits";

/** A delivery that came before the process persisted the wait it is for (a crash between the kernel's commit and the process's): the kernel's outbox delivers it again later. */
export class NotWaitingYet extends Error {
  constructor(what: string, toolCallId: string) {
    super(`${what} for call ${toolCallId} arrived before the call waits for it; deliver it again later`);
  }
}

type Store = Pick<ProcessStore, "loop" | "exit" | "commit" | "journal">;

/** Whether `toolCallId` is a call of the current turn that has neither a result nor a wait yet. */
const callInFlight = (loop: LoopState, store: Store, toolCallId: string) =>
  loop.phase === "tools" && loop.pendingCalls.some((c) => c.id === toolCallId) && !loop.waiting?.[toolCallId] && !store.journal.has(journalKey.tool(toolCallId));

/** Records a decision on a waiting call; true when it changed something (the process should look at once). */
export function recordDecision(store: Store, approval: Approval): boolean {
  if (store.exit || approval.state === "pending") return false;
  const loop = store.loop;
  const waiting = loop.waiting ?? {};
  const next = withDecision(waiting, approval);
  if (next === waiting) {
    if (callInFlight(loop, store, approval.toolCallId)) throw new NotWaitingYet(`the decision on approval ${approval.id}`, approval.toolCallId);
    return false;
  }
  const wait = next[approval.toolCallId]!;
  const events = isApprovalWait(wait) && wait.decision ? [["approval", approvalEvent({ id: approval.toolCallId, name: approval.tool }, wait, wait.decision)] as const] : [];
  store.commit({ loop: withWaits(loop, next), events: [...events, ...running(loop)] });
  return true;
}

/** A recorded decision or answer makes the process run at once (unless paused). */
const running = (loop: LoopState) => (loop.paused ? [] : [["state", { state: "running" }] as const]);

/** Records the answer to a worker's question (from its copilot or an operator, through the kernel). */
export function recordTaskAnswer(store: Store, toolCallId: string, answer: string): boolean {
  if (store.exit) return false;
  const loop = store.loop;
  const waiting = loop.waiting ?? {};
  const next = withAnswer(waiting, toolCallId, { text: answer, by: "task" });
  if (next === waiting) {
    if (callInFlight(loop, store, toolCallId)) throw new NotWaitingYet("the answer", toolCallId);
    return false;
  }
  store.commit({ loop: withWaits(loop, next), events: [["input", { toolCallId, state: "answered", by: "task" }], ...running(loop)] });
  return true;
}

/**
 * A message to a process with an open question to a person answers it (the content becomes the
 * request_input result, not a new user message). Null when no question is open.
 */
export function answerPersonQuestion(store: Store, content: string, by: string): { toolCallId: string } | null {
  const loop = store.loop;
  const open = openPersonQuestion(loop.waiting, loop.pendingCalls);
  if (!open || loop.phase !== "tools") return null;
  const next = withAnswer(loop.waiting ?? {}, open.toolCallId, { text: content, by });
  store.commit({ loop: withWaits(loop, next), events: [["input", { toolCallId: open.toolCallId, state: "answered", by }], ...running(loop)] });
  return { toolCallId: open.toolCallId };
}
