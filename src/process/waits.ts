/**
 * What a call of the current turn can wait for (SPEC §7, §11), as the loop persists it in
 * `LoopState.waiting` (keyed by call id): a collect's results, a person's decision on a call a
 * policy asked about, or the answer to a question (`request_input`). Pure: the process object
 * persists what these functions return.
 *
 * A wait is *ready* once what it waited for is recorded in it (a decision, an answer): the next step
 * settles it. Recording happens when the kernel delivers (at least once, so applying is idempotent),
 * never by running the step inside that delivery.
 */
import type { Approval } from "../contracts/approvals";
import type { CollectWait } from "../agent/collect";

/** A collect not yet satisfied (stored before waits had kinds, hence `kind` optional). */
export type CollectCallWait = CollectWait & { kind?: "collect" };

/** What an approval came to, as the waiting process records it. */
export interface Decision {
  state: "approved" | "rejected" | "expired";
  /** The arguments the call runs with (an approver may have replaced the model's). */
  arguments?: Record<string, unknown>;
  decidedBy?: string;
  message?: string;
}

/** A call a policy answered `ask` for: not run until a person decides, or it expires at `deadline`. */
export interface ApprovalWait {
  kind: "approval";
  approvalId: string;
  /** The hook whose rule asked: an approved call runs the hooks after it. */
  hook: string;
  reason: string;
  /** Epoch ms: the approval's `expiresAt` (the alarm fires then; no polling before). */
  deadline: number;
  decision?: Decision;
}

/** A question (`request_input`): to the copilot of a worker's task, or to a person for a top-level process. */
export interface InputWait {
  kind: "input";
  question: string;
  to: "task" | "person";
  taskId?: string;
  /** The answer, and who gave it. */
  answer?: { text: string; by: string };
  /** A person's answer is reported to the kernel (`inputProvided`) before it becomes the result. */
  reported?: boolean;
}

export type CallWait = CollectCallWait | ApprovalWait | InputWait;

export const isApprovalWait = (w: CallWait): w is ApprovalWait => w.kind === "approval";
export const isInputWait = (w: CallWait): w is InputWait => w.kind === "input";
export const isCollectWait = (w: CallWait): w is CollectCallWait => w.kind === undefined || w.kind === "collect";

/**
 * When a wait needs the step again: at once when it is ready, at its deadline otherwise; a question
 * has no deadline (Infinity: it costs nothing until answered).
 */
export function dueAt(w: CallWait): number {
  if (isApprovalWait(w)) return w.decision ? 0 : w.deadline;
  if (isInputWait(w)) return w.answer ? 0 : Infinity;
  return w.deadline;
}

/** The decision an approval row carries, or null while it is pending. */
export function decisionOf(a: Pick<Approval, "state" | "arguments" | "decidedBy" | "message">): Decision | null {
  if (a.state === "pending") return null;
  return {
    state: a.state,
    ...(a.state === "approved" ? { arguments: a.arguments } : {}),
    ...(a.decidedBy !== undefined ? { decidedBy: a.decidedBy } : {}),
    ...(a.message !== undefined ? { message: a.message } : {}),
  };
}

/** The waits with their decision or answer recorded; `waiting` unchanged (same object) when there is nothing to record. */
export function withDecision(waiting: Record<string, CallWait>, approval: Pick<Approval, "id" | "toolCallId" | "state" | "arguments" | "decidedBy" | "message">): Record<string, CallWait> {
  const w = waiting[approval.toolCallId];
  const decision = decisionOf(approval);
  if (!w || !isApprovalWait(w) || w.approvalId !== approval.id || w.decision || !decision) return waiting;
  return { ...waiting, [approval.toolCallId]: { ...w, decision } };
}

export function withAnswer(waiting: Record<string, CallWait>, toolCallId: string, answer: { text: string; by: string }): Record<string, CallWait> {
  const w = waiting[toolCallId];
  if (!w || !isInputWait(w) || w.answer) return waiting;
  return { ...waiting, [toolCallId]: { ...w, answer } };
}

/** The oldest open question to a person (in call order), the one a message answers. */
export function openPersonQuestion(waiting: Record<string, CallWait> | undefined, order: readonly { id: string }[]): { toolCallId: string; wait: InputWait } | null {
  for (const call of order) {
    const w = waiting?.[call.id];
    if (w && isInputWait(w) && w.to === "person" && !w.answer) return { toolCallId: call.id, wait: w };
  }
  return null;
}

/** The text a rejected or expired call answers the model (`Error: ` is added where failures are rendered). */
export function refusalText(decision: Decision, approvalId: string): string {
  if (decision.state === "expired") {
    return `expired: no one decided on this call in time (approval ${approvalId}), so it was not run${decision.message ? ` (${decision.message})` : ""}`;
  }
  return `rejected by ${decision.decidedBy ?? "an operator"}: ${decision.message?.trim() || "no reason given"}`;
}

/** The `approval` event of a decision. */
export function approvalEvent(call: { id: string; name: string }, wait: ApprovalWait, decision: Decision) {
  return {
    approvalId: wait.approvalId,
    toolCallId: call.id,
    tool: call.name,
    state: decision.state,
    ...(decision.decidedBy ? { decidedBy: decision.decidedBy } : {}),
    ...(decision.message ? { message: decision.message } : {}),
    ...(decision.arguments ? { arguments: decision.arguments } : {}),
  };
}

