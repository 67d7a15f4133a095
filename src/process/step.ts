/**
 * One step of the agent loop (SPEC §5): the model call, persisted, then that turn's tool calls,
 * each result persisted as it lands. Every model call and every tool call goes through the
 * journal, so a step cut short (the object died) resumes where it stopped: a persisted answer is
 * never asked for again, a persisted tool result never run again. The I/O is injected: the process
 * object supplies its store, model, tool dispatch and kernel report.
 */
import { DEFAULT_SYSTEM_PROMPT, ExitCode, type Message, type ProcessEventType, type ToolCall, type ToolResult } from "../contracts";
import type { Approval } from "../contracts/approvals";
import { trimContext } from "../agent/context";
import { toolSchemas } from "../agent/tool-schemas";
import { ModelError, type ModelResponse, type ToolSchema } from "../models/model";
import { describeRefusal } from "./conversation";
import { journalKey } from "./journal";
import {
  afterLeaseAsk,
  afterModelError,
  afterModelResponse,
  afterStep,
  afterToolResults,
  blockedOnLease,
  FINAL_CALL_PROMPT,
  isWaiting,
  startWaiting,
  stopWaiting,
  withinBudget,
  type LoopSettings,
  type LoopState,
  type Next,
  type TreeAnswer,
} from "./machine";
import { exitChange, type ProcessStore } from "./store";
import type { Settle } from "./tools/dispatcher";
import type { ToolRegistry } from "./tools/registry";
import { failedResult, okResult, replacedResult, toolMessage } from "./tools/result";
import type { ToolOutcome } from "./tools/types";
import type { ProcessConfig } from "../rpc/messages";
import { approvalEvent, decisionOf, isApprovalWait, isCollectWait, isInputWait, refusalText, type ApprovalWait, type CallWait } from "./waits";

/** What a step needs of its process. */
export interface StepIO {
  config: ProcessConfig;
  store: Pick<ProcessStore, "loop" | "exit" | "commit" | "conversation" | "journal" | "beginModelCall">;
  /** The model call; the process adds the abort signal (a kill abandons it) and streams text deltas. */
  generate(request: { system: string; messages: Message[]; tools: ToolSchema[] }, call: number): Promise<ModelResponse>;
  /** The process's tools as the model may see them now (the MCP catalogue is asked again before each model call). */
  tools(): Promise<ToolRegistry>;
  /**
   * Dispatches calls with the process's permissions and hooks; each result goes to `settle`, each wait to
   * `wait`. `approved`: an approved call, gated only by the hooks after the one that asked (`afterHook`).
   */
  dispatch(calls: ToolCall[], settle: Settle, wait: (call: ToolCall, wait: CallWait) => void, approved?: { afterHook: string; approvalId: string }): Promise<unknown>;
  /** Asks a call that waits (a collect, a question) again: its outcome, null while it still waits, or a new wait. */
  resume(call: ToolCall, wait: CallWait): Promise<ToolOutcome | null>;
  /** The approval as the kernel has it now (expired first when pending past its expiry). */
  approvalState(approvalId: string): Promise<Approval>;
  /** Reports progress to the kernel; answers the tree's view of the budget and the new lease, or null when the kernel did not answer. */
  report(loop: LoopState): Promise<TreeAnswer | null>;
  now(): number;
}

export const settingsOf = (config: ProcessConfig): LoopSettings => ({ mode: config.spec.mode, maxTurns: config.spec.maxTurns, budget: config.budget });

/** What a model call came to, as the journal records it. */
export type ModelOutcome =
  | { response: ModelResponse }
  | { error: { message: string; status: number | null; retryable: boolean; retryAfterMs: number | null } }
  /** The answer does not fit the conversation: the process ends without keeping it. */
  | { refused: string };

type Events = [ProcessEventType, unknown][];

/**
 * `single`: exactly one step of a paused process (`POST /v1/procs/:pid/step`, a debugger's step): the
 * model call, or else the turn of tool calls, and the process stays paused.
 */
export async function runStep(io: StepIO, { single = false }: { single?: boolean } = {}): Promise<void> {
  const { store } = io;
  const startedAt = io.now();
  const phase = store.loop.phase;
  if (phase === "model" && blockedOnLease(store.loop)) {
    // The rest of the tree's budget is leased to others: ask again, and call only once some is free.
    await io.report(store.loop);
    if (store.exit) return;
    store.commit({ loop: afterLeaseAsk(store.loop, settingsOf(io.config), io.now()) });
    if (blockedOnLease(store.loop)) return;
  }
  if (phase === "model") await callModel(io);
  // The answer is persisted first, so a step cut short resumes with its tools, never by asking the model again.
  const runTools = single ? phase === "tools" : !store.loop.paused;
  if (runTools && store.loop.phase === "tools" && !store.exit) await runTurn(io);
  if (store.exit) return;
  // The step's wall time goes into the report; the tree's answer and the budget check land in one commit.
  const wallMs = io.now() - startedAt;
  const tree = await io.report({ ...store.loop, wallMs: store.loop.wallMs + wallMs });
  if (store.exit) return;
  store.commit({ loop: afterStep(store.loop, settingsOf(io.config), wallMs, tree) });
}

