import { describe, expect, it, vi } from "vitest";
import { fail, ok, type ToolCall, type ToolResult } from "../../../src/contracts";
import type { FsToolOutcome } from "../../../src/contracts/tools";
import { ToolTimeout } from "../../../src/agent/dispatch";
import { Inbox } from "../../../src/process/inbox";
import { dispatchCalls, type Dispatch, type DispatchReport, type Gate } from "../../../src/process/tools/dispatcher";
import { builtinTools, precheck, ToolRegistry } from "../../../src/process/tools/registry";
import { describeFailure, failedResult, failureOf, type ToolFailure } from "../../../src/process/tools/result";
import type { Tool, ToolContext } from "../../../src/process/tools/types";
import { processDb } from "../support/process-db";

describe("describeFailure: the one rendering of a tool failure", () => {
  it.each([
    [{ code: "permission_denied", message: "the tool delete_file is not among this process's tools" }, "permission_denied: the tool delete_file is not among this process's tools"],
    [{ code: "permission_denied", message: "permission_denied: already said" }, "permission_denied: already said"],
    [{ code: "unknown_tool", message: "unknown tool shell" }, "unknown tool shell"],
    [{ code: "vetoed", hook: "x", message: "reason" }, "vetoed by hook x: reason"],
    [{ code: "budget_exhausted", message: "no tool calls remain in this process's budget" }, "budget exhausted: no tool calls remain in this process's budget"],
    [{ code: "timeout", message: "tool grep timed out after 5 ms" }, "tool grep timed out after 5 ms"],
    [{ code: "invalid_arguments", message: "Invalid arguments for read_file: path: Required" }, "Invalid arguments for read_file: path: Required"],
    [{ code: "tool_error", message: "No file at /x." }, "No file at /x."],
    [{ code: "tool_error", cause: "task_not_found", message: "No task t1." }, "task_not_found: No task t1."],
  ] as [ToolFailure, string][])("%j → %s", (failure, text) => {
    expect(describeFailure(failure)).toBe(text);
    const r = failedResult({ id: "c", name: "t", arguments: {} }, failure, Date.now());
    expect(r).toMatchObject({ output: `Error: ${text}`, error: text, success: false });
  });

  it("a thrown timeout is a timeout; anything else a tool error", () => {
    expect(failureOf(new ToolTimeout("tool grep", 5))).toEqual({ code: "timeout", message: "tool grep timed out after 5 ms" });
    expect(failureOf(new Error("stub broken"))).toEqual({ code: "tool_error", message: "stub broken" });
  });
});

describe("the registry", () => {
  it("holds the built-in tools, collect alone loop-only", () => {
    expect(["read_file", "write_file", "edit_file", "list_dir", "glob", "grep", "delete_file", "delegate", "collect", "cancel_task", "list_tasks"].every((n) => builtinTools.get(n))).toBe(true);
    expect(["read_file", "delegate", "collect", "cancel_task", "list_tasks"].filter((n) => builtinTools.get(n)!.loopOnly)).toEqual(["collect"]);
  });
  it("a new tool plugs in by name; a second tool of the same name is refused", () => {
    const echo: Tool = { name: "echo", description: "echo", args: builtinTools.get("list_tasks")!.args, loopOnly: false, run: async (c) => ({ ok: true, output: JSON.stringify(c.arguments) }) };
    const registry = new ToolRegistry([echo]);
    expect(precheck({ name: "echo" }, ["echo"], registry)).toBeNull();
    expect(precheck({ name: "read_file" }, ["read_file"], registry)).toMatchObject({ code: "unknown_tool" });
    expect(() => registry.register(echo)).toThrow(/already registered/);
  });
});

const call = (id: string, name: string, args: Record<string, unknown> = {}): ToolCall => ({ id, name, arguments: args });

function harness(over: Partial<Dispatch> = {}, fs: (name: string, args: Record<string, unknown>) => Promise<FsToolOutcome> = async () => ({ ok: true, output: "ok" })) {
  const inbox = new Inbox(processDb().sql);
  const started: string[] = [];
  const reports: DispatchReport[] = [];
  const context: ToolContext = {
    pid: 1,
    runFsTool: (name, args) => fs(name, args),
    delegate: async () => fail(422, "limit_exceeded", "Delegation would exceed the maximum depth of 1."),
    cancelTask: async (taskId) => ok({ taskId, state: "canceled" as const }),
    requestInput: async () => ({ kind: "person" as const }),
    inputProvided: async () => {},
    replyTask: async (taskId) => ok({ taskId, state: "working" }),
    inbox,
    now: Date.now,
  };
  const gate: Gate = { vetoes: {}, hidden: {}, postHooks: false };
  const d: Dispatch = {
    allowed: ["read_file", "write_file", "delegate", "collect", "list_tasks"],
    context,
    beforeDispatch: vi.fn(async () => gate),
    afterDispatch: vi.fn(async (r: DispatchReport) => (reports.push(r), [])),
    emitCall: (c) => started.push(c.id),
    exited: () => false,
    timeoutMs: 50,
    parallel: true,
    settle: async (_c, effect) => effect(),
    wait: vi.fn(),
    ...over,
  };
  return { d, gate, started, reports, inbox };
}
const byId = (results: ToolResult[]) => Object.fromEntries(results.map((r) => [r.toolCallId, r]));

