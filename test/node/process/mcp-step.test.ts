/**
 * MCP tools in a step (SPEC §10), in Node: the real step, journal, dispatcher and MCP tool adapter
 * over an in-memory SQLite, with the MCP session faked at the edge (the workerd tests in test/mcp/
 * drive the real server). The point here is the crash rule: a call in flight when the object died is
 * sent again only when the tool is read-only or idempotent; otherwise the model reads `interrupted`.
 */
import { describe, expect, it, vi } from "vitest";
import { type Message } from "../../../src/contracts";
import type { McpToolBinding } from "../../../src/contracts/mcp";
import type { SqlStore } from "../../../src/lib/sql-store";
import { McpClientError, type McpSession } from "../../../src/mcp/client";
import type { ModelResponse } from "../../../src/models/model";
import { initialLoopState } from "../../../src/process/machine";
import { runStep, type StepIO } from "../../../src/process/step";
import { ProcessStore } from "../../../src/process/store";
import { dispatchCalls, type DispatchReport } from "../../../src/process/tools/dispatcher";
import { argumentValidator, callFailure, McpSessions, mcpTool } from "../../../src/process/tools/mcp";
import { builtinTools, precheck, type ToolRegistry } from "../../../src/process/tools/registry";
import type { ToolContext } from "../../../src/process/tools/types";
import type { ProcessConfig } from "../../../src/rpc/messages";
import { processConfig } from "../support/process";
import { memoryStore } from "../support/sqlite";

const binding = (tool: string, annotations: McpToolBinding["annotations"] = {}, inputSchema: Record<string, unknown> = { type: "object" }): McpToolBinding => ({
  name: `mcp__srv__${tool}`,
  server: "srv",
  tool,
  description: `the ${tool} tool`,
  inputSchema,
  annotations,
  connection: { url: "http://mcp.test/mcp", headers: { authorization: "Bearer s3cret" }, timeoutMs: 5_000 },
});
const LAUNCH = binding("launch", { destructiveHint: true });
const LOOKUP = binding("lookup", { readOnlyHint: true });
const SET_FLAG = binding("set_flag", { idempotentHint: true });
const STRICT = binding("strict", {}, {
  $schema: "http://json-schema.org/draft-07/schema#",
  type: "object",
  properties: { mode: { type: "string", enum: ["fast", "slow"] }, count: { type: "integer", minimum: 1, maximum: 10 }, label: { type: "string" } },
  required: ["mode", "count", "label"],
  additionalProperties: false,
});
const ALL = [LAUNCH, LOOKUP, SET_FLAG, STRICT];

const config = (tools: string[]): ProcessConfig => processConfig({ tools });

/** A fake server: counts each tools/call it receives; `answer` decides what each call gets. */
function fakeServer(answer: (tool: string, args: Record<string, unknown>, signal?: AbortSignal) => Promise<unknown> = async (tool) => ({ content: [{ type: "text", text: `${tool} ok` }] })) {
  const received: string[] = [];
  let sessions = 0;
  const connect = async (): Promise<McpSession> => {
    sessions++;
    return {
      serverInfo: { name: "fake", version: "1" },
      listAllTools: async () => [],
      callTool: async (name, args, options) => {
        received.push(name);
        return (await answer(name, args, options?.signal)) as never;
      },
      close: async () => {},
    };
  };
  return { connect, received, sessions: () => sessions };
}

const calling = (...calls: ModelResponse["toolCalls"]): ModelResponse => ({ text: "", toolCalls: calls, usage: { inputTokens: 3, outputTokens: 2 } });
const answer = (text: string): ModelResponse => ({ text, toolCalls: [], usage: { inputTokens: 3, outputTokens: 2 } });
const forever = () => new Promise<never>(() => {});

