/**
 * The agent step of SPEC §5 as plain functions: given the persisted loop state and what just
 * happened (a model answer, a model failure, a batch of tool results), they say what to persist and
 * what comes next. The process object does the I/O around them.
 */
import { ExitCode, type Budget, type BudgetUse, type Message, type ToolCall, type Usage } from "../contracts";
import type { ModelResponse } from "../models/model";
import { retryDelay } from "./retry";

export type LoopPhase = "model" | "tools" | "sleeping" | "exited";

export interface LoopState {
  phase: LoopPhase;
  /** Set while the process is paused: the phase it resumes into. */
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
  /** What descendants have used: it counts against this process's budget (budgets are tree-wide). */
  external?: BudgetUse;
  /** The least any ancestor has left of its budget: the tree stops when an ancestor's runs out. */
  ancestorsLeft?: Budget;
  /** Collect calls of the current turn still waiting: the task ids they cover and their deadline. */
  waiting?: Record<string, { taskIds: string[]; deadline: number }>;
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

export interface Exit {
  code: number;
  reason: string;
  result: string | null;
}

export interface LoopSettings {
  mode: "task" | "interactive";
  maxTurns: number;
  budget: Budget;
}

export type Next =
  | { kind: "continue"; state: LoopState; append: Message[] }
  | { kind: "exit"; state: LoopState; append: Message[]; exit: Exit };

/** This process's own usage. */
export const ownUse = (s: LoopState): BudgetUse => ({
  tokens: s.usage.inputTokens + s.usage.outputTokens,
  toolCalls: s.usage.toolCalls,
  wallMs: s.wallMs,
});

/** What counts against this process's budget: its own usage and its descendants'. */
export const budgetUse = (s: LoopState): BudgetUse => {
  const own = ownUse(s);
  const ext = s.external;
  return ext ? { tokens: own.tokens + ext.tokens, toolCalls: own.toolCalls + ext.toolCalls, wallMs: own.wallMs + ext.wallMs } : own;
};

/** The first budget dimension that is spent, or null. */
export function exhaustedBudget(limit: Budget, used: BudgetUse): keyof Budget | null {
  for (const key of ["tokens", "toolCalls", "wallMs"] as const) {
    const cap = limit[key];
    if (cap !== undefined && used[key] >= cap) return key;
  }
  return null;
}

export const FINAL_CALL_PROMPT =
  "Your budget is exhausted. Do not call any tools. Reply now with your best final answer from what you know so far.";

/** A persisted model answer: a final answer, or a turn of tool calls. */
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

/** A failed model call: back off and try again, or give up with exit 1. */
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

/** All results of the turn are in: back to the model, with the budget checked for the next call. */
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

/** Flags the last call when a budget dimension is spent. */
export function withBudgetCheck(state: LoopState, settings: LoopSettings): LoopState {
  if (state.finalCall || state.phase !== "model") return state;
  const spent = exhaustedBudget(settings.budget, budgetUse(state)) ?? exhaustedBudget(state.ancestorsLeft ?? {}, { tokens: 0, toolCalls: 0, wallMs: 0 });
  return spent ? { ...state, finalCall: true } : state;
}

/** Human-readable state of a live process. */
export function visibleState(state: LoopState): "running" | "sleeping" | "paused" | "exited" {
  if (state.phase === "exited") return "exited";
  if (state.paused) return "paused";
  return state.phase === "sleeping" || isWaiting(state) ? "sleeping" : "running";
}

/** Blocked in a collect: no CPU, woken by a delivered result or the collect's deadline. */
export const isWaiting = (state: LoopState): boolean => state.phase === "tools" && Object.keys(state.waiting ?? {}).length > 0;
