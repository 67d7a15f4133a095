/**
 * What the objects send each other over RPC, beyond the public contracts: how the kernel starts a
 * process, what a checkpoint saves, what a process reports. The kernel's outbox stores some of these
 * until they are delivered (src/kernel/outbox.ts).
 */
import type { AgentSpec, AskVerdict, Budget, BudgetUse, DeliveryPolicy, FsScope, Limits, Message } from "../contracts";
import type { PathFilter } from "../kernel/hook-chain";
import type { LoopState } from "../process/machine";

/** What the kernel hands a process when it starts it; fixed for the process's life. */
export interface ProcessConfig {
  tenant: string;
  pid: number;
  parentPid: number | null;
  taskId: string | null;
  /** How this worker's progress and result reach its copilot (null unless delegated). */
  delivery: DeliveryPolicy | null;
  depth: number;
  spec: AgentSpec;
  tools: string[];
  fs: FsScope[];
  budget: Budget;
  limits: Required<Limits>;
  createdAt: string;
}

/** What the kernel answers a progress report with (src/kernel/leases.ts): the tree's view of the process's budget, and its new lease. */
export interface LeaseAnswer {
  /** What its descendants have used: it counts against its own limit. */
  external: BudgetUse;
  /**
   * Per dimension an ancestor limits, the least any ancestor has left (limit − its tree's usage): its
   * last call is due when its own usage since this answer reaches it.
   */
  ancestorsLeft: Budget;
  /** What it may spend from here before it must report again; {} when nothing limits its tree. */
  lease: Budget;
  /**
   * Per dimension it or an ancestor limits, the least they have left that no other process holds
   * leased (its own lease included). Spent while `ancestorsLeft` is not: the rest is others' to spend,
   * so it asks again before its next model call instead of making it (src/process/machine.ts `blockedOnLease`).
   */
  free: Budget;
}

export type ProcessStart = { input: string } | { restore: ProcessSnapshot };

/** The saved state a checkpoint holds and a restore continues from. */
export interface ProcessSnapshot {
  agent: string;
  messages: Message[];
  loop: LoopState;
}

/** What the process tells its kernel after each step, so the process table stays current. */
export interface ProcessReport {
  state: "running" | "sleeping" | "paused";
  turnCount: number;
  usage: LoopState["usage"];
  /** The process's own usage; the kernel adds descendants' for the tree-wide view. */
  budgetUsed: BudgetUse;
  /** Present while it sleeps for its next message (an interactive agent's answer given): that answer. */
  awaiting?: { message: string | null };
}

/** What a process reports after a batch of tool calls: the kernel audits it and hands its post_dispatch hooks the results. */
export interface DispatchReport {
  denials: { tool: string; toolCallId: string; paths: string[]; reason: string }[];
  results: { toolCallId: string; name: string; success: boolean; durationMs: number }[];
  /** Calls that reached an MCP server (or, interrupted by a crash, may have): audited as `mcp_call`. */
  mcpCalls?: McpCallRecord[];
}

/** An MCP call as the audit log keeps it: never its arguments, its result or its server's headers. */
export interface McpCallRecord {
  tool: string;
  toolCallId: string;
  ok: boolean;
  durationMs: number;
  interrupted?: true;
}

/** What the kernel's pre_dispatch gate answers for a turn's calls (`beforeDispatch`), keyed by call id. */
export interface DispatchGate {
  vetoes: Record<string, { hook: string; reason: string }>;
  /** Per search call: what the policies deny below the path it names. */
  hidden: Record<string, PathFilter[]>;
  /** Whether any post_dispatch hook listens. */
  postHooks: boolean;
  /**
   * Calls a policy answered `ask` for: not to be run until decided. The approval exists when this is
   * answered (idempotent per (pid, toolCallId): a repeated gate answers the same approval, even decided;
   * `approvalState` tells its state). The process sleeps until `deliverApproval`, or `expiresAt`.
   */
  asks: Record<string, AskVerdict>;
}

/** Options of `beforeDispatch`: `afterHook` runs only the pre_dispatch hooks after that one (an approved call). */
export interface GateOptions {
  afterHook?: string;
  /**
   * Ask the chain without opening approvals (an HTTP dispatch, which cannot wait): `asks` is filled
   * with `approvalId: ""`, and nothing is stored or audited.
   */
  probe?: boolean;
}
