import { describe, expect, it } from "vitest";
import {
  afterMessage,
  afterModelError,
  afterModelResponse,
  afterStep,
  afterTaskResult,
  afterToolResults,
  budgetUse,
  chargedToolCall,
  DEADMAN_MS,
  exhaustedBudget,
  exitedLoop,
  fitToBudget,
  idle,
  initialLoopState,
  isWaiting,
  nextAlarm,
  pausedLoop,
  phaseOf,
  restoredLoop,
  resumedLoop,
  startWaiting,
  stepDue,
  stopWaiting,
  visibleState,
  withBudgetCheck,
  withinBudget,
  type ExitRecord,
  type Incarnation,
  type LoopSettings,
  type LoopState,
  type Next,
} from "../../../src/process/machine";
import type { ToolCall } from "../../../src/contracts";
import type { ModelResponse } from "../../../src/models/model";

const task: LoopSettings = { mode: "task", maxTurns: 3, budget: {} };
const interactive: LoopSettings = { mode: "interactive", maxTurns: 3, budget: {} };
const call = (id: string): ToolCall => ({ id, name: "read_file", arguments: { path: "/a" } });
const text = (t: string, input = 10, output = 5): ModelResponse => ({ text: t, toolCalls: [], usage: { inputTokens: input, outputTokens: output } });
const tools = (...ids: string[]): ModelResponse => ({ text: "", toolCalls: ids.map(call), usage: { inputTokens: 7, outputTokens: 3 } });
const state = (over: Partial<LoopState> = {}): LoopState => ({ ...initialLoopState(), ...over });
const retryable = (message = "overloaded", retryAfterMs: number | null = null) => ({ message, retryable: true, retryAfterMs });

function exitOf(next: Next) {
  if (next.kind !== "exit") throw new Error(`expected an exit, got ${JSON.stringify(next)}`);
  return next.exit;
}

describe("initialLoopState", () => {
  it("starts in the model phase with nothing used", () => {
    expect(initialLoopState()).toMatchObject({ phase: "model", paused: false, turnCount: 0, modelCalls: 0, attempts: 0, retryAt: null, finalCall: false });
    expect(budgetUse(initialLoopState())).toEqual({ tokens: 0, toolCalls: 0, wallMs: 0 });
  });
});

