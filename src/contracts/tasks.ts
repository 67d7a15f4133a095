import { z } from "zod";
import { Budget } from "./agent";
import { Metadata, pageQuery, Usage } from "./common";
import { CollectArgs, DelegateArgs, DeliveryPolicy } from "./tools";
import { Warning } from "./conversation";

export { DeliveryPolicy };
export type DeliveryPolicy = z.infer<typeof DeliveryPolicy>;

/** A2A 0.3 task states. */
export const TaskState = z.enum(["submitted", "working", "input-required", "completed", "failed", "canceled", "rejected"]);
export type TaskState = z.infer<typeof TaskState>;
export const TERMINAL_TASK_STATES: readonly TaskState[] = ["completed", "failed", "canceled", "rejected"];
export const isTerminalTask = (s: TaskState) => TERMINAL_TASK_STATES.includes(s);

/** `?a2a=v1`: the A2A 1.0 names of the same states. */
export const a2aV1State = (s: TaskState) => `TASK_STATE_${s.toUpperCase().replace("-", "_")}`;

export const TaskArtifact = z.object({
  artifactId: z.string(),
  parts: z.array(z.object({ kind: z.literal("text"), text: z.string() })),
});

export const Task = z.object({
  kind: z.literal("task"),
  id: z.string(),
  contextId: z.string(),
  status: z.object({ state: z.string(), timestamp: z.string(), message: z.string().optional() }),
  artifacts: z.array(TaskArtifact),
  metadata: z.object({
    /** Null: the task of a top-level process (spawned over A2A, SPEC §12), which no copilot owns. */
    copilotPid: z.number().int().nullable(),
    workerPid: z.number().int(),
    agent: z.string(),
    deliveryPolicy: DeliveryPolicy,
    budget: Budget,
    requested: z.record(z.string(), z.unknown()),
    granted: z.record(z.string(), z.unknown()),
    user: Metadata,
  }),
});
export type Task = z.infer<typeof Task>;

/** Body of `POST /v1/procs/:pid/delegate`: the delegate tool's arguments, plus an optional idempotency key. */
export const DelegateRequest = DelegateArgs.extend({ idempotencyKey: z.string().min(1).max(256).optional() });
export type DelegateRequest = z.infer<typeof DelegateRequest>;
export type DelegateInput = z.infer<typeof DelegateArgs>;
/** `warnings`: the worker starts degraded (e.g. its effective tools came out empty), with why. */
export const DelegateResult = z.object({ taskId: z.string(), pid: z.number().int(), state: TaskState, warnings: z.array(Warning).optional() });
export type DelegateResult = z.infer<typeof DelegateResult>;

export const CollectRequest = CollectArgs.extend({ timeoutMs: z.number().int().nonnegative().max(60_000).optional() });
export type CollectInput = z.infer<typeof CollectArgs>;

export const CollectedTask = z.object({
  taskId: z.string(),
  pid: z.number().int(),
  agent: z.string(),
  state: TaskState,
  result: z.string().nullable(),
  reason: z.string().nullable(),
  usage: Usage,
  /** Set when the task is `input-required` because its worker asked a question (`request_input`). */
  question: z.string().optional(),
  /**
   * The asking call's id (the worker's request_input call): on the delivery of a question and on the
   * delivery of `working` after its answer, so a copilot applies them once and in order.
   */
  questionId: z.string().optional(),
});
export type CollectedTask = z.infer<typeof CollectedTask>;
/** A task of a collect's set whose worker waits for an answer (`reply_task`, or `POST /v1/tasks/:id/reply`). */
export const InputRequired = z.object({ taskId: z.string(), pid: z.number().int(), question: z.string() });
export type InputRequired = z.infer<typeof InputRequired>;
export const CollectResult = z.object({
  completed: z.array(CollectedTask),
  failed: z.array(CollectedTask),
  canceled: z.array(CollectedTask),
  pending: z.array(CollectedTask),
  satisfied: z.boolean(),
  /** Tasks of the set that need input (also in `pending`): the collect returned early for them (SPEC §11). */
  inputRequired: z.array(InputRequired),
});
export type CollectResult = z.infer<typeof CollectResult>;

export const TaskListQuery = z.strictObject({ copilotPid: z.coerce.number().int().positive().optional(), a2a: z.literal("v1").optional(), ...pageQuery(1000) });
export const TaskQuery = z.strictObject({ a2a: z.literal("v1").optional() });
