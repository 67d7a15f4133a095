import { describe, expect, it } from "vitest";
import type { Approval, Process, Task } from "../../../src/client/index";
import {
  applyFeedEvent,
  budgetOf,
  buildTree,
  emptyState,
  FeedCursor,
  formatCount,
  groupApprovals,
  openQuestions,
  parseArguments,
  sameJson,
  subtreeOf,
  Timeline,
  upsertProcess,
} from "../../../console/src/model";

let clock = 0;
const at = (n = ++clock) => new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString();

function proc(pid: number, parentPid: number | null, over: Partial<Process> = {}): Process {
  return {
    pid,
    agent: "worker",
    parentPid,
    taskId: null,
    state: "running",
    mode: "task",
    turnCount: 1,
    usage: { inputTokens: 10, outputTokens: 5, toolCalls: 1 },
    tools: [],
    fs: [],
    budget: { limit: {}, used: { tokens: 15, toolCalls: 1, wallMs: 0 } },
    depth: 0,
    createdAt: at(1),
    updatedAt: at(1),
    exit: null,
    result: null,
    metadata: {},
    pendingInput: null,
    ...over,
  };
}
const table = (...ps: Process[]) => new Map(ps.map((p) => [p.pid, p]));

describe("the process tree", () => {
  it("orders parents before children, depth first by pid, with subtree roll-ups", () => {
    const procs = table(
      proc(1, null, { agent: "lead" }),
      proc(4, 1, { usage: { inputTokens: 100, outputTokens: 0, toolCalls: 3 }, state: "zombie" }),
      proc(2, 1),
      proc(3, 2, { turnCount: 4 }),
      proc(7, null, { agent: "solo", state: "sleeping" }),
    );
    const rows = buildTree(procs);
    expect(rows.map((r) => [r.process.pid, r.level])).toEqual([[1, 1], [2, 2], [3, 3], [4, 2], [7, 1]]);
    const root = rows[0]!;
    expect(root.rollup).toEqual({ count: 4, live: 3, turns: 7, tokens: 15 * 3 + 100, toolCalls: 6 });
    expect(root.childCount).toBe(2);
    expect(rows.find((r) => r.process.pid === 2)!.rollup).toMatchObject({ count: 2, tokens: 30 });
  });

  it("shows a process whose parent is unknown (pruned, not listed) as a root, and survives a cycle", () => {
    const rows = buildTree(table(proc(5, 99), proc(6, 5), proc(8, 8)));
    expect(rows.map((r) => [r.process.pid, r.level])).toEqual([[5, 1], [6, 2], [8, 1]]);
  });

  it("filters by state and agent, keeping non-matching ancestors as context", () => {
    const procs = table(proc(1, null, { agent: "lead", state: "sleeping" }), proc(2, 1, { state: "zombie" }), proc(3, 1, { state: "running" }), proc(4, null, { agent: "other", state: "zombie" }));
    const running = buildTree(procs, { state: "running" });
    expect(running.map((r) => [r.process.pid, r.matches])).toEqual([[1, false], [3, true]]);
    const live = buildTree(procs, { state: "live" });
    expect(live.map((r) => r.process.pid)).toEqual([1, 3]);
    const byAgent = buildTree(procs, { agent: "worker", state: "zombie" });
    expect(byAgent.map((r) => [r.process.pid, r.matches])).toEqual([[1, false], [2, true]]);
    // Roll-ups stay the whole subtree's, whatever the filter shows.
    expect(byAgent[0]!.rollup.count).toBe(3);
  });

  it("handles a deep chain without recursion", () => {
    const ps = [proc(1, null)];
    for (let i = 2; i <= 5000; i++) ps.push(proc(i, i - 1));
    const rows = buildTree(table(...ps));
    expect(rows).toHaveLength(5000);
    expect(rows[4999]!.level).toBe(5000);
    expect(rows[0]!.rollup.count).toBe(5000);
  });

  it("names a subtree for a cascading kill", () => {
    expect(subtreeOf(table(proc(1, null), proc(2, 1), proc(3, 2), proc(4, null)), 1).sort()).toEqual([1, 2, 3]);
  });
});

