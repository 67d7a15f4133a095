import { describe, expect, it, vi } from "vitest";
import { type AgentSpecInput, type Message } from "../../../src/contracts";
import type { FsToolOutcome } from "../../../src/contracts/tools";
import type { SqlStore } from "../../../src/lib/sql-store";
import { ModelError, type ModelResponse } from "../../../src/models/model";
import { initialLoopState, pausedLoop, phaseOf, resumedLoop } from "../../../src/process/machine";
import { runStep, type StepIO } from "../../../src/process/step";
import { exitChange, ProcessStore } from "../../../src/process/store";
import { dispatchCalls } from "../../../src/process/tools/dispatcher";
import { builtinTools } from "../../../src/process/tools/registry";
import type { ToolContext } from "../../../src/process/tools/types";
import type { ProcessConfig } from "../../../src/rpc/messages";
import { processConfig } from "../support/process";
import { memoryStore } from "../support/sqlite";

const config = (spec: Partial<AgentSpecInput> = {}, tools = ["read_file", "write_file"], budget = {}): ProcessConfig => processConfig({ tools, spec, budget });

const write = (id: string) => ({ id, name: "write_file", arguments: { path: `/${id}`, content: id } });
const calling = (...calls: ModelResponse["toolCalls"]): ModelResponse => ({ text: "", toolCalls: calls, usage: { inputTokens: 3, outputTokens: 2 } });
const answer = (text: string): ModelResponse => ({ text, toolCalls: [], usage: { inputTokens: 3, outputTokens: 2 } });
const forever = () => new Promise<never>(() => {});

/** A process over `db`: its store as the object would hold it, and the step's I/O faked at the edges. */
function processOn(db: SqlStore, cfg: ProcessConfig, fs: (name: string, callId: string) => Promise<FsToolOutcome> = async (_n, id) => ({ ok: true, output: `ran ${id}` })) {
  const store = new ProcessStore(db, () => {});
  if (!store.load()) store.create(cfg, initialLoopState(), [{ role: "user", content: "go" }], []);
  const fsCalls: string[] = [];
  const context: ToolContext = {
    pid: cfg.pid,
    runFsTool: (name, _args, callId) => {
      fsCalls.push(callId);
      return fs(name, callId);
    },
    delegate: () => Promise.reject(new Error("no delegation here")),
    cancelTask: () => Promise.reject(new Error("no tasks here")),
    requestInput: () => Promise.reject(new Error("no questions here")),
    inputProvided: () => Promise.reject(new Error("no questions here")),
    replyTask: () => Promise.reject(new Error("no tasks here")),
    inbox: store.inbox,
    now: Date.now,
  };
  const generate = vi.fn<StepIO["generate"]>();
  const report = vi.fn<StepIO["report"]>(async () => null);
  const io: StepIO = {
    config: cfg,
    store,
    generate,
    tools: async () => builtinTools,
    dispatch: (calls, settle, wait) =>
      dispatchCalls(calls, {
        allowed: cfg.tools,
        context,
        beforeDispatch: async () => ({ vetoes: {}, hidden: {}, postHooks: false }),
        afterDispatch: async () => [],
        emitCall: (call) => store.emit("tool_call", call),
        exited: () => store.exit !== null,
        timeoutMs: 1_000,
        parallel: cfg.spec.parallelToolCalls,
        settle,
        wait,
      }),
    resume: async (call, wait) => (await builtinTools.get(call.name)?.resume?.(call, wait, context)) ?? null,
    approvalState: () => Promise.reject(new Error("no approvals here")),
    report,
    now: Date.now,
  };
  return { store, io, fsCalls, generate, report };
}

const events = (store: ProcessStore) => store.events.since(0, 1000).map((e) => e.type);
const toolMessages = (store: ProcessStore) => store.conversation.all().filter((m): m is Extract<Message, { role: "tool" }> => m.role === "tool");