describe("afterModelResponse", () => {
  it("a final answer in task mode exits 0 with the text", () => {
    const next = afterModelResponse(state(), task, text("the answer"));
    expect(exitOf(next)).toEqual({ code: 0, reason: "completed", result: "the answer" });
    expect(next.state.phase).toBe("exited");
    expect(next.append).toEqual([{ role: "assistant", content: "the answer" }]);
    expect(next.state.modelCalls).toBe(1);
    expect(next.state.usage).toEqual({ inputTokens: 10, outputTokens: 5, toolCalls: 0 });
  });

  it("a final answer in interactive mode sleeps", () => {
    const next = afterModelResponse(state(), interactive, text("hello"));
    expect(next.kind).toBe("continue");
    expect(next.state.phase).toBe("sleeping");
    expect(next.append).toEqual([{ role: "assistant", content: "hello" }]);
    expect(visibleState(next.state)).toBe("sleeping");
  });

  it("tool calls count a turn and move to the tools phase", () => {
    const next = afterModelResponse(state({ turnCount: 1 }), task, tools("c1", "c2"));
    expect(next.kind).toBe("continue");
    expect(next.state).toMatchObject({ phase: "tools", turnCount: 2, modelCalls: 1 });
    expect(next.state.pendingCalls.map((c) => c.id)).toEqual(["c1", "c2"]);
    expect(next.append).toEqual([{ role: "assistant", content: "", toolCalls: [call("c1"), call("c2")] }]);
  });

  it("reaching maxTurns is fine, exceeding it exits 2 without a tools phase", () => {
    const atLimit = afterModelResponse(state({ turnCount: 2 }), task, tools("c"));
    expect(atLimit.state).toMatchObject({ phase: "tools", turnCount: 3 });

    const over = afterModelResponse(state({ turnCount: 3 }), task, tools("c"));
    const exit = exitOf(over);
    expect(exit.code).toBe(2);
    expect(exit.reason).toMatch(/max turns/);
    expect(exit.result).toBeNull();
    expect(over.state.phase).toBe("exited");
    expect(over.state.pendingCalls).toEqual([]);
  });

  it("maxTurns 1 allows exactly one turn of tools", () => {
    const one: LoopSettings = { ...task, maxTurns: 1 };
    const first = afterModelResponse(state(), one, tools("a"));
    expect(first.state.phase).toBe("tools");
    const back = afterToolResults(first.state, one, 1);
    expect(exitOf(afterModelResponse(back, one, tools("b"))).code).toBe(2);
  });

  it("accumulates usage and clears a previous backoff", () => {
    const s = state({ usage: { inputTokens: 100, outputTokens: 50, toolCalls: 4 }, attempts: 2, retryAt: 123, modelCalls: 5 });
    const next = afterModelResponse(s, task, tools("x"));
    expect(next.state).toMatchObject({ usage: { inputTokens: 107, outputTokens: 53, toolCalls: 4 }, attempts: 0, retryAt: null, modelCalls: 6 });
  });

  it("the budget's final call exits 3 with the answer, even if the model still asks for tools", () => {
    const final = afterModelResponse(state({ finalCall: true }), task, text("best effort"));
    expect(exitOf(final)).toEqual({ code: 3, reason: "budget exhausted", result: "best effort" });
    const stubborn = afterModelResponse(state({ finalCall: true }), interactive, { ...tools("x"), text: "partial" });
    expect(exitOf(stubborn)).toEqual({ code: 3, reason: "budget exhausted", result: "partial" });
    expect(stubborn.append).toEqual([{ role: "assistant", content: "partial" }]);
    expect(stubborn.state.pendingCalls).toEqual([]);
  });
});

describe("afterModelError", () => {
  it("a retryable error backs off: retryAt set, attempts and modelCalls incremented", () => {
    const next = afterModelError(state({ modelCalls: 2 }), retryable(), 1_000);
    expect(next.kind).toBe("continue");
    expect(next.state).toMatchObject({ phase: "model", attempts: 1, modelCalls: 3, retryAt: 1_500 });
    expect(next.append).toEqual([]);
    expect(visibleState(next.state)).toBe("running");
  });

  it("backs off 500/1000/2000 ms and exits 1 with the provider's message after 3 retries", () => {
    let s = state();
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const next = afterModelError(s, retryable("rate limited by provider"), 10_000);
      expect(next.kind).toBe("continue");
      delays.push(next.state.retryAt! - 10_000);
      s = next.state;
    }
    expect(delays).toEqual([500, 1_000, 2_000]);
    const last = afterModelError(s, retryable("rate limited by provider"), 10_000);
    const exit = exitOf(last);
    expect(exit.code).toBe(1);
    expect(exit.reason).toContain("rate limited by provider");
    expect(exit.reason).toContain("3 retries");
    expect(last.state).toMatchObject({ phase: "exited", attempts: 4, modelCalls: 4 });
  });

  it("honours a longer retry-after", () => {
    expect(afterModelError(state(), retryable("slow down", 7_000), 0).state.retryAt).toBe(7_000);
  });

  it("a non-retryable error exits 1 at once", () => {
    const next = afterModelError(state(), { message: "script exhausted", retryable: false, retryAfterMs: null }, 0);
    const exit = exitOf(next);
    expect(exit.code).toBe(1);
    expect(exit.reason).toContain("script exhausted");
    expect(exit.result).toBeNull();
    expect(next.state.phase).toBe("exited");
  });

  it("a success after a failure resets the attempts", () => {
    const failed = afterModelError(state(), retryable(), 0).state;
    const ok = afterModelResponse(failed, task, tools("a")).state;
    expect(ok.attempts).toBe(0);
    // three more failures are allowed again
    let s = afterToolResults(ok, task, 1);
    for (let i = 0; i < 3; i++) s = afterModelError(s, retryable(), 0).state;
    expect(s.phase).toBe("model");
  });
});

