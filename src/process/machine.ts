/**
 * The process as a state machine (SPEC §5): its persisted state, the phase that state is in, every
 * transition, and the one function that says when the object's alarm must next fire. Pure: the
 * process object persists what these functions return and arms what `nextAlarm` answers.
 */
import { ExitCode, type Budget, type BudgetUse, type ExitStatus, type Message, type ToolCall, type Usage } from "../contracts";
import type { DeliveryPolicy } from "../contracts/tasks";
import type { ModelResponse } from "../models/model";
import { dueAt, isCollectWait, type CallWait } from "./waits";
import { retryDelay } from "../agent/retry";
import { addUse, BUDGET_KEYS, remaining, spentDimension, subUse, zeroUse } from "../agent/budget";
import type { LeaseAnswer } from "../rpc/messages";

// ---------------------------------------------------------------------------------------------
// The persisted state

/** The stored `phase` field; `Phase` below is the full picture it is part of. */
export type LoopPhase = "model" | "tools" | "sleeping" | "exited";

/** The loop's persisted state (also what a checkpoint saves and a restore continues from). */
export interface LoopState {
  phase: LoopPhase;
  /** Set while the process is paused; `phase` is where it resumes. */
  paused: boolean;
  turnCount: number;
  /** Model calls made so far (the scripted model's cursor). */
  modelCalls: number;
  /** Consecutive failed attempts of the current model call. */
  attempts: number;
  /** When set, the current model call waits until then (backoff). */
  retryAt: number | null;
  /** The tool calls of the current turn, while phase is "tools". */
  pendingCalls: ToolCall[];
  usage: Usage;
  /** Wall time spent in steps, for the wallMs budget. */
  wallMs: number;
  /** The budget ran out: the next model call is the last, without tools. */
  finalCall: boolean;
  /** What descendants have used, as the kernel last answered: it counts against this process's budget (budgets are tree-wide). */
  external?: BudgetUse;
  /**
   * The least any ancestor had left when the kernel last answered: the tree stops for this process
   * when its own usage since then (`sinceAnswer`) reaches it.
   */
  ancestorsLeft?: Budget;
  /** What its own and its ancestors' budgets had left that no other process held leased, when the kernel last answered. */
  free?: Budget;
  /**
   * The lease the kernel last granted (src/kernel/leases.ts): what this process may spend from
   * `answeredAt` before it must report again. {} when nothing limits its tree; absent before the first answer.
   */
  lease?: Budget;
  /** This process's own usage when the kernel last answered (what it had charged). */
  answeredAt?: BudgetUse;
  /**
   * Calls of the current turn that wait, by call id: a collect (results or its deadline), an approval
   * (a person's decision or its expiry), a question (its answer). The turn's other calls have run.
   */
  waiting?: Record<string, CallWait>;
}

/** How a process ended, and whether its kernel has acknowledged it. */
export interface ExitRecord {
  status: ExitStatus;
  result: string | null;
  /** The kernel knows (it acknowledged the report, or it decided the exit itself). */
  reported: boolean;
}

/** Everything persisted that decides what the process does next. */
export interface Stored {
  loop: LoopState;
  exit: ExitRecord | null;
}

export const initialLoopState = (): LoopState => ({
  phase: "model",
  paused: false,
  turnCount: 0,
  modelCalls: 0,
  attempts: 0,
  retryAt: null,
  pendingCalls: [],
  usage: { inputTokens: 0, outputTokens: 0, toolCalls: 0 },
  wallMs: 0,
  finalCall: false,
});

export interface LoopSettings {
  mode: "task" | "interactive";
  maxTurns: number;
  budget: Budget;
}

// ---------------------------------------------------------------------------------------------
// Phases

/** A phase a live, unpaused process can be in. */
export type ActivePhase =
  /** The next step asks the model. */
  | { name: "model" }
  /** A failed model call waits to be retried. */
  | { name: "backoff"; until: number }
  /** The turn's tool calls are due. */
  | { name: "tools" }
  /**
   * Calls of the turn wait (a collect, an approval, a question): the step is due again at `until`, the
   * earliest deadline or at once when a decision or answer is recorded (Infinity: only a delivery wakes it).
   */
  | { name: "waiting"; until: number }
  /** An interactive process answered: it waits for the next message. */
  | { name: "sleeping" };