/** One incarnation of a process over `db`, its MCP bindings from `catalogue`, its session from `server`. */
function processOn(db: SqlStore, cfg: ProcessConfig, server: ReturnType<typeof fakeServer>, catalogue: () => McpToolBinding[] = () => ALL) {
  const store = new ProcessStore(db, () => {});
  if (!store.load()) store.create(cfg, initialLoopState(), [{ role: "user", content: "go" }], []);
  const sessions = new McpSessions(server.connect);
  const registry = (): ToolRegistry => builtinTools.with(catalogue().filter((b) => cfg.tools.includes(b.name)).map((b) => mcpTool(b, sessions)));
  const context: ToolContext = {
    pid: cfg.pid,
    runFsTool: () => Promise.reject(new Error("no files here")),
    delegate: () => Promise.reject(new Error("no delegation here")),
    cancelTask: () => Promise.reject(new Error("no tasks here")),
    requestInput: () => Promise.reject(new Error("no questions here")),
    inputProvided: () => Promise.reject(new Error("no questions here")),
    replyTask: () => Promise.reject(new Error("no tasks here")),
    inbox: store.inbox,
    now: Date.now,
  };
  const reports: DispatchReport[] = [];
  const generate = vi.fn<StepIO["generate"]>();
  const io: StepIO = {
    config: cfg,
    store,
    generate,
    tools: async () => registry(),
    dispatch: (calls, settle, wait) =>
      dispatchCalls(calls, {
        allowed: cfg.tools,
        registry: registry(),
        beginSend: (id, repeatable) => store.journal.beginSend(id, repeatable),
        context,
        beforeDispatch: async () => ({ vetoes: {}, hidden: {}, postHooks: false }),
        afterDispatch: async (r) => (reports.push(r), []),
        emitCall: (call) => store.emit("tool_call", call),
        exited: () => store.exit !== null,
        timeoutMs: 1_000,
        parallel: true,
        settle,
        wait,
      }),
    resume: async () => null,
    approvalState: () => Promise.reject(new Error("no approvals here")),
    report: async () => null,
    now: Date.now,
  };
  return { store, io, generate, reports };
}

const toolMessages = (store: ProcessStore) => store.conversation.all().filter((m): m is Extract<Message, { role: "tool" }> => m.role === "tool");
const byId = (store: ProcessStore) => Object.fromEntries(toolMessages(store).map((m) => [m.toolCallId, m]));