describe("afterToolResults", () => {
  it("adds the tool calls to usage and returns to the model", () => {
    const inTools = afterModelResponse(state(), task, tools("a", "b")).state;
    const next = afterToolResults(inTools, task, 2);
    expect(next).toMatchObject({ phase: "model", pendingCalls: [], finalCall: false });
    expect(next.usage.toolCalls).toBe(2);
  });

  it.each([
    ["toolCalls", { toolCalls: 2 }, { toolCalls: 0 }, 2, true],
    ["toolCalls not yet", { toolCalls: 3 }, { toolCalls: 0 }, 2, false],
    ["tokens", { tokens: 100 }, { inputTokens: 60, outputTokens: 40 }, 1, true],
    ["tokens not yet", { tokens: 101 }, { inputTokens: 60, outputTokens: 40 }, 1, false],
    ["wallMs", { wallMs: 1_000 }, {}, 1, true],
    ["unlimited", {}, { inputTokens: 1e9, outputTokens: 1e9 }, 1_000, false],
  ] as const)("flags the final call when a budget dimension is spent: %s", (_, budget, usage, results, flagged) => {
    const settings: LoopSettings = { ...task, budget };
    const s = state({ phase: "tools", wallMs: 1_000, usage: { inputTokens: 0, outputTokens: 0, toolCalls: 0, ...usage } });
    expect(afterToolResults(s, settings, results).finalCall).toBe(flagged);
  });

  it("the flagged call's answer then exits 3", () => {
    const settings: LoopSettings = { ...task, budget: { toolCalls: 1 } };
    const inTools = afterModelResponse(state(), settings, tools("a")).state;
    const back = afterToolResults(inTools, settings, 1);
    expect(back.finalCall).toBe(true);
    expect(exitOf(afterModelResponse(back, settings, text("summary"))).code).toBe(3);
  });
});

describe("withBudgetCheck", () => {
  const settings: LoopSettings = { ...task, budget: { tokens: 10 } };
  const spent = { inputTokens: 10, outputTokens: 0, toolCalls: 0 };
  it("flags only a process about to call the model", () => {
    expect(withBudgetCheck(state({ usage: spent }), settings).finalCall).toBe(true);
    expect(withBudgetCheck(state({ usage: spent, phase: "sleeping" }), settings).finalCall).toBe(false);
    expect(withBudgetCheck(state({ usage: spent, phase: "tools" }), settings).finalCall).toBe(false);
    expect(withBudgetCheck(state(), settings).finalCall).toBe(false);
  });
  it("is idempotent once flagged", () => {
    const s = state({ usage: spent, finalCall: true });
    expect(withBudgetCheck(s, settings)).toBe(s);
  });
});

describe("exhaustedBudget", () => {
  const used = { tokens: 100, toolCalls: 5, wallMs: 2_000 };
  it.each([
    [{}, null],
    [{ tokens: 101, toolCalls: 6, wallMs: 2_001 }, null],
    [{ tokens: 100 }, "tokens"],
    [{ tokens: 50 }, "tokens"],
    [{ toolCalls: 5 }, "toolCalls"],
    [{ wallMs: 2_000 }, "wallMs"],
    [{ tokens: 1_000, wallMs: 1 }, "wallMs"],
    [{ tokens: 0 }, "tokens"],
    [{ tokens: 1, toolCalls: 1 }, "tokens"], // the first spent dimension, in a fixed order
  ])("%j → %s", (limit, expected) => {
    expect(exhaustedBudget(limit, used)).toBe(expected);
  });

  it("budgetUse sums input and output tokens", () => {
    expect(budgetUse(state({ usage: { inputTokens: 3, outputTokens: 4, toolCalls: 2 }, wallMs: 9 }))).toEqual({ tokens: 7, toolCalls: 2, wallMs: 9 });
  });
});