export type Phase =
  | ActivePhase
  /** Paused by an operator: `from` is where it resumes. */
  | { name: "paused"; from: ActivePhase }
  /** Ended; the kernel still has to hear of it unless `reported`. */
  | { name: "exited"; reported: boolean };

/**
 * The phase of a stored process. What moves it from one phase to the next:
 *
 *   model    ── answer with tool calls ─────────────────────────► tools
 *   model    ── final answer, interactive ───────────────────────► sleeping
 *   model    ── retryable failure ───────────────────────────────► backoff ── its time ──► model
 *   tools    ── all results in ──────────────────────────────────► model
 *   tools    ── a collect not yet satisfied, a call a policy asks
 *               a person about, a question (request_input) ──────► waiting (the turn's other calls ran)
 *   waiting  ── a result, a decision or an answer delivered,
 *               or the earliest deadline ────────────────────────► tools (the waiting calls are settled
 *                                                                   or wait on)
 *   sleeping ── a message, or an immediate task result ──────────► model
 *   model    ── final answer (task mode), max turns, the budget's
 *               last answer, a model failure given up on ────────► exited
 *   any live ── pause ──► paused ── resume ──► the phase it was paused in
 *   any live ── kill, cascade (the kernel's terminate) ──────────► exited (reported)
 *   exited   ── the kernel acknowledged the exit report ─────────► exited (reported)
 */
export function phaseOf({ loop, exit }: Stored): Phase {
  if (exit || loop.phase === "exited") return { name: "exited", reported: exit ? exit.reported : true };
  const active = activePhase(loop);
  return loop.paused ? { name: "paused", from: active } : active;
}

function activePhase(loop: LoopState): ActivePhase {
  switch (loop.phase) {
    case "sleeping":
      return { name: "sleeping" };
    case "tools": {
      const waits = Object.values(loop.waiting ?? {});
      return waits.length ? { name: "waiting", until: Math.min(...waits.map(dueAt)) } : { name: "tools" };
    }
    default:
      return loop.retryAt !== null ? { name: "backoff", until: loop.retryAt } : { name: "model" };
  }
}

/** Human-readable state of a process. */
export function visibleState(loop: LoopState): "running" | "sleeping" | "paused" | "exited" {
  const phase = phaseOf({ loop, exit: null });
  switch (phase.name) {
    case "exited":
    case "paused":
    case "sleeping":
      return phase.name;
    case "waiting":
      return "sleeping";
    default:
      return "running";
  }
}

/** Calls of the turn wait (a collect, an approval, a question): no CPU, woken by a delivery or the earliest deadline. */
export const isWaiting = (loop: LoopState): boolean => loop.phase === "tools" && Object.keys(loop.waiting ?? {}).length > 0;

/** A collect of the turn waits: a delivered task result may satisfy it. */
export const isCollecting = (loop: LoopState): boolean => loop.phase === "tools" && Object.values(loop.waiting ?? {}).some(isCollectWait);

// ---------------------------------------------------------------------------------------------
// The alarm

/**
 * If the object dies mid-step, its alarm brings it back: the alarm is armed this far ahead before
 * any risky work, and pushed on while the step runs.
 */
export const DEADMAN_MS = 5_000;
/** A failed exit report is retried this much later. */
export const EXIT_REPORT_RETRY_MS = 1_000;

/** What only this incarnation of the object knows (it is lost with it, and need not survive it). */
export interface Incarnation {
  /** A step runs here now: the alarm is its deadman. */
  stepping: boolean;
  /** When the deadman fires. */
  deadman: number;
  /**
   * Look at the state at once: a result arrived (while a step ran, or for a collect that waits), or
   * the process was started or resumed. Cleared when a step starts.
   */
  wake: boolean;
  /** The last exit report failed: the next try is due then. */
  reportRetryAt: number | null;
}

export const idle = (): Incarnation => ({ stepping: false, deadman: 0, wake: false, reportRetryAt: null });

/**
 * When the alarm must next fire, or null for none: the one answer, derived from the stored state
 * and this incarnation, that the object applies after every change (so no call site arms or deletes
 * an alarm of its own, and a wake requested while a step runs is never overwritten by the step's end).
 */