async function callModel(io: StepIO) {
  const { store, config } = io;
  store.beginModelCall();
  const settings = settingsOf(config);
  const loop = store.loop;
  const n = loop.modelCalls;
  const messages = store.conversation.all();
  if (loop.finalCall) messages.push({ role: "user", content: FINAL_CALL_PROMPT });
  const request = {
    system: config.spec.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
    messages: trimContext(messages, config.spec.maxContextTokens),
    tools: loop.finalCall ? [] : toolSchemas(config.tools, await io.tools()),
  };
  await store.journal.run<ModelOutcome>(
    journalKey.model(n),
    async () => {
      try {
        const response = await io.generate(request, n);
        const room = store.conversation.fits(afterModelResponse(store.loop, settings, response).append);
        return room.ok ? { response } : { refused: describeRefusal(room, "the model's answer") };
      } catch (err) {
        const e = err instanceof ModelError ? err : new ModelError(err instanceof Error ? err.message : String(err), null);
        return { error: { message: e.message, status: e.status, retryable: e.retryable, retryAfterMs: e.retryAfterMs } };
      }
    },
    (outcome) => persistModelOutcome(io, n, outcome),
  );
}

function persistModelOutcome(io: StepIO, n: number, outcome: ModelOutcome) {
  const { store } = io;
  // A kill abandoned the call: nothing of it is kept.
  if (store.exit) return;
  // Reduced on the state as it is now: a pause or dispatch may have landed while the model ran.
  const loop = store.loop;
  const at = new Date(io.now()).toISOString();
  if ("refused" in outcome) {
    // Nothing of the answer is kept, and the exit is persisted: it is never requested again.
    store.commit(exitChange(loop, { code: ExitCode.error, reason: outcome.refused, at }, null));
    return;
  }
  let next: Next, events: Events;
  if ("response" in outcome) {
    const { text, toolCalls, usage } = outcome.response;
    next = afterModelResponse(loop, settingsOf(io.config), outcome.response);
    events = [["model", { call: n, text, toolCalls, usage }]];
    if (next.state.turnCount > loop.turnCount) events.push(["turn", { turn: next.state.turnCount }]);
    if (next.state.phase === "sleeping") events.push(["state", { state: "sleeping" }]);
  } else {
    next = afterModelError(loop, outcome.error, io.now());
    events = [["model", { call: n, error: outcome.error.message, status: outcome.error.status, retryAt: next.state.retryAt }]];
  }
  store.commit(
    next.kind === "exit"
      ? exitChange(next.state, { code: next.exit.code, reason: next.exit.reason, at }, next.exit.result, { append: next.append, events })
      : { loop: next.state, append: next.append, events },
  );
}

/** A pending approval the kernel could not be asked about is asked again this much later. */
export const APPROVAL_RETRY_MS = 5_000;

/**
 * Runs the turn's tool calls that have no recorded result yet. A call that waits (a collect not yet
 * satisfied, a call a policy asks a person about, a question) leaves the turn open while the others
 * run: the process sleeps until a result, decision or answer is delivered or the earliest deadline
 * passes, then this runs again and settles what is ready.
 */
async function runTurn(io: StepIO) {
  const { store } = io;
  const loop = store.loop;
  const { run, refused } = withinBudget(loop, loop.pendingCalls, io.config.budget);
  const startedAt = io.now();
  const settle = recorder(io);
  for (const call of refused) {
    await settle(call, async () => failedResult(call, { code: "budget_exhausted", message: "no tool calls remain in this process's budget" }, startedAt));
  }
  // Whether a call started or settled a wait for a person this step: the stream then says the process sleeps again.
  let asked = false;
  const onWait = (call: ToolCall, wait: CallWait) => {
    asked ||= !isCollectWait(wait);
    store.commit({ loop: startWaiting(store.loop, call.id, wait), events: waitEvents(call, wait) });
  };
  const waitedBefore = loop.waiting ?? {};
  const fresh = run.filter((c) => !store.journal.has(journalKey.tool(c.id)) && !waitedBefore[c.id]);
  await io.dispatch(fresh, settle, onWait);
  if (store.exit) return;
  // Calls that already waited are asked again, without running their hooks again.
  for (const call of run) {
    const wait = waitedBefore[call.id];
    if (!wait || store.exit) continue;
    if (isApprovalWait(wait)) {
      asked ||= wait.decision !== undefined || wait.deadline <= io.now();
      await resumeApproval(io, call, wait, settle, onWait);
      continue;
    }
    asked ||= isInputWait(wait) && wait.answer !== undefined;
    await settle(call, async () => {
      const out = await io.resume(call, wait);
      if (!out) return undefined;
      if ("wait" in out) {
        onWait(call, out.wait);
        return undefined;
      }
      return out.ok ? okResult(call, out.output, startedAt) : failedResult(call, out.failure, startedAt);
    });
  }
  if (store.exit) return;
  if (isWaiting(store.loop)) {
    if (asked) store.commit({ events: [["state", { state: "sleeping", waitingFor: waitingFor(store.loop) }]] });
    return;
  }
  store.commit({ loop: afterToolResults(store.loop, settingsOf(io.config), run.length) });
}