async function until(check: () => boolean) {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe("an MCP call in a step", () => {
  it("the model sees the server's schema; the text is the output; the call is reported for the audit", async () => {
    const server = fakeServer();
    const p = processOn(memoryStore(), config(["read_file", STRICT.name, LOOKUP.name]), server);
    p.generate.mockResolvedValueOnce(calling({ id: "a", name: LOOKUP.name, arguments: { query: "x" } }));
    await runStep(p.io);
    const tools = p.generate.mock.calls[0]![0].tools;
    expect(tools.map((t) => t.name)).toEqual(["read_file", STRICT.name, LOOKUP.name]);
    const { $schema: _, ...strict } = STRICT.inputSchema;
    expect(tools[1]).toEqual({ name: STRICT.name, description: "the strict tool", parameters: strict });
    expect(byId(p.store).a).toMatchObject({ content: "lookup ok", isError: false });
    expect(p.reports).toEqual([{ denials: [], results: [], mcpCalls: [{ tool: LOOKUP.name, toolCallId: "a", ok: true, durationMs: expect.any(Number) }] }]);
    // Nothing of the binding's connection reaches storage.
    expect(JSON.stringify(p.store.conversation.all()) + JSON.stringify(p.store.events.since(0, 1000))).not.toContain("s3cret");
  });

  it("invalid arguments never reach the server; a tool's isError and a JSON-RPC error are error results", async () => {
    const server = fakeServer(async (tool) => {
      if (tool === "launch") return { isError: true, content: [{ type: "text", text: "boom" }] };
      throw new McpClientError("protocol", "The server answered a JSON-RPC error -32602 when calling lookup: bad", -32602);
    });
    const p = processOn(memoryStore(), config([STRICT.name, LAUNCH.name, LOOKUP.name]), server);
    p.generate.mockResolvedValueOnce(
      calling(
        { id: "s", name: STRICT.name, arguments: { mode: "warp", count: 11, label: "x", extra: 1 } },
        { id: "l", name: LAUNCH.name, arguments: {} },
        { id: "q", name: LOOKUP.name, arguments: {} },
      ),
    );
    await runStep(p.io);
    const got = byId(p.store);
    expect(got.s!.isError).toBe(true);
    expect(got.s!.content).toMatch(/^Error: invalid_arguments: /);
    expect(got.s!.content).toContain("/mode");
    expect(got.s!.content).toContain("/count");
    expect(got.l).toMatchObject({ content: "Error: boom", isError: true });
    expect(got.q).toMatchObject({ content: "Error: mcp_error: The server answered a JSON-RPC error -32602 when calling lookup: bad", isError: true });
    expect(server.received.sort()).toEqual(["launch", "lookup"]);
    expect(p.reports[0]!.mcpCalls!.map((c) => [c.toolCallId, c.ok]).sort()).toEqual([["l", false], ["q", false]]);
  });

  it("a call that outlives toolTimeoutMs is a timeout error, and its request is aborted", async () => {
    let aborted = false;
    const server = fakeServer((_tool, _args, signal) => new Promise((_, reject) => signal?.addEventListener("abort", () => ((aborted = true), reject(new McpClientError("aborted", "abandoned"))))));
    const p = processOn(memoryStore(), config([LOOKUP.name]), server);
    p.generate.mockResolvedValueOnce(calling({ id: "h", name: LOOKUP.name, arguments: {} }));
    await runStep(p.io);
    expect(byId(p.store).h).toMatchObject({ content: `Error: tool ${LOOKUP.name} timed out after 1000 ms`, isError: true });
    await until(() => aborted);
  });

  it("a granted tool gone from the catalogue is tool_unavailable; an ungranted one is permission_denied", async () => {
    const server = fakeServer();
    expect(precheck({ name: LAUNCH.name }, [LAUNCH.name], builtinTools)).toMatchObject({ code: "tool_unavailable" });
    expect(precheck({ name: LAUNCH.name }, ["read_file"], builtinTools)).toMatchObject({ code: "permission_denied" });
    expect(precheck({ name: "no_such_tool" }, ["read_file"], builtinTools)).toMatchObject({ code: "unknown_tool" });
    let catalogue = ALL;
    const p = processOn(memoryStore(), config([LAUNCH.name]), server, () => catalogue);
    p.generate.mockImplementationOnce(async () => {
      catalogue = []; // the server is removed while the model thinks
      return calling({ id: "x", name: LAUNCH.name, arguments: {} });
    });
    await runStep(p.io);
    expect(byId(p.store).x!.content).toMatch(/^Error: tool_unavailable: mcp__srv__launch is no longer offered/);
    expect(server.received).toEqual([]);
    // The next model call no longer offers it.
    p.generate.mockResolvedValueOnce(answer("done"));
    await runStep(p.io);
    expect(p.generate.mock.calls[1]![0].tools).toEqual([]);
  });
});

describe("a crash with MCP calls in flight", () => {
  it("only read-only and idempotent calls are sent again; a destructive one is interrupted, exactly once sent", async () => {
    const db = memoryStore();
    const cfg = config([LAUNCH.name, LOOKUP.name, SET_FLAG.name]);
    const first = fakeServer(() => forever());
    const before = processOn(db, cfg, first);
    before.generate.mockResolvedValueOnce(
      calling({ id: "launch", name: LAUNCH.name, arguments: {} }, { id: "lookup", name: LOOKUP.name, arguments: { query: "q" } }, { id: "flag", name: SET_FLAG.name, arguments: {} }),
    );
    void runStep(before.io);
    await until(() => first.received.length === 3);
    // The object dies with three calls in flight; a new incarnation runs the turn again.
    const second = fakeServer();
    const after = processOn(db, cfg, second);
    await runStep(after.io);
    expect(after.generate).not.toHaveBeenCalled();
    expect(second.received.sort()).toEqual(["lookup", "set_flag"]);
    const got = byId(after.store);
    expect(got.launch).toMatchObject({ content: `Error: interrupted: the call to ${LAUNCH.name} may or may not have taken effect`, isError: true });
    expect(got.lookup).toMatchObject({ content: "lookup ok", isError: false });
    expect(got.flag).toMatchObject({ content: "set_flag ok", isError: false });
    expect(after.reports[0]!.mcpCalls!.find((c) => c.toolCallId === "launch")).toMatchObject({ ok: false, interrupted: true });
    // A third incarnation has nothing left to send: every result is recorded.
    const third = fakeServer();
    await runStep(processOn(db, cfg, third).io);
    expect(third.received).toEqual([]);
  });

  it("a call not yet sent at the crash (no marker) goes out normally on the re-run", async () => {
    const db = memoryStore();
    const cfg = config([LAUNCH.name]);
    const p = processOn(db, cfg, fakeServer());
    p.store.commit({ loop: { ...p.store.loop, phase: "tools", turnCount: 1, modelCalls: 1, pendingCalls: [{ id: "l", name: LAUNCH.name, arguments: {} }] } });
    const server = fakeServer();
    await runStep(processOn(db, cfg, server).io);
    expect(server.received).toEqual(["launch"]);
    // Read by a new incarnation: the first one's memory is not what the re-run wrote.
    expect(byId(processOn(db, cfg, server).store).l).toMatchObject({ content: "launch ok" });
  });

  it("an HTTP-style dispatch (no journal) sends without a marker", async () => {
    const server = fakeServer();
    const sessions = new McpSessions(server.connect);
    const out = await mcpTool(LAUNCH, sessions).run({ id: "d", name: LAUNCH.name, arguments: {} }, {} as ToolContext);
    expect(out).toEqual({ ok: true, output: "launch ok" });
  });
});

describe("MCP sessions", () => {
  it("one session per server, reused; replaced after the server forgets it (404), the call sent once more", async () => {
    let expired = true;
    const server = fakeServer(async (tool) => {
      if (expired) {
        expired = false;
        throw new McpClientError("not_mcp", "The server answered HTTP 404", 404);
      }
      return { content: [{ type: "text", text: `${tool} ok` }] };
    });
    const sessions = new McpSessions(server.connect);
    expect(await sessions.call(LAUNCH, {}, {})).toMatchObject({ content: [{ text: "launch ok" }] });
    expect(server.sessions()).toBe(2);
    await sessions.call(LOOKUP, {}, {});
    expect(server.sessions()).toBe(2);
    expect(server.received).toEqual(["launch", "launch", "lookup"]);
  });

  it("a new registration (other URL or headers) gets a new session; a failed connection is not kept", async () => {
    let refuse = true;
    const server = fakeServer();
    const sessions = new McpSessions(async (conn) => {
      if (refuse) {
        refuse = false;
        throw new McpClientError("unreachable", "connection refused");
      }
      return server.connect();
    });
    await expect(sessions.call(LOOKUP, {}, {})).rejects.toThrow("connection refused");
    await sessions.call(LOOKUP, {}, {});
    await sessions.call({ ...LOOKUP, connection: { ...LOOKUP.connection, headers: { authorization: "Bearer other" } } }, {}, {});
    expect(server.sessions()).toBe(2);
  });
});

describe("argument validation and failures", () => {
  it("validates with the server's schema and names what is wrong", () => {
    const validate = argumentValidator(STRICT.inputSchema);
    expect(validate({ mode: "fast", count: 3, label: "a" })).toBeNull();
    expect(validate({ mode: "fast", count: 3 })).toMatch(/label/);
    expect(validate({ mode: "fast", count: 2.5, label: "a" })).toMatch(/^\/count: /);
    expect(validate("not an object")).toMatch(/^\/: /);
    // Many problems at once: the first five, and how many more.
    const wide = argumentValidator({ type: "object", properties: Object.fromEntries([..."abcdefg"].map((k) => [k, { type: "integer" }])) });
    expect(wide(Object.fromEntries([..."abcdefg"].map((k) => [k, "x"])))).toMatch(/^\/a: .*; \/e: [^;]*; and 2 more$/);
  });

  it("maps client failures to what the model reads", () => {
    expect(callFailure(new McpClientError("timeout", "No answer within 5 ms"))).toEqual({ code: "timeout", message: "No answer within 5 ms" });
    expect(callFailure(new McpClientError("unreachable", "refused"))).toEqual({ code: "tool_error", cause: "mcp_unreachable", message: "refused" });
    expect(callFailure(new McpClientError("protocol", "rpc"))).toEqual({ code: "tool_error", cause: "mcp_error", message: "rpc" });
    expect(callFailure(new Error("weird"))).toMatchObject({ code: "tool_error", message: "weird" });
  });
});

describe("a restored process with MCP calls of its turn unanswered", () => {
  it("treats them as possibly sent: read-only ones go out again, the others are interrupted; answered ones are kept", async () => {
    const cfg = config([LAUNCH.name, LOOKUP.name]);
    const db = memoryStore();
    const store = new ProcessStore(db, () => {});
    const pendingCalls = [
      { id: "done", name: LAUNCH.name, arguments: {} },
      { id: "launch", name: LAUNCH.name, arguments: {} },
      { id: "lookup", name: LOOKUP.name, arguments: {} },
    ];
    const messages: Message[] = [
      { role: "user", content: "go" },
      { role: "assistant", content: "", toolCalls: pendingCalls },
      { role: "tool", toolCallId: "done", name: LAUNCH.name, content: "launched earlier", isError: false },
    ];
    store.create(cfg, { ...initialLoopState(), phase: "tools", turnCount: 1, modelCalls: 1, pendingCalls }, messages, []);
    const server = fakeServer();
    const p = processOn(db, cfg, server);
    await runStep(p.io);
    expect(server.received).toEqual(["lookup"]);
    const got = byId(p.store);
    expect(got.done).toMatchObject({ content: "launched earlier" });
    expect(got.launch).toMatchObject({ content: `Error: interrupted: the call to ${LAUNCH.name} may or may not have taken effect` });
    expect(got.lookup).toMatchObject({ content: "lookup ok" });
  });
});