describe("applying feed events", () => {
  it("keeps the newest view of a process whatever the order of list and events", () => {
    const state = emptyState();
    const newer = proc(1, null, { state: "sleeping", turnCount: 3, updatedAt: at(50) });
    const older = proc(1, null, { state: "running", turnCount: 1, updatedAt: at(40) });
    expect(applyFeedEvent(state, { id: "5", event: "proc", data: { seq: 5, at: at(), process: newer } })).toBe("procs");
    expect(applyFeedEvent(state, { id: undefined, event: "proc", data: { process: older } })).toBeNull();
    expect(state.procs.get(1)!.turnCount).toBe(3);
    expect(upsertProcess(state.procs, { ...newer, turnCount: 4 })).toBe(true); // a tie takes the later read
  });

  it("ignores pruned rows and unknown events; approvals never go back to pending; audit keeps a bounded tail", () => {
    const state = emptyState();
    expect(applyFeedEvent(state, { id: "1", event: "proc", data: { seq: 1, at: at(), ref: "7", gone: true } })).toBeNull();
    expect(applyFeedEvent(state, { id: "2", event: "mystery", data: {} })).toBeNull();
    const a = approval("a1", 3, 1, "pending");
    applyFeedEvent(state, { id: "3", event: "approval", data: { approval: { ...a, state: "approved" } } });
    expect(applyFeedEvent(state, { id: undefined, event: "approval", data: { approval: a } })).toBeNull();
    expect(state.approvals.get("a1")!.state).toBe("approved");
    for (let seq = 1; seq <= 12; seq++) applyFeedEvent(state, { id: String(seq), event: "audit", data: { entry: { seq, at: at(), actor: "x", event: "spawn", data: {}, prevHash: "", hash: `h${seq}` } } }, 5);
    expect(state.audit.map((e) => e.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(applyFeedEvent(state, { id: "13", event: "audit", data: { entry: { seq: 12, at: at(), actor: "x", event: "spawn", data: {}, prevHash: "", hash: "h12" } } })).toBeNull();
  });
});

function approval(id: string, pid: number, rootPid: number, state: Approval["state"], createdAt = at()): Approval {
  return { id, pid, rootPid, agent: "clerk", tool: "write_file", arguments: { path: "/a" }, toolCallId: `c-${id}`, hook: "gate", reason: "r", state, createdAt, expiresAt: at(9999) };
}
function task(id: string, workerPid: number, copilotPid: number | null, state: string, message?: string): Task {
  return {
    kind: "task",
    id,
    contextId: id,
    status: { state, timestamp: at(), ...(message ? { message } : {}) },
    artifacts: [],
    metadata: { copilotPid, workerPid, agent: "painter", deliveryPolicy: "deferred", budget: {}, requested: {}, granted: {}, user: {} },
  } as Task;
}

describe("the inbox", () => {
  it("groups pending approvals by tree, oldest first, and leaves decided ones out", () => {
    const procs = table(proc(1, null, { agent: "lead" }), proc(2, 1), proc(9, null, { agent: "solo" }));
    const groups = groupApprovals([approval("x", 9, 9, "pending", at(20)), approval("y", 2, 1, "pending", at(10)), approval("z", 1, 1, "pending", at(30)), approval("w", 2, 1, "approved", at(5))], procs);
    expect(groups.map((g) => [g.rootPid, g.rootAgent, g.approvals.map((a) => a.id)])).toEqual([[1, "lead", ["y", "z"]], [9, "solo", ["x"]]]);
  });

  it("lists workers' questions (input-required tasks) and top-level processes' pending input, not exited ones", () => {
    const procs = table(
      proc(1, null, { agent: "greeter", state: "sleeping", pendingInput: { question: "Name?", toolCallId: "t" }, updatedAt: at(1) }),
      proc(2, 5, { state: "sleeping" }),
      proc(3, null, { state: "zombie", pendingInput: { question: "Old?", toolCallId: "u" } }),
    );
    const qs = openQuestions([task("t1", 2, 5, "input-required", "Colour?"), task("t2", 4, 5, "working"), task("t3", 6, 5, "input-required")], procs);
    expect(qs.map((q) => [q.kind, q.pid, q.question])).toEqual([["process", 1, "Name?"], ["task", 2, "Colour?"]]);
  });

  it("parses edited arguments and says why it cannot", () => {
    expect(parseArguments('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseArguments("[1]")).toEqual({ ok: false, message: "The arguments must be a JSON object." });
    expect(parseArguments("{nope").ok).toBe(false);
    expect(sameJson({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
  });
});

describe("numbers and budgets", () => {
  it("formats counts short and budgets as used / limit with a meter fraction", () => {
    expect(formatCount(1234)).toBe("1,234");
    expect(formatCount(250_000)).toBe("250k");
    expect(formatCount(1_234_567)).toBe("1.23M");
    expect(budgetOf(50, 200)).toEqual({ text: "50 / 200", fraction: 0.25 });
    expect(budgetOf(500, 200).fraction).toBe(1);
    expect(budgetOf(7, undefined)).toEqual({ text: "7", fraction: null });
  });
});

describe("a process's timeline", () => {
  it("gathers streamed text deltas into one live item, replaced by the persisted model event", () => {
    const t = new Timeline();
    expect(t.apply({ id: "1", event: "state", data: { seq: 1, at: at(), state: "running" } })).toBe(true);
    t.apply({ id: undefined, event: "model", data: { at: at(), call: 1, delta: "Hel" } });
    t.apply({ id: undefined, event: "model", data: { at: at(), call: 1, delta: "lo" } });
    expect(t.items.map((i) => [i.type, i.summary, i.streaming])).toEqual([["state", "running", false], ["model", "Hello", true]]);
    t.apply({ id: "2", event: "model", data: { seq: 2, at: at(), call: 1, text: "Hello!", toolCalls: [] } });
    expect(t.items.map((i) => [i.seq, i.summary, i.streaming])).toEqual([[1, "running", false], [2, "Hello!", false]]);
    // A late delta of a finished call, and a replayed event after a resume, change nothing.
    expect(t.apply({ id: undefined, event: "model", data: { at: at(), call: 1, delta: "x" } })).toBe(false);
    expect(t.apply({ id: "2", event: "model", data: { seq: 2, at: at(), call: 1, text: "Hello!" } })).toBe(false);
    expect(t.lastEventId).toBe("2");
    t.apply({ id: "3", event: "tool_call", data: { seq: 3, at: at(), name: "read_file", arguments: { path: "/a" } } });
    t.apply({ id: "4", event: "exit", data: { seq: 4, at: at(), code: 0, reason: "completed" } });
    expect(t.items.slice(2).map((i) => i.summary)).toEqual(['read_file {"path":"/a"}', "exit 0: completed"]);
  });

  it("keeps a bounded number of items", () => {
    const t = new Timeline(3);
    for (let i = 1; i <= 10; i++) t.apply({ id: String(i), event: "turn", data: { seq: i, at: at(), turn: i } });
    expect(t.items.map((i) => i.seq)).toEqual([8, 9, 10]);
  });
});

describe("the feed cursor", () => {
  it("remembers the last id for Last-Event-ID, drops repeats, and backs off until something arrives", () => {
    const c = new FeedCursor();
    expect(c.headers()).toEqual({});
    c.opened();
    expect(c.accept("1")).toBe(true);
    expect(c.accept("2")).toBe(true);
    expect(c.accept("2")).toBe(false);
    expect(c.accept(undefined)).toBe(true);
    expect(c.headers()).toEqual({ "last-event-id": "2" });
    expect([c.dropped(), c.dropped(), c.dropped()]).toEqual([250, 500, 1000]);
    expect(c.status).toBe("reconnecting");
    for (let i = 0; i < 10; i++) c.dropped();
    expect(c.dropped()).toBe(10_000);
    c.opened();
    expect(c.accept("3")).toBe(true);
    expect(c.dropped()).toBe(250);
    expect(c.connections).toBe(2);
  });
});