/**
 * A call that waits for a decision: past its deadline with none delivered, the kernel is asked (it
 * expires a pending approval then). Approved, the call runs with the hooks after the one that asked
 * (they may veto, or ask again) and the approver's arguments if any; rejected or expired, the model
 * gets the refusal as the call's error result.
 */
async function resumeApproval(io: StepIO, call: ToolCall, wait: ApprovalWait, settle: Settle, onWait: (call: ToolCall, wait: CallWait) => void) {
  const { store } = io;
  let decision = wait.decision;
  if (!decision) {
    if (wait.deadline > io.now()) return;
    let row: Approval | null = null;
    try {
      row = await io.approvalState(wait.approvalId);
    } catch (err) {
      console.warn(`process ${io.config.pid}: approval ${wait.approvalId} could not be looked up, will retry: ${err instanceof Error ? err.message : String(err)}`);
    }
    // A delivery may have recorded the decision while the kernel was asked: it is kept, never overwritten.
    const current = store.loop.waiting?.[call.id];
    if (!current || !isApprovalWait(current) || current.approvalId !== wait.approvalId) return;
    const found = current.decision ?? (row && decisionOf(row));
    if (!found) {
      // Not decided: look again at the kernel's expiry (it is the authority), or shortly when it could not be asked.
      const deadline = row ? Math.max(Date.parse(row.expiresAt), io.now() + 1_000) : io.now() + APPROVAL_RETRY_MS;
      store.commit({ loop: startWaiting(store.loop, call.id, { ...current, deadline }) });
      return;
    }
    decision = found;
    if (!current.decision) store.commit({ loop: startWaiting(store.loop, call.id, { ...current, decision }), events: [["approval", approvalEvent(call, current, decision)]] });
  }
  if (decision.state !== "approved") {
    const refusal = refusalText(decision, wait.approvalId);
    await settle(call, async () => failedResult(call, { code: "rejected", message: refusal }, io.now()));
    return;
  }
  const approved: ToolCall = decision.arguments ? { ...call, arguments: decision.arguments } : call;
  await io.dispatch([approved], settle, onWait, { afterHook: wait.hook, approvalId: wait.approvalId });
}

/** What a process's stream says when a call starts to wait. */
function waitEvents(call: ToolCall, wait: CallWait): [ProcessEventType, unknown][] {
  if (isApprovalWait(wait)) {
    return [["approval", { approvalId: wait.approvalId, toolCallId: call.id, tool: call.name, arguments: call.arguments, state: "pending", hook: wait.hook, reason: wait.reason, expiresAt: new Date(wait.deadline).toISOString() }]];
  }
  if (isInputWait(wait)) return [["input", { toolCallId: call.id, question: wait.question, state: "asked", to: wait.to, ...(wait.taskId ? { taskId: wait.taskId } : {}) }]];
  return [["state", { state: "sleeping", collect: { taskIds: wait.taskIds, deadline: new Date(wait.deadline).toISOString() } }]];
}

/** What the turn's open calls wait for, for the `state` event. */
function waitingFor(loop: LoopState) {
  const waits = Object.values(loop.waiting ?? {});
  return {
    approvals: waits.filter(isApprovalWait).map((w) => w.approvalId),
    questions: waits.filter(isInputWait).length,
    collects: waits.filter(isCollectWait).length,
  };
}

/**
 * The loop's `settle`: a call's effect runs unless the journal has its result; the result (replaced
 * by an error when it is too large to keep) is recorded with its tool message and event.
 */
function recorder(io: StepIO): Settle {
  const { store } = io;
  return async (call, effect) => {
    let produced: ToolResult | undefined;
    const recorded = await store.journal.run<ToolResult>(
      journalKey.tool(call.id),
      async () => {
        produced = await effect();
        if (!produced) return undefined;
        // A result too large to keep is replaced by an error the model can act on (read less at a time).
        const room = store.conversation.fits([toolMessage(produced)]);
        return room.ok ? produced : replacedResult(produced, { code: "too_large", message: describeRefusal(room, `the result of ${produced.name}`) });
      },
      (result) => {
        // A call that outlived its process is recorded, never shown.
        if (store.exit) return;
        store.commit({ loop: stopWaiting(store.loop, call.id), append: [toolMessage(result)], events: [["tool_result", result]] });
      },
    );
    return produced ?? recorded;
  };
}
