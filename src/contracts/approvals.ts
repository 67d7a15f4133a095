/**
 * People in the loop (SPEC §11): approvals of tool calls a policy answered `ask` for, and the
 * questions (`request_input`) agents put to their copilot or to a person.
 */
import { z } from "zod";
import { pageQuery } from "./common";

export const ApprovalState = z.enum(["pending", "approved", "rejected", "expired"]);
export type ApprovalState = z.infer<typeof ApprovalState>;

/** An approval id in a path: what the routes accept before asking the kernel (anything else is a 404). */
export const ApprovalId = z.string().regex(/^[0-9a-f-]{36}$/, "an approval id is a UUID");

/** The bounds of a policy rule's `timeoutMs` for `ask`: one second to thirty days; 24 hours by default. */
export const ASK_TIMEOUT_DEFAULT_MS = 24 * 60 * 60 * 1000;
export const ASK_TIMEOUT_MIN_MS = 1000;
export const ASK_TIMEOUT_MAX_MS = 30 * 24 * 60 * 60 * 1000;

/** A tool call waiting for (or past) a person's decision. */
export const Approval = z.object({
  id: z.string(),
  pid: z.number().int(),
  /** The top of the process's tree (the pid itself for a top-level process). */
  rootPid: z.number().int(),
  agent: z.string(),
  tool: z.string(),
  /** The arguments the call runs with: the model's, or the approver's replacement (then `originalArguments` keeps the model's). */
  arguments: z.record(z.string(), z.unknown()),
  toolCallId: z.string(),
  /** The policy hook whose rule answered `ask`. */
  hook: z.string(),
  reason: z.string(),
  state: ApprovalState,
  createdAt: z.string(),
  expiresAt: z.string(),
  decidedAt: z.string().optional(),
  /** The actor that decided (`api:operator`, `api:admin`), or `kernel` for an expiry. */
  decidedBy: z.string().optional(),
  /** The decider's message (a rejection's reason), or why it expired. */
  message: z.string().optional(),
  /** Set when an approver replaced the call's arguments: what the model had written. */
  originalArguments: z.record(z.string(), z.unknown()).optional(),
});
export type Approval = z.infer<typeof Approval>;

/** `POST /v1/approvals/:id`. */
export const DecideRequest = z.strictObject({
  decision: z.enum(["approve", "reject"]),
  message: z.string().max(4000).optional(),
  /** Replaces the call's arguments (approve only); the tool validates them against its schema when it runs. */
  arguments: z.record(z.string(), z.unknown()).optional(),
});
export type DecideRequest = z.infer<typeof DecideRequest>;

/** `GET /v1/approvals?state=&pid=&rootPid=`, paged like the other lists. */
export const ApprovalListQuery = z.strictObject({
  state: ApprovalState.optional(),
  pid: z.coerce.number().int().positive().optional(),
  rootPid: z.coerce.number().int().positive().optional(),
  ...pageQuery(100),
});
export type ApprovalListQuery = z.infer<typeof ApprovalListQuery>;

export const ApprovalList = z.object({ approvals: z.array(Approval), nextCursor: z.string().nullable() });
export type ApprovalList = z.infer<typeof ApprovalList>;

/** A top-level process's open question (SPEC §11), on its Process JSON until a message answers it. */
export const PendingInput = z.object({ question: z.string(), toolCallId: z.string() });
export type PendingInput = z.infer<typeof PendingInput>;

/** `POST /v1/tasks/:id/reply`. */
export const ReplyRequest = z.strictObject({ message: z.string().min(1).max(100_000) });
export type ReplyRequest = z.infer<typeof ReplyRequest>;
/** What a reply answers: the task, `working` again. */
export const ReplyResult = z.object({ taskId: z.string(), state: z.string() });
export type ReplyResult = z.infer<typeof ReplyResult>;

/** What `requestInput` answers the process: whom the question went to. */
export type InputRoute = { kind: "task"; taskId: string } | { kind: "person" };

/** An answer to a question, as the kernel's outbox delivers it to the asking worker. */
export interface InputAnswer {
  toolCallId: string;
  answer: string;
  /** Who answered: `process:<copilot pid>` or `api:<role>`. */
  by: string;
}

/** What `beforeDispatch` answers for a call a policy wants a person to decide. */
export interface AskVerdict {
  approvalId: string;
  hook: string;
  reason: string;
  /** Epoch ms: when the approval expires if nobody decides (the process's alarm). */
  expiresAt: number;
}
