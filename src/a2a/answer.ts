/**
 * `SendMessage` with the id of a task that waits on a person (SPEC §11 over §12): the answer to its
 * worker's question (`request_input`), or a decision on its worker's approval prompt. The rules
 * (docs/a2a.md, "Conversations and answers"):
 *
 * - a text message answers the task's oldest open question (`replyTask`, as `POST /v1/tasks/:id/reply`);
 * - a message with a `data` part `{decision: "approve" | "reject", message?, arguments?, approvalId?}`
 *   decides the worker's oldest pending approval (or the one named), as `POST /v1/approvals/:id`;
 * - a text message to a task that waits only on an approval is refused with how to decide it;
 * - anything else is not an answer: the caller decides what it is (an interactive agent's next
 *   message) or refuses it (`task_not_waiting`).
 */
import type { Message as A2AMessage } from "@a2a-js/sdk";
import { ContentTypeNotSupportedError, RequestMalformedError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import { DecideRequest, type Task } from "../contracts";
import type { KernelForRoutes } from "../rpc/stubs";
import { inputOf } from "./convert";
import { orThrow } from "./errors";

/** What a message to an existing task says: text (an answer or a next message), or a decision. */
export type Reply = { kind: "text"; text: string } | { kind: "decision"; decision: DecideRequest; approvalId?: string };

const DATA_MEDIA = ["", "application/json"];

/**
 * Reads a message sent to an existing task. A message with a data part is a decision: exactly one
 * part, a JSON object validated as `POST /v1/approvals/:id`'s body (plus an optional `approvalId`);
 * any other message is read as text, as a new task's input is.
 */
export function replyOf(msg: A2AMessage | undefined): Reply {
  const data = msg?.parts.find((p) => p.content?.$case === "data");
  if (!msg || !data) return { kind: "text", text: inputOf(msg) };
  if (msg.parts.length !== 1) throw new RequestMalformedError("A decision is a message with one data part and nothing else: {decision: \"approve\" | \"reject\", message?, arguments?, approvalId?}.");
  if (!DATA_MEDIA.includes(data.mediaType.toLowerCase())) throw new ContentTypeNotSupportedError(`A decision's data part is application/json; got ${data.mediaType}.`);
  inputOf({ ...msg, parts: [{ ...data, content: { $case: "text", value: "decision" }, mediaType: "" }] }); // role and id bounds, as for text
  const value = data.content!.value as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new RequestMalformedError("A decision's data part must be a JSON object: {decision: \"approve\" | \"reject\", message?, arguments?, approvalId?}.");
  const { approvalId, ...body } = value as Record<string, unknown>;
  if (approvalId !== undefined && (typeof approvalId !== "string" || approvalId.trim() === "")) throw new RequestMalformedError("approvalId must be an approval's id (a string).");
  const parsed = DecideRequest.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "decision"}: ${i.message}`).join("; ");
    throw new RequestMalformedError(`Not a decision (${issues}); send {decision: "approve" | "reject", message?, arguments?, approvalId?}.`);
  }
  return { kind: "decision", decision: parsed.data, ...(approvalId !== undefined ? { approvalId: approvalId as string } : {}) };
}

/**
 * Text to a waiting task: answers its oldest open question and answers true. False when the task
 * has no open question and waits on no approval (not an answer: the caller decides what it is). A
 * task that waits only on an approval is refused, naming the approval and how to decide it.
 */
export async function answerQuestion(kernel: KernelForRoutes, task: Task, text: string, actor: string): Promise<boolean> {
  const replied = await kernel.replyTask(task.id, text, { actor });
  if (replied.ok) return true;
  if (replied.error.code !== "task_not_waiting") orThrow(replied);
  const approvalId = (replied.error.details as { approvalId?: string } | undefined)?.approvalId;
  if (!approvalId) return false;
  throw new UnsupportedOperationError({
    message:
      `Task ${task.id} waits for a decision on approval ${approvalId}, not for an answer (task_not_waiting). ` +
      `Decide it with a message whose only part is a data part {"decision": "approve" | "reject", "message"?, "arguments"?}, or with POST /v1/approvals/${approvalId}.`,
    metadata: { code: "task_not_waiting", approvalId },
  });
}

/**
 * A decision for the task's worker: its oldest pending approval, or the one the decision names
 * (which must be the worker's). Answers the decided approval's id.
 */
export async function decideForTask(kernel: KernelForRoutes, task: Task, reply: Extract<Reply, { kind: "decision" }>, actor: string): Promise<string> {
  const pid = task.metadata.workerPid;
  let id = reply.approvalId;
  if (id === undefined) {
    const pending = await kernel.listApprovals({ pid, state: "pending", limit: 1 });
    id = pending.items[0]?.id;
    if (!id) throw new UnsupportedOperationError({ message: `Task ${task.id} waits for no approval (task_not_waiting): a decision has nothing to decide.`, metadata: { code: "task_not_waiting" } });
  } else {
    const named = await kernel.getApproval(id);
    // Another process's approval is not this task's to decide: as one that does not exist.
    if (!named.ok || named.value.pid !== pid) throw new RequestMalformedError(`Task ${task.id} has no approval ${id}.`);
  }
  orThrow(await kernel.decideApproval(id, reply.decision, actor));
  return id;
}