async function until(check: () => boolean) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe("a step", () => {
  it("persists the model's answer, then runs that turn's tool calls and persists each result", async () => {
    const p = processOn(memoryStore(), config());
    p.generate.mockResolvedValueOnce(calling(write("a"), write("b")));
    await runStep(p.io);
    expect(p.generate).toHaveBeenCalledTimes(1);
    expect(p.generate.mock.calls[0]![1]).toBe(0);
    expect(p.fsCalls.sort()).toEqual(["a", "b"]);
    expect(p.store.loop).toMatchObject({ phase: "model", turnCount: 1, modelCalls: 1, pendingCalls: [], usage: { inputTokens: 3, outputTokens: 2, toolCalls: 2 } });
    expect(p.store.conversation.all().map((m) => m.role)).toEqual(["user", "assistant", "tool", "tool"]);
    expect(events(p.store)).toEqual(["model", "turn", "tool_call", "tool_call", "tool_result", "tool_result"]);
    expect(p.report).toHaveBeenCalledTimes(1);
    expect(p.store.loop.wallMs).toBeGreaterThanOrEqual(0);
  });

  it("a crash mid-turn: the next incarnation asks the model nothing and runs only the calls without a result", async () => {
    const db = memoryStore();
    const cfg = config();
    const first = processOn(db, cfg, async (_n, id) => (id === "b" ? forever() : { ok: true, output: `ran ${id}` }));
    first.generate.mockResolvedValueOnce(calling(write("a"), write("b"), write("c")));
    void runStep(first.io);
    await until(() => toolMessages(first.store).length === 2);
    // The object dies with b in flight; a new one starts over the same storage.
    const second = processOn(db, cfg);
    await runStep(second.io);
    expect(second.generate).not.toHaveBeenCalled();
    expect(second.fsCalls).toEqual(["b"]);
    expect(toolMessages(second.store).map((m) => m.toolCallId).sort()).toEqual(["a", "b", "c"]);
    expect(second.store.loop).toMatchObject({ phase: "model", usage: { toolCalls: 3 } });
  });

  it("the journal decides: a result recorded before the crash is reused, never run again", async () => {
    const db = memoryStore();
    const cfg = config();
    const p = processOn(db, cfg);
    p.store.commit({ loop: { ...p.store.loop, phase: "tools", turnCount: 1, modelCalls: 1, pendingCalls: [write("a"), write("b")] } });
    p.store.journal.record("tool:a", { toolCallId: "a", name: "write_file", output: "earlier", error: null, success: true, durationMs: 1 });
    await runStep(p.io);
    expect(p.generate).not.toHaveBeenCalled();
    expect(p.fsCalls).toEqual(["b"]);
    // The next model call begins a new step: the journal of this one is dropped.
    p.generate.mockResolvedValueOnce(calling(write("c")));
    await runStep(p.io);
    expect(p.store.journal.has("tool:a")).toBe(false);
    expect(p.store.journal.has("model:1")).toBe(true);
  });

  it("a pause that lands while the model runs stops the step before its tools; resume runs them without asking again", async () => {
    const p = processOn(memoryStore(), config());
    p.generate.mockImplementationOnce(async () => {
      p.store.commit({ loop: pausedLoop(p.store.loop) });
      return calling(write("a"));
    });
    await runStep(p.io);
    expect(p.store.loop).toMatchObject({ phase: "tools", paused: true });
    expect(p.fsCalls).toEqual([]);
    p.store.commit({ loop: resumedLoop(p.store.loop) });
    await runStep(p.io);
    expect(p.generate).toHaveBeenCalledTimes(1);
    expect(p.fsCalls).toEqual(["a"]);
  });

  it("a retryable model failure backs off: recorded once, the next attempt is the next call", async () => {
    const p = processOn(memoryStore(), config());
    p.generate.mockRejectedValueOnce(new ModelError("overloaded", 503));
    await runStep(p.io);
    expect(p.store.loop).toMatchObject({ phase: "model", attempts: 1, modelCalls: 1 });
    expect(phaseOf(p.store.stored).name).toBe("backoff");
    expect(p.store.journal.get("model:0")).toMatchObject({ error: { message: "overloaded", status: 503, retryable: true } });
    expect(p.store.events.since(0).map((e) => e.data)).toContainEqual(expect.objectContaining({ call: 0, error: "overloaded", status: 503 }));
    p.generate.mockResolvedValueOnce(answer("ok"));
    await runStep(p.io);
    expect(p.generate.mock.calls.map((c) => c[1])).toEqual([0, 1]);
  });

  it("a final answer in task mode exits 0 in the same commit as the answer; nothing is reported as progress", async () => {
    const p = processOn(memoryStore(), config());
    p.generate.mockResolvedValueOnce(answer("the answer"));
    await runStep(p.io);
    expect(p.store.exit).toMatchObject({ status: { code: 0, reason: "completed" }, result: "the answer", reported: false });
    expect(p.store.loop.phase).toBe("exited");
    expect(events(p.store)).toEqual(["model", "state", "exit"]);
    expect(p.report).not.toHaveBeenCalled();
  });

  it("a kill during the model call keeps nothing of its answer", async () => {
    const p = processOn(memoryStore(), config());
    p.generate.mockImplementationOnce(async () => {
      p.store.commit(exitChange(p.store.loop, { code: -15, reason: "killed by SIGTERM", at: new Date().toISOString() }, null, { reported: true }));
      return calling(write("a"));
    });
    await runStep(p.io);
    expect(p.store.conversation.all().map((m) => m.role)).toEqual(["user"]);
    expect(p.fsCalls).toEqual([]);
    expect(p.store.exit).toMatchObject({ status: { code: -15 }, reported: true });
    expect(events(p.store)).toEqual(["state", "exit"]);
  });

  it("calls past the tool-call budget are refused without running; a result too large to keep becomes an error", async () => {
    const p = processOn(memoryStore(), config({}, ["read_file", "write_file"], { toolCalls: 1 }), async () => ({ ok: true, output: "x".repeat(1600 * 1024) }));
    p.generate.mockResolvedValueOnce(calling({ id: "big", name: "read_file", arguments: { path: "/big" } }, write("b")));
    await runStep(p.io);
    expect(p.fsCalls).toEqual(["big"]);
    const [refused, big] = toolMessages(p.store);
    expect(refused).toMatchObject({ toolCallId: "b", content: "Error: budget exhausted: no tool calls remain in this process's budget", isError: true });
    expect(big).toMatchObject({ toolCallId: "big", isError: true, content: expect.stringMatching(/^Error: the result of read_file is \d+ bytes as stored; one message is limited to/) });
    expect(p.store.loop).toMatchObject({ phase: "model", finalCall: true, usage: { toolCalls: 1 } });
  });

  it("a collect that is not satisfied waits (hooks run once); a later step resumes it and closes the turn", async () => {
    const p = processOn(memoryStore(), config({}, ["collect"]));
    p.store.inbox.record({ taskId: "t1", pid: 2, agent: "w", state: "working" }, "on_demand");
    p.generate.mockResolvedValueOnce(calling({ id: "c", name: "collect", arguments: {} }));
    await runStep(p.io);
    expect(phaseOf(p.store.stored)).toMatchObject({ name: "waiting" });
    expect(p.store.events.since(0).find((e) => e.type === "state")?.data).toMatchObject({ state: "sleeping", collect: { taskIds: ["t1"] } });
    // Not yet: the step runs again and still waits, without a result.
    await runStep(p.io);
    expect(toolMessages(p.store)).toEqual([]);
    p.store.inbox.applyResult({ taskId: "t1", pid: 2, agent: "w", state: "completed", result: "r", reason: null, usage: { inputTokens: 0, outputTokens: 0, toolCalls: 0 } });
    await runStep(p.io);
    expect(p.generate).toHaveBeenCalledTimes(1);
    expect(events(p.store).filter((t) => t === "tool_call")).toHaveLength(1);
    expect(JSON.parse(toolMessages(p.store)[0]!.content)).toMatchObject({ completed: [{ taskId: "t1", result: "r" }], satisfied: true });
    expect(p.store.loop).toMatchObject({ phase: "model" });
    expect(p.store.loop).not.toHaveProperty("waiting");
  });
});

describe("a restored process", () => {
  it("continues a turn from its saved conversation: results it holds are not run again", async () => {
    const cfg = config();
    const db = memoryStore();
    const store = new ProcessStore(db, () => {});
    const loop = { ...initialLoopState(), phase: "tools" as const, turnCount: 1, modelCalls: 1, pendingCalls: [write("a"), write("b")] };
    const messages: Message[] = [
      { role: "user", content: "go" },
      { role: "assistant", content: "", toolCalls: [write("a"), write("b")] },
      { role: "tool", toolCallId: "a", name: "write_file", content: "Error: vetoed by hook x: no", isError: true },
    ];
    store.create(cfg, loop, messages, [["state", { state: "running" }]]);
    expect(store.journal.get("tool:a")).toMatchObject({ success: false, error: "vetoed by hook x: no" });
    expect(store.journal.has("tool:b")).toBe(false);
    const p = processOn(db, cfg);
    await runStep(p.io);
    expect(p.fsCalls).toEqual(["b"]);
    expect(toolMessages(p.store).map((m) => m.toolCallId)).toEqual(["a", "b"]);
  });
});
