import { describe, expect, it } from "vitest";
import { HTTP_COLLECT, settleCollect, startCollect, TOOL_COLLECT } from "../../../src/agent/collect";
import type { CollectedTask, TaskState } from "../../../src/contracts/tasks";
import { Inbox } from "../../../src/process/inbox";
import { processDb } from "../support/process-db";
import { initialLoopState, type LoopState } from "../../../src/process/machine";
import { collectMayAnswer } from "../../../src/process/task-delivery";

const NOW = 1_000_000;
const usage = { inputTokens: 0, outputTokens: 0, toolCalls: 0 };
const ended = (taskId: string, state: TaskState, result: string | null = `r ${taskId}`): CollectedTask => ({ taskId, pid: 2, agent: "w", state, result, reason: null, usage });

function inboxWith(...ids: string[]) {
  const inbox = new Inbox(processDb().sql);
  for (const [i, id] of ids.entries()) inbox.record({ taskId: id, pid: i + 2, agent: "w", state: "working" }, "on_demand");
  return inbox;
}

describe("one collect for the tool and for HTTP", () => {
  it("fixes the default task set when it starts: later delegations do not join it", () => {
    const inbox = inboxWith("a", "b");
    const started = startCollect(inbox, {}, NOW, TOOL_COLLECT);
    inbox.record({ taskId: "c", pid: 9, agent: "w", state: "working" }, "on_demand");
    expect(started).toEqual({ ok: true, wait: { taskIds: ["a", "b"], deadline: NOW + 10 * 60_000 } });
  });

  it("the tool waits ten minutes by default and as long as asked; HTTP 60 s at most", () => {
    const inbox = inboxWith("a");
    expect(startCollect(inbox, { timeoutMs: 3_600_000 }, NOW, TOOL_COLLECT)).toMatchObject({ wait: { deadline: NOW + 3_600_000 } });
    expect(startCollect(inbox, {}, NOW, HTTP_COLLECT)).toMatchObject({ wait: { deadline: NOW + 60_000 } });
    expect(startCollect(inbox, { timeoutMs: 3_600_000 }, NOW, HTTP_COLLECT)).toMatchObject({ wait: { deadline: NOW + 60_000 } });
    expect(startCollect(inbox, { timeoutMs: 5 }, NOW, HTTP_COLLECT)).toMatchObject({ wait: { deadline: NOW + 5 } });
  });

  it("refuses unknown task ids, naming them", () => {
    expect(startCollect(inboxWith("a"), { taskIds: ["a", "x", "y"] }, NOW, HTTP_COLLECT)).toEqual({ ok: false, unknown: ["x", "y"] });
  });

  it("waits while unsatisfied before its deadline, then answers and marks what it returned collected", () => {
    const inbox = inboxWith("a", "b");
    const wait = { taskIds: ["a", "b"], deadline: NOW + 100 };
    expect(settleCollect(inbox, wait, { mode: "all" }, NOW, Infinity)).toBeNull();
    inbox.applyResult(ended("a", "completed"));
    expect(settleCollect(inbox, wait, { mode: "all" }, NOW, Infinity)).toBeNull();
    const any = settleCollect(inbox, wait, { mode: "any" }, NOW, Infinity)!;
    expect(any).toMatchObject({ satisfied: true, completed: [{ taskId: "a" }], pending: [{ taskId: "b" }] });
    expect(inbox.uncollectedIds()).toEqual(["b"]);
  });

  it("past its deadline it answers what it has, unsatisfied, the missing ones pending", () => {
    const inbox = inboxWith("a", "b");
    inbox.applyResult(ended("b", "canceled", null));
    const late = settleCollect(inbox, { taskIds: ["a", "b"], deadline: NOW }, { mode: "all" }, NOW, Infinity)!;
    expect(late).toMatchObject({ satisfied: false, canceled: [{ taskId: "b" }], pending: [{ taskId: "a" }] });
    expect(inbox.uncollectedIds()).toEqual(["a"]);
  });

  it("cuts the answer to the size it must fit", () => {
    const inbox = inboxWith("a");
    inbox.applyResult(ended("a", "completed", "x".repeat(50_000)));
    const r = settleCollect(inbox, { taskIds: ["a"], deadline: NOW }, { mode: "all" }, NOW, 10_000)!;
    expect(r.completed[0]!.result).toMatch(/^x+… \[cut: \d+ more characters; GET \/v1\/tasks\/a has all of it\]$/);
  });
});

describe("a result wakes a collecting copilot only when a collect can answer (collectMayAnswer)", () => {
  const collecting = (mode: string, n?: number, deadline = NOW + 1_000): LoopState => ({
    ...initialLoopState(),
    phase: "tools",
    pendingCalls: [{ id: "c1", name: "collect", arguments: { mode, ...(n ? { n } : {}) } }],
    waiting: { c1: { kind: "collect", taskIds: ["a", "b", "c"], deadline } },
  });

  it("all: not for the first results, yes for the last", () => {
    const inbox = inboxWith("a", "b", "c");
    inbox.applyResult(ended("a", "completed"));
    inbox.applyResult(ended("b", "failed"));
    expect(collectMayAnswer(collecting("all"), inbox, NOW)).toBe(false);
    inbox.applyResult(ended("c", "completed"));
    expect(collectMayAnswer(collecting("all"), inbox, NOW)).toBe(true);
  });

  it("first_n and quorum count as settleCollect does; a question or the deadline always wakes", () => {
    const inbox = inboxWith("a", "b", "c");
    inbox.applyResult(ended("a", "failed"));
    expect(collectMayAnswer(collecting("first_n", 2), inbox, NOW)).toBe(false);
    expect(collectMayAnswer(collecting("any"), inbox, NOW)).toBe(true);
    inbox.applyResult(ended("b", "failed"));
    // Two of three failed: a quorum of two can no longer complete.
    expect(collectMayAnswer(collecting("quorum", 2), inbox, NOW)).toBe(true);
    expect(collectMayAnswer(collecting("all", undefined, NOW), inboxWith("a", "b", "c"), NOW)).toBe(true);
    const asking = inboxWith("a", "b", "c");
    asking.applyStatus({ ...ended("a", "input-required", null), question: "which one?" });
    expect(collectMayAnswer(collecting("all"), asking, NOW)).toBe(true);
  });
});
