/**
 * The shapes of the API's answers that had no schema of their own: list pages, small acknowledgements
 * and the hook view. The routes document them in /openapi.json; the typed client (src/client) and
 * the tests use the inferred types. Nothing here validates a request.
 */
import { z } from "zod";
import { AgentSpec } from "./agent";
import { AuditEntry } from "./audit";
import { Message, ToolResult, Warning } from "./conversation";
import { PolicyHookSpec, WebhookHookSpec } from "./hooks";
import { Process } from "./process";
import { Task, TaskState } from "./tasks";

/** `nextCursor` of every list answer: pass it back as `?cursor=`; null on the last page. */
export const NextCursor = z.string().nullable();

export const ProcessList = z.object({ processes: z.array(Process), nextCursor: NextCursor });
export type ProcessList = z.infer<typeof ProcessList>;
export const TaskList = z.object({ tasks: z.array(Task), nextCursor: NextCursor });
export type TaskList = z.infer<typeof TaskList>;
export const AgentList = z.object({ agents: z.array(AgentSpec), nextCursor: NextCursor });
export type AgentList = z.infer<typeof AgentList>;
export const AuditPage = z.object({ entries: z.array(AuditEntry), nextCursor: NextCursor });
export type AuditPage = z.infer<typeof AuditPage>;
export const MessagePage = z.object({ messages: z.array(Message), nextCursor: NextCursor });
export type MessagePage = z.infer<typeof MessagePage>;

/** A hook as the API shows it: its place in the chain, and never a webhook's secret. */
export const HookViewSchema = z.union([
  z.object({ kind: z.literal("audit"), name: z.string(), position: z.number().int() }),
  PolicyHookSpec.extend({ name: z.string(), position: z.number().int() }),
  WebhookHookSpec.omit({ secret: true }).extend({ name: z.string(), position: z.number().int() }),
]);
export const HookList = z.object({ hooks: z.array(HookViewSchema) });
export type HookList = z.infer<typeof HookList>;

export const Health = z.object({ ok: z.literal(true) });
export const Deleted = z.object({ deleted: z.string() });
export type Deleted = z.infer<typeof Deleted>;
/** The state a process is in after a message, pause or resume. */
export const StateResult = z.object({ state: z.string() });
export type StateResult = z.infer<typeof StateResult>;
export const CheckpointResult = z.object({ checkpointId: z.string() });
export type CheckpointResult = z.infer<typeof CheckpointResult>;
export const CancelAllResult = z.object({ canceled: z.array(z.string()) });
export type CancelAllResult = z.infer<typeof CancelAllResult>;
export const CancelTaskResult = z.object({ taskId: z.string(), state: TaskState });
export type CancelTaskResult = z.infer<typeof CancelTaskResult>;
/** `POST /v1/procs/:pid/dispatch`: the tool's result, with the warnings of failing post_dispatch hooks. */
export const DispatchResult = ToolResult.extend({ warnings: z.array(Warning).optional() });
export type DispatchResult = z.infer<typeof DispatchResult>;
export const FileWritten = z.object({ path: z.string(), bytes: z.number().int() });
export type FileWritten = z.infer<typeof FileWritten>;
export const FileDeleted = z.object({ path: z.string() });
export type FileDeleted = z.infer<typeof FileDeleted>;
/** `GET /v1/fs?glob=`: the matching file paths. */
export const FileList = z.array(z.string());

/** A task id in a path: what the routes accept before asking the kernel (anything else is a 404). */
export const TaskId = z.string().regex(/^[0-9a-f-]{36}$/, "a task id is a UUID");
