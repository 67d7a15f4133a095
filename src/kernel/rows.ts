import { LIVE_STATES, type ApprovalState, type Budget, type BudgetUse, type DeliveryPolicy, type ExitStatus, type FsScope, type Limits, type Process, type ProcessState, type TaskState } from "../contracts";
import { sqlList, TERMINAL_TASK_SQL } from "../lib/sql-store";

/**
 * The kernel's rows as SQLite holds them (the tables are in schema.ts), and their mappers. Row types
 * are closed: a misspelt column does not compile. JSON columns are `string` here and parsed by the
 * mappers below.
 */

/** A `procs` row: one process. */
export type ProcRow = {
  pid: number;
  agent: string;
  parent_pid: number | null;
  task_id: string | null;
  state: ProcessState;
  mode: "task" | "interactive";
  turn_count: number;
  /** JSON Usage. */
  usage: string;
  /** JSON string[]: the effective tools. */
  tools: string;
  /** JSON FsScope[]: the effective fs scopes. */
  fs: string;
  /** JSON Budget: the process's reservation. */
  budget_limit: string;
  /** JSON BudgetUse: its own usage. */
  budget_used: string;
  /** JSON BudgetUse: its own and its descendants' usage. */
  tree_used: string;
  /** JSON Required<Limits>. */
  limits: string;
  depth: number;
  created_at: string;
  updated_at: string;
  /** JSON ExitStatus, once exited. */
  exit: string | null;
  result: string | null;
  /** JSON Metadata. */
  metadata: string;
  /** JSON Warning[]. */
  warnings: string;
  /** The agent's name while a singleton process of it is live (a unique index). */
  singleton_of: string | null;
  /** 0 while a delegation waits for a free maxChildren slot. */
  started: number;
  /** JSON PendingInput: a top-level process's open question (schema v4). */
  pending_input: string | null;
  /** Live children holding a maxChildren slot (schema v7, kept by `ProcessTable`). */
  started_children: number;
  /** JSON BudgetUse: the sum of the live children's unused reservations (schema v7; NULL until first computed). */
  children_outstanding: string | null;
  /** JSON Budget: the lease this live process holds (schema v8; NULL: none). */
  lease: string | null;
  /** JSON BudgetUse: the sum of the leases live processes of its subtree hold, its own included (schema v8; NULL: none). */
  leased: string | null;
};

/** A `tasks` row: one delegation. */
export type TaskRow = {
  id: string;
  /** Null for a top-level process's task (spawned over A2A). */
  copilot_pid: number | null;
  worker_pid: number;
  agent: string;
  state: TaskState;
  status_message: string | null;
  status_at: string;
  result: string | null;
  delivery: DeliveryPolicy;
  /** JSON Budget reserved for the worker. */
  budget: string;
  /** JSON: what the delegation asked for. */
  requested: string;
  /** JSON: what the worker was granted. */
  granted: string;
  /** JSON Metadata of the delegation. */
  metadata: string;
  created_at: string;
};

/** A `questions` row (schema v4): one `request_input` call, answered or not. */
export type QuestionRow = {
  pid: number;
  tool_call_id: string;
  /** The asking worker's task; null for a top-level process (a person answers by message). */
  task_id: string | null;
  question: string;
  asked_at: string;
  answer: string | null;
  answered_by: string | null;
  answered_at: string | null;
};

/** An `approvals` row (schema v4). */
export type ApprovalRow = {
  seq: number;
  id: string;
  pid: number;
  root_pid: number;
  agent: string;
  tool: string;
  /** JSON object: the arguments the call runs with. */
  arguments: string;
  /** JSON object: the model's arguments, when an approver replaced them. */
  original_arguments: string | null;
  tool_call_id: string;
  hook: string;
  reason: string;
  state: ApprovalState;
  created_at: string;
  /** Epoch ms. */
  expires_at: number;
  decided_at: string | null;
  decided_by: string | null;
  message: string | null;
};

/** An `audit` row. */
export type AuditRow = {
  seq: number;
  at: string;
  actor: string;
  event: string;
  pid: number | null;
  parent_pid: number | null;
  task_id: string | null;
  data: string;
  prev_hash: string;
  hash: string;
};

/** An `outbox` row; `payload` is the JSON of the message's payload (outbox.ts). */
export type OutboxRow = {
  id: number;
  kind: string;
  pid: number;
  payload: string;
  attempts: number;
  next_at: number;
  held: number;
  via_alarm: number;
};

/** A `hooks` row; `spec` is the JSON HookSpec. */
export type HookRow = { name: string; position: number; spec: string };

/** An `agents` row; `spec` is the JSON AgentSpec. */
export type AgentRow = { name: string; spec: string; updated_at: string };

/** The live process states, as SQL: `state IN ${LIVE_SQL}`. */
export const LIVE_SQL = sqlList(LIVE_STATES);
export { TERMINAL_TASK_SQL };

export const limitsOf = (row: Pick<ProcRow, "limits">): Required<Limits> => JSON.parse(row.limits) as Required<Limits>;
export const toolsOf = (row: Pick<ProcRow, "tools">): string[] => JSON.parse(row.tools) as string[];
export const fsOf = (row: Pick<ProcRow, "fs">): FsScope[] => JSON.parse(row.fs) as FsScope[];
export const budgetLimitOf = (row: Pick<ProcRow, "budget_limit">): Budget => JSON.parse(row.budget_limit) as Budget;
export const budgetUsedOf = (row: Pick<ProcRow, "budget_used">): BudgetUse => JSON.parse(row.budget_used) as BudgetUse;
export const treeUsedOf = (row: Pick<ProcRow, "tree_used">): BudgetUse => JSON.parse(row.tree_used) as BudgetUse;
export const exitOf = (row: Pick<ProcRow, "exit">): ExitStatus | null => (row.exit ? (JSON.parse(row.exit) as ExitStatus) : null);

/** The Process JSON (SPEC §5) of a row. */
export function toProcess(r: ProcRow): Process {
  return {
    pid: r.pid,
    agent: r.agent,
    parentPid: r.parent_pid,
    taskId: r.task_id,
    state: r.state,
    mode: r.mode,
    turnCount: r.turn_count,
    usage: JSON.parse(r.usage),
    tools: JSON.parse(r.tools),
    fs: JSON.parse(r.fs),
    budget: { limit: JSON.parse(r.budget_limit), used: JSON.parse(r.tree_used) },
    depth: r.depth,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    exit: r.exit ? JSON.parse(r.exit) : null,
    result: r.result,
    metadata: JSON.parse(r.metadata),
    pendingInput: r.pending_input ? JSON.parse(r.pending_input) : null,
  };
}

/** Maps rows lazily, so a page stops reading (and parsing) at its limit. */
export function* mapRows<R, T>(rows: Iterable<R>, map: (row: R) => T): Iterable<T> {
  for (const row of rows) yield map(row);
}