describe("visibleState", () => {
  it.each([
    [{ phase: "model" }, "running"],
    [{ phase: "tools" }, "running"],
    [{ phase: "sleeping" }, "sleeping"],
    [{ phase: "exited" }, "exited"],
    [{ phase: "model", paused: true }, "paused"],
    [{ phase: "sleeping", paused: true }, "paused"],
    [{ phase: "exited", paused: true }, "exited"],
  ] as [Partial<LoopState>, string][])("%j → %s", (over, expected) => {
    expect(visibleState(state(over))).toBe(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// Phases, transitions from outside, and the alarm

const NOW = 1_000_000;
const wait = (deadline: number, taskIds = ["t1"]) => ({ taskIds, deadline });
const exitRecord = (reported: boolean): ExitRecord => ({ status: { code: 0, reason: "completed", at: "2026-01-01T00:00:00.000Z" }, result: "done", reported });
const run = (over: Partial<Incarnation> = {}): Incarnation => ({ ...idle(), ...over });

describe("phaseOf", () => {
  it.each([
    ["model", {}, { name: "model" }],
    ["backoff", { retryAt: NOW + 500 }, { name: "backoff", until: NOW + 500 }],
    ["tools", { phase: "tools" }, { name: "tools" }],
    ["waiting", { phase: "tools", waiting: { a: wait(NOW + 9), b: wait(NOW + 5) } }, { name: "waiting", until: NOW + 5 }],
    ["tools after its waits ended", { phase: "tools", waiting: {} }, { name: "tools" }],
    ["sleeping", { phase: "sleeping" }, { name: "sleeping" }],
    ["paused model", { paused: true }, { name: "paused", from: { name: "model" } }],
    ["paused waiting", { phase: "tools", paused: true, waiting: { a: wait(NOW) } }, { name: "paused", from: { name: "waiting", until: NOW } }],
    ["exited (loop only)", { phase: "exited" }, { name: "exited", reported: true }],
  ] as [string, Partial<LoopState>, unknown][])("%s", (_, over, expected) => {
    expect(phaseOf({ loop: state(over), exit: null })).toEqual(expected);
  });

  it("an exit record makes it exited, whatever the loop says, reported or not", () => {
    expect(phaseOf({ loop: state({ paused: true }), exit: exitRecord(false) })).toEqual({ name: "exited", reported: false });
    expect(phaseOf({ loop: state(), exit: exitRecord(true) })).toEqual({ name: "exited", reported: true });
  });

  it("visibleState reads a waiting collect as sleeping", () => {
    expect(visibleState(state({ phase: "tools", waiting: { a: wait(NOW) } }))).toBe("sleeping");
    expect(visibleState(state({ retryAt: NOW }))).toBe("running");
    expect(isWaiting(state({ phase: "tools", waiting: { a: wait(NOW) } }))).toBe(true);
    expect(isWaiting(state({ phase: "model", waiting: { a: wait(NOW) } }))).toBe(false);
  });
});

describe("nextAlarm", () => {
  const at = (over: Partial<LoopState>, inc: Partial<Incarnation> = {}, exit: ExitRecord | null = null) => nextAlarm({ loop: state(over), exit }, run(inc), NOW);

  it("runs the next step at once in the model and tools phases", () => {
    expect(at({})).toBe(NOW);
    expect(at({ phase: "tools" })).toBe(NOW);
  });
  it("waits out a backoff, even when woken", () => {
    expect(at({ retryAt: NOW + 2_000 })).toBe(NOW + 2_000);
    expect(at({ retryAt: NOW + 2_000 }, { wake: true })).toBe(NOW + 2_000);
  });
  it("a waiting collect sleeps until its earliest deadline, or looks at once when woken", () => {
    expect(at({ phase: "tools", waiting: { a: wait(NOW + 9_000), b: wait(NOW + 4_000) } })).toBe(NOW + 4_000);
    expect(at({ phase: "tools", waiting: { a: wait(NOW + 9_000) } }, { wake: true })).toBe(NOW);
  });
  it("arms nothing for a sleeping or paused process", () => {
    expect(at({ phase: "sleeping" })).toBeNull();
    expect(at({ phase: "sleeping" }, { wake: true })).toBeNull();
    expect(at({ paused: true })).toBeNull();
    expect(at({ paused: true, phase: "tools", waiting: { a: wait(NOW + 1) } }, { wake: true })).toBeNull();
  });
  it("while a step runs, the alarm is its deadman, whatever the phase (a wake waits for the step's end)", () => {
    const deadman = NOW + DEADMAN_MS;
    expect(at({}, { stepping: true, deadman })).toBe(deadman);
    expect(at({ paused: true }, { stepping: true, deadman })).toBe(deadman);
    expect(at({ phase: "sleeping" }, { stepping: true, deadman, wake: true })).toBe(deadman);
    expect(at({ phase: "tools", waiting: { a: wait(NOW + 60_000) } }, { stepping: true, deadman, wake: true })).toBe(deadman);
  });
  it("the lost wake-up: a result delivered during a step is honoured at the step's end", () => {
    const waiting: Partial<LoopState> = { phase: "tools", waiting: { a: wait(NOW + 600_000) } };
    // During the step the wake only leaves a flag; the deadman stays.
    expect(at(waiting, { stepping: true, deadman: NOW + DEADMAN_MS, wake: true })).toBe(NOW + DEADMAN_MS);
    // At its end the flag turns into an alarm now, not the collect's deadline.
    expect(at(waiting, { wake: true })).toBe(NOW);
  });
  it("reports an exit until the kernel has it, then arms nothing, not even for a step in flight", () => {
    expect(at({ phase: "exited" }, {}, exitRecord(false))).toBe(NOW);
    expect(at({ phase: "exited" }, { reportRetryAt: NOW + 1_000 }, exitRecord(false))).toBe(NOW + 1_000);
    expect(at({ phase: "exited" }, { stepping: true, deadman: NOW + DEADMAN_MS }, exitRecord(false))).toBe(NOW + DEADMAN_MS);
    expect(at({ phase: "exited" }, {}, exitRecord(true))).toBeNull();
    expect(at({ phase: "exited" }, { stepping: true, deadman: NOW + DEADMAN_MS }, exitRecord(true))).toBeNull();
  });
});

describe("stepDue", () => {
  it.each([
    [{}, true],
    [{ phase: "tools" }, true],
    [{ phase: "tools", waiting: { a: wait(NOW + 9) } }, true],
    [{ retryAt: NOW }, true],
    [{ retryAt: NOW + 1 }, false],
    [{ phase: "sleeping" }, false],
    [{ paused: true }, false],
    [{ phase: "exited" }, false],
  ] as [Partial<LoopState>, boolean][])("%j → %s", (over, expected) => {
    expect(stepDue({ loop: state(over), exit: null }, NOW)).toBe(expected);
  });
});

describe("transitions from outside", () => {
  it("pause and resume keep the phase", () => {
    const waiting = state({ phase: "tools", waiting: { a: wait(NOW) } });
    const paused = pausedLoop(waiting);
    expect(phaseOf({ loop: paused, exit: null }).name).toBe("paused");
    expect(resumedLoop(paused)).toEqual(waiting);
  });

  it("a message wakes a sleeping process into the model phase, with its budget checked", () => {
    expect(afterMessage(state({ phase: "sleeping" }), task).phase).toBe("model");
    const spent = state({ phase: "sleeping", usage: { inputTokens: 10, outputTokens: 0, toolCalls: 0 } });
    expect(afterMessage(spent, { ...task, budget: { tokens: 10 } })).toMatchObject({ phase: "model", finalCall: true });
    const busy = state({ phase: "tools" });
    expect(afterMessage(busy, task)).toBe(busy);
  });

  it.each([
    ["a waiting collect, any policy", { phase: "tools", waiting: { a: wait(NOW) } }, "on_demand", true, "tools"],
    ["a sleeping copilot, immediate", { phase: "sleeping" }, "immediate", true, "model"],
    ["a sleeping copilot, deferred", { phase: "sleeping" }, "deferred", false, "sleeping"],
    ["a running copilot", {}, "immediate", false, "model"],
    ["a paused copilot that waits", { phase: "tools", paused: true, waiting: { a: wait(NOW) } }, "immediate", false, "tools"],
    ["a paused sleeping copilot", { phase: "sleeping", paused: true }, "immediate", false, "sleeping"],
  ] as const)("a task result wakes %s: %s", (_, over, delivery, wake, phase) => {
    const out = afterTaskResult(state(over as Partial<LoopState>), delivery);
    expect(out.wake).toBe(wake);
    expect(out.loop.phase).toBe(phase);
  });

  it("a restore continues unpaused with a fresh retry count", () => {
    expect(restoredLoop(state({ paused: true, attempts: 2, retryAt: NOW, turnCount: 4 }))).toMatchObject({ paused: false, attempts: 0, retryAt: null, turnCount: 4 });
  });

  it("an HTTP dispatch is charged one tool call", () => {
    expect(chargedToolCall(state()).usage.toolCalls).toBe(1);
  });

  it("exits drop the turn's pending calls", () => {
    expect(exitedLoop(state({ phase: "tools", pendingCalls: [call("a")] }))).toMatchObject({ phase: "exited", pendingCalls: [] });
  });
});

describe("waits of a turn", () => {
  it("start and stop a wait per call", () => {
    const inTools = state({ phase: "tools", pendingCalls: [call("a"), call("b")] });
    const one = startWaiting(inTools, "a", wait(NOW + 5));
    const two = startWaiting(one, "b", wait(NOW + 3));
    expect(phaseOf({ loop: two, exit: null })).toEqual({ name: "waiting", until: NOW + 3 });
    const left = stopWaiting(two, "b");
    expect(left.waiting).toEqual({ a: wait(NOW + 5) });
    expect(phaseOf({ loop: stopWaiting(left, "a"), exit: null })).toEqual({ name: "tools" });
    expect(stopWaiting(inTools, "x")).toBe(inTools);
    expect(afterToolResults(two, task, 2)).not.toHaveProperty("waiting");
  });
});

describe("afterStep", () => {
  it("adds the step's wall time and the tree's view, then checks the budget", () => {
    const tree = { external: { tokens: 5, toolCalls: 1, wallMs: 0 }, ancestorsLeft: { tokens: 100 } };
    const next = afterStep(state({ wallMs: 10 }), { ...task, budget: { wallMs: 50 } }, 40, tree);
    expect(next).toMatchObject({ wallMs: 50, external: tree.external, ancestorsLeft: tree.ancestorsLeft, finalCall: true });
    expect(afterStep(state(), task, 5, null)).toMatchObject({ wallMs: 5, finalCall: false });
  });
  it("an ancestor whose budget is spent makes the whole subtree take its last call", () => {
    const next = afterStep(state(), task, 0, { external: { tokens: 0, toolCalls: 0, wallMs: 0 }, ancestorsLeft: { tokens: 0 } });
    expect(next.finalCall).toBe(true);
  });
});

describe("fitToBudget / withinBudget", () => {
  const calls = [call("a"), call("b"), call("c")];
  it("refuses the calls past the budget, in call order", () => {
    expect(fitToBudget(calls, {}, 0)).toEqual({ run: calls, refused: [] });
    expect(fitToBudget(calls, { toolCalls: 2 }, 0).refused.map((c) => c.id)).toEqual(["c"]);
    expect(fitToBudget(calls, { toolCalls: 2 }, 5).run).toEqual([]);
    expect(fitToBudget(calls, {}, 0, 1).run.map((c) => c.id)).toEqual(["a"]);
  });
  it("counts descendants' tool calls and the ancestors' headroom", () => {
    const loop = state({ usage: { inputTokens: 0, outputTokens: 0, toolCalls: 1 }, external: { tokens: 0, toolCalls: 1, wallMs: 0 } });
    expect(withinBudget(loop, calls, { toolCalls: 3 }).run.map((c) => c.id)).toEqual(["a"]);
    expect(withinBudget({ ...loop, ancestorsLeft: { toolCalls: 0 } }, calls, {}).run).toEqual([]);
  });
});