describe("dispatchCalls", () => {
  it("refuses a tool the process lacks and an unknown one before any hook, and audits only the denial", async () => {
    const h = harness();
    const { results } = await dispatchCalls([call("a", "delete_file", { path: "/x" }), call("b", "shell"), call("c", "read_file", { path: "/r" })], h.d);
    const r = byId(results);
    expect(r.a!.output).toBe("Error: permission_denied: the tool delete_file is not among this process's tools");
    expect(r.b!.output).toBe("Error: unknown tool shell");
    expect(r.c!.success).toBe(true);
    expect(h.d.beforeDispatch).toHaveBeenCalledWith([{ id: "c", name: "read_file", arguments: { path: "/r" }, paths: ["/r"] }]);
    expect(h.reports[0]!.denials).toEqual([{ tool: "delete_file", toolCallId: "a", paths: ["/x"], reason: "permission_denied: the tool delete_file is not among this process's tools" }]);
    expect(h.started.sort()).toEqual(["a", "b", "c"]);
  });

  it("a veto, a timeout, a scope denial from the workspace and a kernel refusal are error results the model reads", async () => {
    const h = harness({}, async (_name, args) =>
      args.path === "/slow" ? new Promise<never>(() => {}) : { ok: false, code: "permission_denied", message: "Writing /ro is outside this process's fs scopes.", path: "/ro" },
    );
    h.gate.vetoes.v = { hook: "x", reason: "reason" };
    const { results } = await dispatchCalls(
      [call("v", "read_file", { path: "/v" }), call("slow", "read_file", { path: "/slow" }), call("ro", "write_file", { path: "/ro", content: "" }), call("d", "delegate", { agent: "w", message: "m" })],
      h.d,
    );
    const r = byId(results);
    expect(r.v!.error).toBe("vetoed by hook x: reason");
    expect(r.slow!.error).toBe("tool read_file timed out after 50 ms");
    expect(r.ro!.error).toBe("permission_denied: Writing /ro is outside this process's fs scopes.");
    expect(r.d!.output).toBe("Error: limit_exceeded: Delegation would exceed the maximum depth of 1.");
    expect(h.reports[0]!.denials.map((d) => d.toolCallId)).toEqual(["ro"]);
  });

  it("runs loop-only calls after the others, and hands post_dispatch hooks every result", async () => {
    const h = harness();
    h.gate.postHooks = true;
    h.inbox.record({ taskId: "t1", pid: 2, agent: "w", state: "working" }, "immediate");
    const { results } = await dispatchCalls([call("c", "collect", {}), call("l", "list_tasks"), call("r", "read_file", { path: "/a" })], h.d);
    expect(h.started).toEqual(["l", "r", "c"]);
    expect(h.d.wait).toHaveBeenCalledWith(expect.objectContaining({ id: "c" }), { taskIds: ["t1"], deadline: expect.any(Number) });
    expect(results.map((r) => r.toolCallId)).toEqual(["l", "r"]);
    expect(h.reports[0]!.results.map((r) => r.toolCallId)).toEqual(["l", "r"]);
  });

  it("one by one, it stops once the process has exited", async () => {
    let exited = false;
    const h = harness({ parallel: false, exited: () => exited }, async () => {
      exited = true;
      return { ok: true, output: "ok" };
    });
    const { results } = await dispatchCalls([call("a", "read_file", { path: "/a" }), call("b", "read_file", { path: "/b" })], h.d);
    expect(results.map((r) => r.toolCallId)).toEqual(["a"]);
  });

  it("a settled call goes through `settle`, which may answer a recorded result instead of running it", async () => {
    const recorded: ToolResult = { toolCallId: "a", name: "read_file", output: "from before", error: null, success: true, durationMs: 0 };
    const fs = vi.fn(async (): Promise<FsToolOutcome> => ({ ok: true, output: "fresh" }));
    const h = harness({ settle: async (c, effect) => (c.id === "a" ? recorded : effect()) }, fs);
    const { results } = await dispatchCalls([call("a", "read_file", { path: "/a" }), call("b", "read_file", { path: "/b" })], h.d);
    expect(byId(results).a!.output).toBe("from before");
    expect(fs).toHaveBeenCalledTimes(1);
  });
});

describe("the collect tool", () => {
  const ctx = (inbox: Inbox): ToolContext => ({ ...harness().d.context, inbox });
  const collect = builtinTools.get("collect")!;

  it("answers bad arguments and unknown tasks as it always has: a result whose text reads Error", async () => {
    const inbox = new Inbox(processDb().sql);
    expect(await collect.run(call("c", "collect", { mode: "most" }), ctx(inbox))).toMatchObject({ ok: true, output: expect.stringMatching(/^Error: invalid arguments: /) });
    expect(await collect.run(call("c", "collect", { taskIds: ["nope", "neither"] }), ctx(inbox))).toEqual({ ok: true, output: "Error: unknown task nope, neither" });
  });

  it("answers at once when satisfied, else waits; resumed, it answers once satisfied", async () => {
    const inbox = new Inbox(processDb().sql);
    inbox.record({ taskId: "t1", pid: 2, agent: "w", state: "working" }, "on_demand");
    const out = await collect.run(call("c", "collect", { timeoutMs: 60_000 }), ctx(inbox));
    expect(out).toMatchObject({ wait: { taskIds: ["t1"] } });
    const wait = (out as { wait: { taskIds: string[]; deadline: number } }).wait;
    expect(await collect.resume!(call("c", "collect", {}), wait, ctx(inbox))).toBeNull();
    inbox.applyResult({ taskId: "t1", pid: 2, agent: "w", state: "failed", result: null, reason: "boom", usage: { inputTokens: 0, outputTokens: 0, toolCalls: 0 } });
    const done = await collect.resume!(call("c", "collect", {}), wait, ctx(inbox));
    expect(JSON.parse((done as { output: string }).output)).toMatchObject({ failed: [{ taskId: "t1", reason: "boom" }], satisfied: true });
    // what it returned is collected: a later default collect does not see it
    expect(inbox.uncollectedIds()).toEqual([]);
  });
});
