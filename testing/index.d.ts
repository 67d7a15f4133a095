/**
 * Types of agent-kernel/testing (the implementation is plain ESM JavaScript, ./index.mjs).
 */
import type { Miniflare } from "miniflare";
import type { KernelClient, Process, StreamEvent, Task, WaitResult } from "../src/client/index.ts";
import type { AgentSpecInput, HookSpecInput, ScriptStep, TokenUsage } from "../src/contracts/index.ts";

export type { KernelClient, Process, StreamEvent, Task, WaitResult, AgentSpecInput, HookSpecInput, ScriptStep, TokenUsage };

export type Role = "viewer" | "operator" | "admin";

export interface TestKernelOptions {
  /**
   * Worker bindings (settings), merged over the defaults: e.g. `ALLOW_PRIVATE_HOSTS`,
   * `OPENAI_COMPATIBLE_BASE_URL`, `OPENAI_API_KEY`, `MAX_LIVE_PROCESSES`, `MODEL_TIMEOUT_MS`.
   * `AUTH_SECRET` is the kernel's own (see `authSecret`).
   */
  bindings?: Record<string, string>;
  /**
   * Keep the Durable Objects' storage in this directory (created if missing, never deleted by the
   * kit): a later kernel given the same directory sees the same data. Default: in memory, gone
   * on `dispose()`.
   */
  persistDir?: string;
  /** The AUTH_SECRET tokens are signed with; default a fresh random one per kernel. */
  authSecret?: string;
  /** The port to listen on (127.0.0.1); default a free one. */
  port?: number;
  /** Print the Worker's console output (default: dropped). */
  verbose?: boolean;
  /** Where the bundled Worker is cached; default node_modules/.cache/agent-kernel (or $AGENT_KERNEL_CACHE_DIR). */
  cacheDir?: string;
}

export interface TestKernel {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** The kernel's AUTH_SECRET. */
  readonly authSecret: string;
  /** The Miniflare instance (for what the kit does not cover). */
  readonly miniflare: Miniflare;
  /** A bearer token for `tenant` with `role` (default `admin`), valid `ttlSeconds` (default 3600). */
  token(tenant: string, role?: Role, ttlSeconds?: number): string;
  /** The typed client (src/client) for `tenant` with `role` (default `admin`). */
  client(tenant: string, role?: Role): KernelClient;
  /** A raw `fetch` of a path (e.g. `/healthz`) on this kernel. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Stops workerd and deletes the in-memory storage; idempotent. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Boots a kernel in its own Miniflare: its own workerd, port, storage and secret. */
export function createTestKernel(options?: TestKernelOptions): Promise<TestKernel>;

/** Builds the Worker bundle if it is stale (createTestKernel does this; call it to build ahead, e.g. in a global setup). */
export function ensureBuilt(options?: { cacheDir?: string; force?: boolean }): Promise<{ worker: string; client: string; built: boolean; ms: number }>;

/** Registers (or replaces) agent `name` with `spec`, then spawns it with `input`. */
export function registerAndSpawn(
  client: KernelClient,
  name: string,
  spec: AgentSpecInput,
  input: string,
  extra?: { parentPid?: number | null; metadata?: Record<string, unknown>; idempotencyKey?: string },
): Promise<Process>;

export type ExitStatus = Extract<WaitResult, { exited: true }>;

/** Waits for process `pid` to exit (reaping it, with an operator's or admin's client); throws after `timeoutMs` (default 60000). */
export function waitForExit(client: KernelClient, pid: number, options?: { timeoutMs?: number }): Promise<ExitStatus>;

/** The process's events (`{id, event, data}`) as an array, once it has exited; throws after `timeoutMs` (default 60000). */
export function eventsOf(client: KernelClient, pid: number, options?: { timeoutMs?: number }): Promise<StreamEvent[]>;

export interface TaskOutcome {
  taskId: string;
  agent: string;
  /** The worker's pid. */
  pid: number;
  state: string;
  /** The worker's final answer, when the task completed. */
  result: string | null;
  /** Why it did not complete (failed, canceled). */
  reason: string | null;
}
export interface CopilotTree {
  copilot: Process;
  tasks: Task[];
  /** The processes whose parent is the copilot. */
  workers: Process[];
  /** One entry per task, in the order of `tasks`. */
  results: TaskOutcome[];
}

/** The copilot's tasks, workers and their results, as they are now (call it after `waitForExit`). */
export function collectTree(client: KernelClient, copilotPid: number): Promise<CopilotTree>;

export interface StepOptions {
  /** Simulated latency of the model call (0–600000 ms). */
  delayMs?: number;
  /** The usage the call reports (for budgets); default estimated at 4 characters per token. */
  usage?: TokenUsage;
}

/** A script (an array of steps, usable as `script` in an AgentSpec) with chainable builders. */
export interface ScriptBuilder extends Array<ScriptStep> {
  /** A final answer (`{{input}}` and `{{lastToolResult}}` are replaced). */
  text(text: string, options?: StepOptions): this;
  /** One turn with one tool call. */
  toolCall(name: string, args?: Record<string, unknown>, options?: StepOptions): this;
  /** One turn with several tool calls. */
  toolCalls(calls: Array<{ name: string; arguments?: Record<string, unknown> }>, options?: StepOptions): this;
  /** A provider failure, retried by the kernel (the retry takes the next step). */
  error(status: 429 | 500 | 503, message?: string, options?: StepOptions): this;
  /** The steps as a plain array. */
  build(): ScriptStep[];
}
export const ScriptBuilder: { new (): ScriptBuilder };

/** `script().toolCall("write_file", {path, content}).text("done")`. */
export function script(): ScriptBuilder;