export function nextAlarm(stored: Stored, run: Incarnation, now: number): number | null {
  const phase = phaseOf(stored);
  // An exit the kernel knows of leaves nothing to do, not even for a step still in flight.
  if (phase.name === "exited" && phase.reported) return null;
  if (run.stepping) return run.deadman;
  switch (phase.name) {
    case "exited":
      return run.reportRetryAt ?? now;
    case "paused":
    case "sleeping":
      return null;
    case "backoff":
      return phase.until;
    case "waiting":
      // Only the earliest deadline is armed (a question alone arms nothing): no polling while it waits.
      if (run.wake || phase.until <= now) return now;
      return phase.until === Infinity ? null : phase.until;
    case "model":
    case "tools":
      return now;
  }
}

/** Whether an alarm that fires now should run a step. */
export function stepDue(stored: Stored, now: number): boolean {
  const phase = phaseOf(stored);
  switch (phase.name) {
    case "model":
    case "tools":
    case "waiting":
      return true;
    case "backoff":
      return phase.until <= now;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Budgets

/** This process's own usage. */
export const ownUse = (s: LoopState): BudgetUse => ({
  tokens: s.usage.inputTokens + s.usage.outputTokens,
  toolCalls: s.usage.toolCalls,
  wallMs: s.wallMs,
});

/** What counts against this process's budget: its own usage and its descendants'. */
export const budgetUse = (s: LoopState): BudgetUse => {
  const own = ownUse(s);
  return s.external ? addUse(own, s.external) : own;
};

/** The first budget dimension that is spent, or null. */
export const exhaustedBudget = (limit: Budget, used: BudgetUse): keyof Budget | null => spentDimension(remaining(limit, used));

/**
 * The calls of a turn that fit the remaining toolCalls budget, in call order; the rest are refused
 * (an error result each), so a turn never overshoots. Computed from the usage at the start of the
 * turn, the split is the same when a crashed turn is resumed.
 */
export function fitToBudget(calls: ToolCall[], budget: Budget, usedToolCalls: number, ancestorsLeft?: number): { run: ToolCall[]; refused: ToolCall[] } {
  const caps = [budget.toolCalls === undefined ? undefined : budget.toolCalls - usedToolCalls, ancestorsLeft].filter((v): v is number => v !== undefined);
  if (caps.length === 0) return { run: calls, refused: [] };
  const room = Math.max(0, Math.min(...caps));
  return { run: calls.slice(0, room), refused: calls.slice(room) };
}

/** The kernel's answer to a report; a lease and what is free come with it from kernels that grant leases. */
export type TreeAnswer = Omit<LeaseAnswer, "lease" | "free"> & Partial<Pick<LeaseAnswer, "lease" | "free">>;

/** This process's own usage since the kernel last answered (all of it before the first answer). */
export const sinceAnswer = (s: LoopState): BudgetUse => subUse(ownUse(s), s.answeredAt ?? zeroUse());

/**
 * Whether the lease is spent in some dimension: the kernel must hear of this step before the next
 * (src/process/report-policy.ts). A lease of 0 (the tree's headroom is all used or leased out) is
 * spent at once: such a process reports every step, as near the end of a budget.
 */
export function leaseSpent(s: LoopState): boolean {
  if (!s.lease) return false;
  const since = sinceAnswer(s);
  return BUDGET_KEYS.some((k) => s.lease![k] !== undefined && since[k] >= s.lease![k]!);
}

/** What the ancestors have left now, as far as this process knows: the kernel's last answer less its own usage since. */
const ancestorsLeftNow = (s: LoopState): Budget => remaining(s.ancestorsLeft ?? {}, sinceAnswer(s));

/** `fitToBudget` for this process: its own and its descendants' tool calls counted, and its ancestors' headroom. */
export const withinBudget = (loop: LoopState, calls: ToolCall[], budget: Budget) =>
  fitToBudget(calls, budget, loop.usage.toolCalls + (loop.external?.toolCalls ?? 0), loop.ancestorsLeft ? ancestorsLeftNow(loop).toolCalls : undefined);

/** Flags the last call when a budget dimension is spent. */
export function withBudgetCheck(state: LoopState, settings: LoopSettings): LoopState {
  if (state.finalCall || state.phase !== "model") return state;
  const spent = exhaustedBudget(settings.budget, budgetUse(state)) ?? spentDimension(ancestorsLeftNow(state));
  return spent ? { ...state, finalCall: true } : state;
}

/**
 * The kernel's answer to a report of `charged` (the own usage it was sent): the tree's view and, when
 * given, the new lease, counted from there. A lease not given (an older kernel) leaves the old one.
 */
export function withAnswer(loop: LoopState, answer: TreeAnswer, charged: BudgetUse): LoopState {
  const granted = answer.lease ? { lease: answer.lease, free: answer.free ?? {} } : {};
  return { ...loop, external: answer.external, ancestorsLeft: answer.ancestorsLeft, ...granted, answeredAt: charged };
}

/** How long a process whose tree's budget is all leased out waits before it asks the kernel again. */
export const LEASE_WAIT_MS = 1_000;

/**
 * Its lease is spent, and so is what the tree's budgets had left that no other process holds, while
 * the budgets themselves are not: the rest is leased to processes that run, so its next model call
 * waits (it asks the kernel again, every LEASE_WAIT_MS) rather than spend what they were promised.
 * Leases come back as their holders report, sleep or exit. A tree thus exceeds a budget by at most
 * the one call per process made on a stale answer, and no process stops early for others' leases.
 */
export function blockedOnLease(loop: LoopState): boolean {
  if (!loop.free || loop.finalCall || loop.phase !== "model") return false;
  const since = sinceAnswer(loop);
  return BUDGET_KEYS.some((k) => loop.free![k] !== undefined && since[k] >= loop.free![k]!);
}

/**
 * A blocked process asked the kernel again (its answer is in `loop`): the budget check, then the model
 * call if some budget is free now, or the last call if the budget is spent, or else model → backoff, to
 * ask again later.
 */
export function afterLeaseAsk(loop: LoopState, settings: LoopSettings, now: number): LoopState {
  const checked = withBudgetCheck(loop, settings);
  return blockedOnLease(checked) ? { ...checked, retryAt: now + LEASE_WAIT_MS } : checked;
}

export const FINAL_CALL_PROMPT =
  "Your budget is exhausted. Do not call any tools. Reply now with your best final answer from what you know so far.";

// ---------------------------------------------------------------------------------------------
// Transitions of a step

export interface Exit {
  code: number;
  reason: string;
  result: string | null;
}

/** What a step's transition says: the next state, the messages to append, and the exit if it ends. */
export type Next =
  | { kind: "continue"; state: LoopState; append: Message[] }
  | { kind: "exit"; state: LoopState; append: Message[]; exit: Exit };

/** model → tools | sleeping | exited: a persisted model answer, a final answer or a turn of tool calls. */
export function afterModelResponse(state: LoopState, settings: LoopSettings, response: ModelResponse): Next {
  const usage = {
    ...state.usage,
    inputTokens: state.usage.inputTokens + response.usage.inputTokens,
    outputTokens: state.usage.outputTokens + response.usage.outputTokens,
  };
  const base: LoopState = { ...state, usage, modelCalls: state.modelCalls + 1, attempts: 0, retryAt: null };
  const assistant: Message =
    response.toolCalls.length > 0 ? { role: "assistant", content: response.text, toolCalls: response.toolCalls } : { role: "assistant", content: response.text };

  if (state.finalCall) {
    return { kind: "exit", state: { ...base, phase: "exited" }, append: [{ role: "assistant", content: response.text }], exit: { code: ExitCode.budget, reason: "budget exhausted", result: response.text } };
  }
  if (response.toolCalls.length === 0) {
    if (settings.mode === "task") {
      return { kind: "exit", state: { ...base, phase: "exited" }, append: [assistant], exit: { code: ExitCode.completed, reason: "completed", result: response.text } };
    }
    return { kind: "continue", state: { ...base, phase: "sleeping" }, append: [assistant] };
  }
  const turnCount = state.turnCount + 1;
  if (turnCount > settings.maxTurns) {
    return {
      kind: "exit",
      state: { ...base, turnCount, phase: "exited" },
      append: [assistant],
      exit: { code: ExitCode.maxTurns, reason: `max turns exceeded (${settings.maxTurns})`, result: null },
    };
  }
  return { kind: "continue", state: { ...base, turnCount, phase: "tools", pendingCalls: response.toolCalls }, append: [assistant] };
}

/** model → backoff | exited: a failed model call backs off and tries again, or gives up with exit 1. */
export function afterModelError(
  state: LoopState,
  error: { message: string; retryable: boolean; retryAfterMs: number | null },
  now: number,
): Next {
  const attempts = state.attempts + 1;
  // A scripted model consumes a step per call, failed ones included.
  const modelCalls = state.modelCalls + 1;
  const delay = retryDelay(attempts, error.retryable, error.retryAfterMs);
  if (delay === null) {
    const reason = error.retryable ? `model failed after ${attempts - 1} retries: ${error.message}` : `model failed: ${error.message}`;
    return { kind: "exit", state: { ...state, modelCalls, attempts, phase: "exited" }, append: [], exit: { code: ExitCode.error, reason, result: null } };
  }
  return { kind: "continue", state: { ...state, modelCalls, attempts, retryAt: now + delay }, append: [] };
}

/** tools → model: all results of the turn are in, the budget checked for the next call. */
export function afterToolResults(state: LoopState, settings: LoopSettings, resultCount: number): LoopState {
  const { waiting: _done, ...rest } = state;
  const next: LoopState = {
    ...rest,
    phase: "model",
    pendingCalls: [],
    usage: { ...state.usage, toolCalls: state.usage.toolCalls + resultCount },
  };
  return withBudgetCheck(next, settings);
}

/** tools → waiting: a call of the turn waits (its hooks ran; it is re-evaluated, not run again). A new wait of a call replaces its old one. */
export const startWaiting = (loop: LoopState, callId: string, wait: CallWait): LoopState => ({ ...loop, waiting: { ...loop.waiting, [callId]: wait } });

/** A wait's decision or answer was recorded (`waiting` as `withDecision`/`withAnswer` answer it). */
export const withWaits = (loop: LoopState, waiting: Record<string, CallWait>): LoopState => (waiting === loop.waiting ? loop : { ...loop, waiting });

/** waiting → tools: the call has its result. */
export function stopWaiting(loop: LoopState, callId: string): LoopState {
  if (!loop.waiting?.[callId]) return loop;
  const { [callId]: _done, ...waiting } = loop.waiting;
  return { ...loop, waiting };
}

/** The end of a step: its wall time, the tree's view of the budget (when the kernel answered, to a report of this usage), the budget check. */
export function afterStep(loop: LoopState, settings: LoopSettings, wallMs: number, tree: TreeAnswer | null): LoopState {
  const next = { ...loop, wallMs: loop.wallMs + wallMs };
  return withBudgetCheck(tree ? withAnswer(next, tree, ownUse(next)) : next, settings);
}

/** any → exited. */
export const exitedLoop = (loop: LoopState): LoopState => ({ ...loop, phase: "exited", pendingCalls: [] });

// ---------------------------------------------------------------------------------------------
// Transitions from outside (operators, the kernel, workers)

/**
 * A restored checkpoint continues unpaused, with a fresh retry count. Approvals and questions belonged
 * to the saved process: the restored one (a new pid) asks again, so those calls are run afresh.
 */
export function restoredLoop(saved: LoopState): LoopState {
  const waiting = Object.fromEntries(Object.entries(saved.waiting ?? {}).filter(([, w]) => isCollectWait(w)));
  // Its lease was the saved process's, which gave it back at exit: the restore's first report brings its own.
  const { waiting: _saved, lease: _lease, free: _free, ...rest } = saved;
  return { ...rest, paused: false, attempts: 0, retryAt: null, ...(Object.keys(waiting).length ? { waiting } : {}) };
}

/** any live phase → paused. */
export const pausedLoop = (loop: LoopState): LoopState => ({ ...loop, paused: true });

/** paused → the phase it was paused in. */
export const resumedLoop = (loop: LoopState): LoopState => ({ ...loop, paused: false });

/** sleeping → model: a user message, with the budget checked first. */
export const afterMessage = (loop: LoopState, settings: LoopSettings): LoopState =>
  loop.phase === "sleeping" ? withBudgetCheck({ ...loop, phase: "model" }, settings) : loop;

/**
 * A delegated task ended: it wakes a collect that waits, and an immediate result also wakes a
 * sleeping copilot (sleeping → model). A paused process is not woken (resume looks at once).
 */
export function afterTaskResult(loop: LoopState, delivery: DeliveryPolicy): { loop: LoopState; wake: boolean } {
  const wake = !loop.paused && (isCollecting(loop) || (delivery === "immediate" && loop.phase === "sleeping"));
  return { loop: wake && loop.phase === "sleeping" ? { ...loop, phase: "model" } : loop, wake };
}

/** An HTTP dispatch is charged before it runs. */
export const chargedToolCall = (loop: LoopState): LoopState => ({ ...loop, usage: { ...loop.usage, toolCalls: loop.usage.toolCalls + 1 } });
