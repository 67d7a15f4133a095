import type { z } from "zod";
import type { CollectedTask, Outcome, ToolCall } from "../../contracts";
import type { DelegateInput, DelegateResult, TaskState } from "../../contracts/tasks";
import type { FsToolName, FsToolOutcome } from "../../contracts/tools";
import type { CollectInbox, TaskLookup } from "../../agent/collect";
import type { InputRoute, ReplyResult } from "../../contracts/approvals";
import type { CallWait } from "../waits";
import type { PathFilter } from "../../kernel/hook-chain";
import type { SendDecision } from "../journal";
import type { ToolFailure } from "./result";

/** What running a tool answers: its output, a failure, or (a loop-only tool) that it waits. */
export type ToolOutcome = { ok: true; output: string } | { ok: false; failure: ToolFailure } | { wait: CallWait };

/** What a tool may reach, as the process it runs for. */
export interface ToolContext {
  pid: number;
  /** Paths a pre_dispatch policy hides from this call's search results. */
  hidden?: PathFilter[];
  /** A file tool in the tenant's workspace, with the process's fs scopes, remembered under the call id. */
  runFsTool(name: FsToolName, args: Record<string, unknown>, callId: string, hidden?: PathFilter[]): Promise<FsToolOutcome>;
  /** Delegates through the kernel and records the task in the inbox (`idempotencyKey` makes a retry answer the same task). */
  delegate(args: DelegateInput, idempotencyKey: string): Promise<Outcome<DelegateResult>>;
  cancelTask(taskId: string): Promise<Outcome<{ taskId: string; state: TaskState }>>;
  inbox: CollectInbox & { list(ids?: readonly string[]): CollectedTask[]; markAnswered(taskId: string): void };
  /** The kernel's status of one of this copilot's tasks (a collect checks its open questions with it). */
  taskStatus?: TaskLookup;
  /** Puts a question (request_input) through the kernel: to the copilot of this worker's task, or to a person. Idempotent per call id. */
  requestInput(toolCallId: string, question: string): Promise<InputRoute>;
  /** A person answered this process's question (by a message): the kernel clears its pendingInput. Idempotent. */
  inputProvided(toolCallId: string, by: string, answer?: string): Promise<void>;
  /** Answers a question of one of this copilot's workers (reply_task). */
  replyTask(taskId: string, message: string, idempotencyKey: string): Promise<Outcome<ReplyResult>>;
  now(): number;
  /** Aborted when the call's time is up (toolTimeoutMs): a tool that calls out stops waiting. */
  signal?: AbortSignal;
  /** The process's toolTimeoutMs, for a tool whose client keeps its own deadline. */
  timeoutMs?: number;
  /**
   * Right before a call that acts on the world goes out (the journal's sent marker, made durable):
   * whether to send, send again after a crash, or answer `interrupted`. Absent outside the agent
   * loop (an HTTP dispatch is never resumed, so it has nothing to mark).
   */
  beginSend?(callId: string, repeatable: boolean): Promise<SendDecision>;
  /** The call reached a system outside (or, interrupted, may have): it is audited. */
  reached?(how: "sent" | "interrupted"): void;
}

export interface Tool {
  name: string;
  description: string;
  /** The arguments' contract: it validates calls and gives the model the tool's JSON schema. */
  args: z.ZodType;
  /** The JSON Schema the model sees when the tool brings its own (an MCP server's); else it comes from `args`. */
  parameters?: Record<string, unknown>;
  /**
   * Waits inside the agent loop (the turn stays open while it waits), so only the loop can finish
   * it: never dispatched over HTTP, run after the turn's other calls, and without the tool timeout.
   */
  loopOnly: boolean;
  /** Never throws for bad input: failures are outcomes. */
  run(call: ToolCall, ctx: ToolContext): Promise<ToolOutcome>;
  /**
   * A call that answered `wait`, asked again when the process wakes (its hooks are not run again): its
   * outcome, null while it still waits, or a new wait that replaces the old one.
   */
  resume?(call: ToolCall, wait: CallWait, ctx: ToolContext): Promise<ToolOutcome | null>;
}
