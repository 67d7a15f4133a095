import { describe, expect, it } from "vitest";
import { collectResult, collectSatisfied } from "../../src/agent/collect";
import { outstanding, remaining, reserveBudget, spentDimension } from "../../src/agent/budget";
import type { CollectedTask, TaskState } from "../../src/contracts/tasks";

const task = (state: TaskState, i = 0): CollectedTask => ({ taskId: `t${i}`, pid: i, agent: "a", state, result: null, reason: null, usage: { inputTokens: 0, outputTokens: 0, toolCalls: 0 } });
const tasks = (...states: TaskState[]) => states.map((s, i) => task(s, i));

describe("collectSatisfied", () => {
  it.each([
    ["all", 1, ["completed", "working"], false],
    ["all", 1, ["completed", "failed", "canceled"], true],
    ["all", 1, [], true],
    ["any", 1, ["working", "submitted"], false],
    ["any", 1, ["working", "failed"], true],
    ["first_n", 2, ["completed", "working", "working"], false],
    ["first_n", 2, ["completed", "canceled", "working"], true],
    ["first_n", 5, ["completed", "completed"], true],
    ["quorum", 2, ["completed", "failed", "working"], false],
    ["quorum", 2, ["completed", "completed", "working"], true],
    ["quorum", 2, ["failed", "failed", "working"], true],
    ["quorum", 2, ["failed", "working", "working"], false],
  ] as const)("%s n=%i over %j → %s", (mode, n, states, expected) => {
    expect(collectSatisfied(tasks(...states), mode, n)).toBe(expected);
  });

  it("sorts tasks by outcome and names the pending ones", () => {
    const r = collectResult(tasks("completed", "failed", "rejected", "canceled", "working", "submitted"), false);
    expect([r.completed, r.failed, r.canceled, r.pending].map((l) => l.map((t) => t.state))).toEqual([["completed"], ["failed", "rejected"], ["canceled"], ["working", "submitted"]]);
    expect(r.satisfied).toBe(false);
  });
});

describe("budget reservation", () => {
  it("reserves only dimensions the agent or the delegation sets, clamped to what the parent has left", () => {
    expect(reserveBudget({}, undefined, { tokens: 900 })).toEqual({});
    expect(reserveBudget({ tokens: 5000 }, undefined, { tokens: 900 })).toEqual({ tokens: 900 });
    expect(reserveBudget({}, { tokens: 100, toolCalls: 3 }, { tokens: 900 })).toEqual({ tokens: 100, toolCalls: 3 });
    expect(reserveBudget({ tokens: 50 }, { tokens: 100 }, {})).toEqual({ tokens: 50 });
  });

  it("computes what is left and what a live child still holds", () => {
    expect(remaining({ tokens: 100, wallMs: 10 }, { tokens: 40, toolCalls: 99, wallMs: 20 })).toEqual({ tokens: 60, wallMs: 0 });
    expect(outstanding({ tokens: 100 }, { tokens: 30, toolCalls: 5, wallMs: 1 })).toEqual({ tokens: 70, toolCalls: 0, wallMs: 0 });
    expect(outstanding({ tokens: 100 }, { tokens: 130, toolCalls: 0, wallMs: 0 }).tokens).toBe(0);
    expect(spentDimension({ tokens: 5, toolCalls: 0 })).toBe("toolCalls");
    expect(spentDimension({ tokens: 5 })).toBeNull();
  });
});

describe("collectResult size bound", () => {
  const task = (i: number, result: string): CollectedTask => ({ taskId: `t-${i}`, pid: i, agent: "w", state: "completed", result, reason: null, usage: { inputTokens: 0, outputTokens: 0, toolCalls: 0 } });

  it("keeps results whole while they fit", () => {
    const r = collectResult([task(1, "a".repeat(1000))], true, 10_000);
    expect(r.completed[0]!.result).toBe("a".repeat(1000));
  });

  it("cuts each of many large results to a share, naming the task that has all of it", () => {
    const tasks = Array.from({ length: 40 }, (_, i) => task(i, "x".repeat(1_000_000)));
    const r = collectResult(tasks, true, 1024 * 1024);
    expect(JSON.stringify(r).length).toBeLessThan(1024 * 1024);
    expect(r.completed).toHaveLength(40);
    expect(r.completed[7]!.result).toMatch(/^x+… \[cut: \d+ more characters; GET \/v1\/tasks\/t-7 has all of it\]$/);
  });
});
