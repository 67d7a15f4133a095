import { z } from "zod";
import { AgentName, Metadata, pageQuery, Usage } from "./common";
import { Budget, FsScope } from "./agent";
import { Warning } from "./conversation";
import { PendingInput } from "./approvals";

export const ProcessState = z.enum(["created", "running", "sleeping", "paused", "zombie", "stopped"]);
export type ProcessState = z.infer<typeof ProcessState>;
export const LIVE_STATES: readonly ProcessState[] = ["created", "running", "sleeping", "paused"];
export const isLive = (s: ProcessState) => LIVE_STATES.includes(s);

export const ExitCode = { completed: 0, error: 1, maxTurns: 2, budget: 3, terminated: -15, killed: -9 } as const;

export const ExitStatus = z.object({ code: z.number().int(), reason: z.string(), at: z.string() });
export type ExitStatus = z.infer<typeof ExitStatus>;

export const BudgetUse = z.object({
  tokens: z.number().int().nonnegative(),
  toolCalls: z.number().int().nonnegative(),
  wallMs: z.number().int().nonnegative(),
});
export type BudgetUse = z.infer<typeof BudgetUse>;

export const Process = z.object({
  pid: z.number().int(),
  agent: AgentName,
  parentPid: z.number().int().nullable(),
  taskId: z.string().nullable(),
  state: ProcessState,
  mode: z.enum(["task", "interactive"]),
  turnCount: z.number().int(),
  usage: Usage,
  tools: z.array(z.string()),
  fs: z.array(FsScope),
  budget: z.object({ limit: Budget, used: BudgetUse }),
  depth: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  exit: ExitStatus.nullable(),
  result: z.string().nullable(),
  metadata: Metadata,
  warnings: z.array(Warning).optional(),
  /** A top-level process's open question (`request_input`), answered by the next message; null otherwise. */
  pendingInput: PendingInput.nullable(),
});
export type Process = z.infer<typeof Process>;

// ---- request bodies ----
export const SpawnRequest = z.strictObject({
  agent: AgentName,
  input: z.string().max(1_000_000),
  parentPid: z.number().int().positive().nullable().optional(),
  metadata: Metadata.optional(),
  idempotencyKey: z.string().min(1).max(256).optional(),
});
export type SpawnRequest = z.infer<typeof SpawnRequest>;

export const ListQuery = z.strictObject({
  state: ProcessState.optional(),
  parentPid: z.coerce.number().int().positive().optional(),
  agent: AgentName.optional(),
  ...pageQuery(1000),
});
export type ListQuery = z.infer<typeof ListQuery>;

export const WaitQuery = z.strictObject({ timeoutMs: z.coerce.number().int().min(0).max(60_000).default(0) });

export const WaitResult = z.union([
  z.object({
    pid: z.number().int(),
    exited: z.literal(true),
    code: z.number().int(),
    reason: z.string(),
    at: z.string(),
    result: z.string().nullable(),
    warnings: z.array(Warning).optional(),
  }),
  z.object({ pid: z.number().int(), exited: z.literal(false), state: ProcessState }),
]);
export type WaitResult = z.infer<typeof WaitResult>;

export const Signal = z.enum(["SIGTERM", "SIGKILL"]);
export type Signal = z.infer<typeof Signal>;
export const KillRequest = z.strictObject({
  signal: Signal.default("SIGTERM"),
  reason: z.string().max(1000).optional(),
  cascade: z.boolean().default(true),
});
export type KillRequest = z.infer<typeof KillRequest>;
export const KillResult = z.object({ killed: z.array(z.number().int()), alreadyExited: z.array(z.number().int()) });
export type KillResult = z.infer<typeof KillResult>;

export const ConversationQuery = z.strictObject(pageQuery(1000));
export const MessageRequest = z.strictObject({ content: z.string().min(1).max(1_000_000) });
export const DispatchRequest = z.strictObject({
  tool: z.string().min(1).max(128),
  arguments: z.record(z.string(), z.unknown()).default({}),
});
export type DispatchRequest = z.infer<typeof DispatchRequest>;
export const RestoreRequest = z.strictObject({ checkpointId: z.string().regex(/^[0-9a-f]{64}$/, "a checkpoint id is 64 hex digits") });

export const ProcessEventType = z.enum(["state", "turn", "model", "tool_call", "tool_result", "task", "exit", "message", "approval", "input"]);
export type ProcessEventType = z.infer<typeof ProcessEventType>;
export const ProcessEvent = z.object({ seq: z.number().int(), type: ProcessEventType, at: z.string(), data: z.unknown() });
export type ProcessEvent = z.infer<typeof ProcessEvent>;
