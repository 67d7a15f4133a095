/**
 * The process side of people in the loop, without workerd: the waits and when they wake the loop,
 * a turn whose calls a policy asks about, decisions and answers recorded at least once and applied
 * once, and a copilot's view of its workers' questions.
 */
import { describe, expect, it, vi } from "vitest";
import { type Message, type ToolCall } from "../../../src/contracts";
import type { Approval } from "../../../src/contracts/approvals";
import type { CollectedTask } from "../../../src/contracts/tasks";
import { refreshQuestions, settleCollect } from "../../../src/agent/collect";
import type { ModelResponse } from "../../../src/models/model";
import { Inbox } from "../../../src/process/inbox";
import { idle, initialLoopState, nextAlarm, phaseOf, restoredLoop, type LoopState } from "../../../src/process/machine";
import { answerPersonQuestion, NotWaitingYet, recordDecision, recordTaskAnswer } from "../../../src/process/people";
import { runStep, type StepIO } from "../../../src/process/step";
import { describeTaskQuestion, ProcessStore } from "../../../src/process/store";
import { dispatchCalls, type Gate } from "../../../src/process/tools/dispatcher";
import { builtinTools } from "../../../src/process/tools/registry";
import type { ToolContext } from "../../../src/process/tools/types";
import { dueAt, openPersonQuestion, refusalText, withAnswer, withDecision, type ApprovalWait, type CallWait } from "../../../src/process/waits";
import type { GateOptions, ProcessConfig } from "../../../src/rpc/messages";
import { processConfig } from "../support/process";
import { memoryStore } from "../support/sqlite";
import { processDb } from "../support/process-db";

const NOW = 1_000_000;
const usage = { inputTokens: 0, outputTokens: 0, toolCalls: 0 };

const approvalWait = (over: Partial<ApprovalWait> = {}): ApprovalWait => ({ kind: "approval", approvalId: "ap1", hook: "gate", reason: "r", deadline: NOW + 5_000, ...over });
const approval = (over: Partial<Approval> = {}): Approval => ({
  id: "ap1",
  pid: 1,
  rootPid: 1,
  agent: "a",
  tool: "write_file",
  arguments: { path: "/a", content: "a" },
  toolCallId: "w",
  hook: "gate",
  reason: "r",
  state: "approved",
  createdAt: new Date(NOW).toISOString(),
  expiresAt: new Date(NOW + 5_000).toISOString(),
  decidedBy: "api:operator",
  ...over,
});

describe("waits", () => {
  it("are due at their deadline, at once when decided or answered, never for an open question", () => {
    expect(dueAt(approvalWait())).toBe(NOW + 5_000);
    expect(dueAt(approvalWait({ decision: { state: "rejected" } }))).toBe(0);
    expect(dueAt({ kind: "input", question: "q", to: "person" })).toBe(Infinity);
    expect(dueAt({ kind: "input", question: "q", to: "task", answer: { text: "a", by: "task" } })).toBe(0);
    expect(dueAt({ taskIds: [], deadline: NOW + 7 })).toBe(NOW + 7);
  });

  it("record a decision once, only for the approval they wait on, never a pending one", () => {
    const waiting: Record<string, CallWait> = { w: approvalWait() };
    expect(withDecision(waiting, approval({ state: "pending" }))).toBe(waiting);
    expect(withDecision(waiting, approval({ id: "other" }))).toBe(waiting);
    expect(withDecision(waiting, approval({ toolCallId: "x" }))).toBe(waiting);
    const decided = withDecision(waiting, approval({ arguments: { path: "/edited" } }));
    expect(decided.w).toMatchObject({ decision: { state: "approved", arguments: { path: "/edited" }, decidedBy: "api:operator" } });
    // a second delivery changes nothing, even with another outcome
    expect(withDecision(decided, approval({ state: "rejected" }))).toBe(decided);
  });

  it("record an answer once; a message answers the oldest open question to a person", () => {
    const waiting: Record<string, CallWait> = { a: { kind: "input", question: "1?", to: "person" }, b: { kind: "input", question: "2?", to: "person" }, t: { kind: "input", question: "3?", to: "task" } };
    expect(openPersonQuestion(waiting, [{ id: "t" }, { id: "b" }, { id: "a" }])?.toolCallId).toBe("b");
    const answered = withAnswer(waiting, "b", { text: "two", by: "api:admin" });
    expect(withAnswer(answered, "b", { text: "again", by: "api:admin" })).toBe(answered);
    expect(openPersonQuestion(answered, [{ id: "t" }, { id: "b" }, { id: "a" }])?.toolCallId).toBe("a");
    expect(withAnswer(waiting, "nope", { text: "x", by: "y" })).toBe(waiting);
  });

  it("say what a refusal is: rejected by whom and why, or expired", () => {
    expect(refusalText({ state: "rejected", decidedBy: "api:operator", message: "no" }, "ap1")).toBe("rejected by api:operator: no");
    expect(refusalText({ state: "rejected", decidedBy: "api:admin" }, "ap1")).toBe("rejected by api:admin: no reason given");
    expect(refusalText({ state: "expired", decidedBy: "kernel", message: "no decision within 1000 ms" }, "ap1")).toMatch(/^expired: .*ap1.*not run.*no decision within 1000 ms/);
  });
});

describe("a restored checkpoint", () => {
  it("asks again: its approvals and questions belonged to the saved process; collects go on", () => {
    const saved: LoopState = { ...initialLoopState(), phase: "tools", paused: true, pendingCalls: [write("a"), write("q"), write("c")], waiting: { a: approvalWait(), q: { kind: "input", question: "?", to: "person" }, c: { taskIds: ["t"], deadline: NOW } } };
    expect(restoredLoop(saved)).toMatchObject({ paused: false, waiting: { c: { taskIds: ["t"] } } });
    expect(Object.keys(restoredLoop(saved).waiting!)).toEqual(["c"]);
    expect(restoredLoop({ ...saved, waiting: { a: approvalWait() } })).not.toHaveProperty("waiting");
  });
});

describe("the alarm while calls wait", () => {
  const waitingLoop = (waiting: Record<string, CallWait>): LoopState => ({ ...initialLoopState(), phase: "tools", pendingCalls: [], waiting });
  it("arms only the earliest deadline; none for questions alone; now once something is ready", () => {
    const at = (waiting: Record<string, CallWait>) => nextAlarm({ loop: waitingLoop(waiting), exit: null }, idle(), NOW);
    expect(at({ a: approvalWait({ deadline: NOW + 9_000 }), b: approvalWait({ deadline: NOW + 3_000 }) })).toBe(NOW + 3_000);
    expect(at({ q: { kind: "input", question: "?", to: "person" } })).toBeNull();
    expect(at({ q: { kind: "input", question: "?", to: "person" }, c: { taskIds: ["t"], deadline: NOW + 60_000 } })).toBe(NOW + 60_000);
    expect(at({ a: approvalWait({ decision: { state: "approved" } }), q: { kind: "input", question: "?", to: "person" } })).toBe(NOW);
    expect(phaseOf({ loop: waitingLoop({ q: { kind: "input", question: "?", to: "person" } }), exit: null })).toEqual({ name: "waiting", until: Infinity });
    // paused: nothing, whatever waits
    expect(nextAlarm({ loop: { ...waitingLoop({ a: approvalWait({ decision: { state: "approved" } }) }), paused: true }, exit: null }, idle(), NOW)).toBeNull();
  });
});

// ---------------------------------------------------------------------------------------------
// A turn with asked calls, over an in-memory store and a fake kernel.

const config = (tools = ["write_file", "list_dir", "request_input"]): ProcessConfig => processConfig({ tools });
const write = (id: string, path = `/${id}`): ToolCall => ({ id, name: "write_file", arguments: { path, content: id } });
const calling = (...calls: ToolCall[]): ModelResponse => ({ text: "", toolCalls: calls, usage: { inputTokens: 1, outputTokens: 1 } });

/** A process whose kernel asks about every write (each asked call gets approval `ap-<call id>`). */
function asking(db = memoryStore(), kernel: { approvals?: Map<string, Approval>; askAgain?: boolean; questions?: string[] } = {}) {
  const cfg = config();
  const store = new ProcessStore(db, () => {});
  if (!store.load()) store.create(cfg, initialLoopState(), [{ role: "user", content: "go" }], []);
  const ran: { id: string; args: Record<string, unknown> }[] = [];
  const gates: { ids: string[]; opts?: GateOptions }[] = [];
  const approvals = kernel.approvals ?? new Map<string, Approval>();
  const context: ToolContext = {
    pid: 1,
    runFsTool: async (name, args, callId) => {
      ran.push({ id: callId, args });
      if (typeof args.path !== "string") return { ok: false, code: "invalid_arguments", message: "invalid arguments: path: expected string" };
      return { ok: true, output: `${name} ${String(args.path)}` };
    },
    delegate: () => Promise.reject(new Error("no")),
    cancelTask: () => Promise.reject(new Error("no")),
    requestInput: async (id, q) => (kernel.questions?.push(`${id}:${q}`), { kind: "person" }),
    inputProvided: vi.fn(async () => {}),
    replyTask: () => Promise.reject(new Error("no")),
    inbox: store.inbox,
    now: () => NOW,
  };
  const gate = async (calls: { id: string; name: string }[], opts?: GateOptions): Promise<Gate> => {
    gates.push({ ids: calls.map((c) => c.id), ...(opts ? { opts } : {}) });
    const asks: Gate["asks"] = {};
    for (const c of calls) {
      if (c.name !== "write_file" || (opts?.afterHook && !kernel.askAgain)) continue;
      const id = opts?.afterHook ? `ap-${c.id}-2` : `ap-${c.id}`;
      asks[c.id] = { approvalId: id, hook: opts?.afterHook ? "second" : "gate", reason: "writes", expiresAt: NOW + 5_000 };
    }
    return { vetoes: {}, hidden: {}, postHooks: false, asks };
  };
  const generate = vi.fn<StepIO["generate"]>();
  const io: StepIO = {
    config: cfg,
    store,
    generate,
    tools: async () => builtinTools,
    dispatch: (calls, settle, wait, approved) =>
      dispatchCalls(calls, {
        allowed: cfg.tools,
        context,
        beforeDispatch: gate,
        ...(approved ? { gateOptions: { afterHook: approved.afterHook }, approvedId: approved.approvalId } : {}),
        afterDispatch: async () => [],
        emitCall: (call) => store.emit("tool_call", call),
        exited: () => store.exit !== null,
        timeoutMs: 1_000,
        parallel: true,
        settle,
        wait,
      }),
    resume: async (call, wait) => (await builtinTools.get(call.name)?.resume?.(call, wait, context)) ?? null,
    approvalState: vi.fn(async (id: string) => {
      const a = approvals.get(id);
      if (!a) throw new Error(`no approval ${id}`);
      return a;
    }),
    report: async () => null,
    now: () => NOW,
  };
  return { store, io, ran, gates, generate, context };
}
const results = (store: ProcessStore) => store.conversation.all().filter((m): m is Extract<Message, { role: "tool" }> => m.role === "tool");

describe("a turn whose calls a policy asks about", () => {
  it("runs the other calls now and waits for the asked ones; a decision recorded twice runs the call once", async () => {
    const p = asking();
    p.generate.mockResolvedValueOnce(calling(write("w"), { id: "l", name: "list_dir", arguments: { path: "/" } }));
    await runStep(p.io);
    expect(p.ran.map((r) => r.id)).toEqual(["l"]);
    expect(p.store.loop.waiting).toEqual({ w: approvalWait({ approvalId: "ap-w", reason: "writes" }) });
    expect(phaseOf(p.store.stored)).toEqual({ name: "waiting", until: NOW + 5_000 });
    const events = p.store.events.since(0, 100);
    expect(events.find((e) => e.type === "approval")?.data).toMatchObject({ approvalId: "ap-w", toolCallId: "w", state: "pending" });
    expect(events.filter((e) => e.type === "tool_call").map((e) => (e.data as ToolCall).id)).toEqual(["l"]);

    expect(recordDecision(p.store, approval({ id: "ap-w", toolCallId: "w", arguments: { path: "/edited", content: "x" } }))).toBe(true);
    expect(recordDecision(p.store, approval({ id: "ap-w", toolCallId: "w" }))).toBe(false);
    expect(phaseOf(p.store.stored)).toEqual({ name: "waiting", until: 0 });
    await runStep(p.io);
    expect(p.ran).toEqual([{ id: "l", args: { path: "/" } }, { id: "w", args: { path: "/edited", content: "x" } }]);
    // the approved call passed the hooks after the one that asked
    expect(p.gates.at(-1)).toEqual({ ids: ["w"], opts: { afterHook: "gate" } });
    expect(results(p.store).map((m) => [m.toolCallId, m.content])).toEqual([["l", "list_dir /"], ["w", "write_file /edited"]]);
    expect(p.store.loop).toMatchObject({ phase: "model", usage: { toolCalls: 2 } });
    // a decision after the call settled changes nothing
    expect(recordDecision(p.store, approval({ id: "ap-w", toolCallId: "w", state: "rejected" }))).toBe(false);
  });

  it("rejected or expired: the call's result is the refusal, and it never runs", async () => {
    const p = asking();
    p.generate.mockResolvedValueOnce(calling(write("a"), write("b")));
    await runStep(p.io);
    recordDecision(p.store, approval({ id: "ap-a", toolCallId: "a", state: "rejected", message: "no" }));
    recordDecision(p.store, approval({ id: "ap-b", toolCallId: "b", state: "expired", decidedBy: "kernel", message: "killed" }));
    await runStep(p.io);
    expect(p.ran).toEqual([]);
    expect(results(p.store).map((m) => [m.toolCallId, m.isError, m.content])).toEqual([
      ["a", true, "Error: rejected by api:operator: no"],
      ["b", true, expect.stringMatching(/^Error: expired: .*ap-b.*\(killed\)$/)],
    ]);
  });

  it("at the deadline with no delivery it asks the kernel: still pending waits on (no busy loop), expired settles", async () => {
    const approvals = new Map<string, Approval>();
    const p = asking(memoryStore(), { approvals });
    p.generate.mockResolvedValueOnce(calling(write("w")));
    await runStep(p.io);
    // not yet due: the kernel is not asked
    await runStep(p.io);
    expect(p.io.approvalState).not.toHaveBeenCalled();
    // due, and the kernel's clock says later: wait until its expiry
    p.store.commit({ loop: { ...p.store.loop, waiting: { w: approvalWait({ approvalId: "ap-w", deadline: NOW - 1 }) } } });
    approvals.set("ap-w", approval({ id: "ap-w", toolCallId: "w", state: "pending", expiresAt: new Date(NOW + 2_000).toISOString() }));
    await runStep(p.io);
    expect(p.store.loop.waiting?.w).toMatchObject({ deadline: NOW + 2_000 });
    // due again, the kernel has expired it
    p.store.commit({ loop: { ...p.store.loop, waiting: { w: approvalWait({ approvalId: "ap-w", deadline: NOW - 1 }) } } });
    approvals.set("ap-w", approval({ id: "ap-w", toolCallId: "w", state: "expired", decidedBy: "kernel", message: "no decision within 5000 ms" }));
    await runStep(p.io);
    expect(results(p.store)[0]).toMatchObject({ toolCallId: "w", isError: true, content: expect.stringMatching(/^Error: expired: /) });
    expect(p.store.events.since(0, 100).filter((e) => e.type === "approval").map((e) => (e.data as { state: string }).state)).toEqual(["pending", "expired"]);
  });

  it("a decision delivered while the kernel is asked at the deadline is kept, and the call runs", async () => {
    const approvals = new Map<string, Approval>();
    const p = asking(memoryStore(), { approvals });
    p.generate.mockResolvedValueOnce(calling(write("w")));
    await runStep(p.io);
    p.store.commit({ loop: { ...p.store.loop, waiting: { w: approvalWait({ approvalId: "ap-w", deadline: NOW - 1 }) } } });
    vi.mocked(p.io.approvalState).mockImplementationOnce(async () => {
      // the outbox delivers the decision while the kernel's (stale) answer is on its way
      recordDecision(p.store, approval({ id: "ap-w", toolCallId: "w" }));
      return approval({ id: "ap-w", toolCallId: "w", state: "pending" });
    });
    await runStep(p.io);
    expect(p.ran.map((r) => r.id)).toEqual(["w"]);
    expect(results(p.store)).toMatchObject([{ toolCallId: "w", isError: false }]);
  });

  it("a kernel that cannot be asked at the deadline is asked again later", async () => {
    const p = asking();
    p.generate.mockResolvedValueOnce(calling(write("w")));
    await runStep(p.io);
    p.store.commit({ loop: { ...p.store.loop, waiting: { w: approvalWait({ approvalId: "ap-w", deadline: NOW - 1 }) } } });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    await runStep(p.io);
    warn.mockRestore();
    expect(p.store.loop.waiting?.w).toMatchObject({ deadline: NOW + 5_000 });
    expect(results(p.store)).toEqual([]);
  });

  it("a later hook that asks again makes the call wait for a second approval", async () => {
    const p = asking(memoryStore(), { askAgain: true });
    p.generate.mockResolvedValueOnce(calling(write("w")));
    await runStep(p.io);
    recordDecision(p.store, approval({ id: "ap-w", toolCallId: "w" }));
    await runStep(p.io);
    expect(p.ran).toEqual([]);
    expect(p.store.loop.waiting?.w).toMatchObject({ approvalId: "ap-w-2", hook: "second" });
    expect(p.store.loop.waiting?.w).not.toHaveProperty("decision");
    recordDecision(p.store, approval({ id: "ap-w-2", toolCallId: "w" }));
    await runStep(p.io);
    expect(p.ran.map((r) => r.id)).toEqual(["w"]);
  });

  it("the object dies while an approved call runs: the next incarnation gates it again after the hook and runs it, once recorded", async () => {
    const db = memoryStore();
    const first = asking(db);
    first.generate.mockResolvedValueOnce(calling(write("w")));
    await runStep(first.io);
    recordDecision(first.store, approval({ id: "ap-w", toolCallId: "w" }));
    // The decision is stored; a new object over the same storage settles it.
    const second = asking(db);
    await runStep(second.io);
    expect(second.ran.map((r) => r.id)).toEqual(["w"]);
    expect(second.gates).toEqual([{ ids: ["w"], opts: { afterHook: "gate" } }]);
    await runStep(second.io);
    expect(second.ran).toHaveLength(1);
  });

  it("a decision that arrives before its wait is stored is refused, to be delivered again", () => {
    const p = asking();
    p.store.commit({ loop: { ...p.store.loop, phase: "tools", pendingCalls: [write("w")] } });
    expect(() => recordDecision(p.store, approval({ id: "ap-w", toolCallId: "w" }))).toThrow(NotWaitingYet);
    expect(() => recordTaskAnswer(p.store, "w", "x")).toThrow(NotWaitingYet);
    // for a call that is not of this turn it is simply dropped
    expect(recordDecision(p.store, approval({ id: "ap-z", toolCallId: "z" }))).toBe(false);
  });
});

describe("a question to a person", () => {
  it("waits with no deadline; a message is its answer, reported to the kernel before it becomes the result", async () => {
    const questions: string[] = [];
    const p = asking(memoryStore(), { questions });
    p.generate.mockResolvedValueOnce(calling({ id: "q", name: "request_input", arguments: { question: "Which one?" } }));
    await runStep(p.io);
    expect(questions).toEqual(["q:Which one?"]);
    expect(p.store.loop.waiting).toEqual({ q: { kind: "input", question: "Which one?", to: "person" } });
    expect(nextAlarm(p.store.stored, idle(), NOW)).toBeNull();
    expect(answerPersonQuestion(p.store, "the blue one", "api:operator")).toEqual({ toolCallId: "q" });
    expect(answerPersonQuestion(p.store, "again", "api:operator")).toBeNull();
    await runStep(p.io);
    expect(p.context.inputProvided).toHaveBeenCalledWith("q", "api:operator", "the blue one");
    expect(results(p.store)).toMatchObject([{ toolCallId: "q", content: "the blue one", isError: false }]);
    expect(p.store.conversation.all().filter((m) => m.role === "user")).toHaveLength(1);
  });
});

describe("a copilot's view of its workers' questions", () => {
  const task = (over: Partial<CollectedTask>): CollectedTask => ({ taskId: "t", pid: 2, agent: "w", state: "input-required", result: null, reason: null, usage, ...over });
  const inboxWith = (delivery: "immediate" | "deferred" | "on_demand" = "on_demand") => {
    const inbox = new Inbox(processDb().sql);
    inbox.record({ taskId: "t", pid: 2, agent: "w", state: "working" }, delivery);
    return inbox;
  };

  it("applies each question and answer once, in whatever order they arrive", () => {
    const inbox = inboxWith();
    expect(inbox.applyStatus(task({ question: "q1?", questionId: "c1" }))).toBe(true);
    expect(inbox.applyStatus(task({ question: "q1?", questionId: "c1" }))).toBe(false);
    expect(inbox.list()[0]).toMatchObject({ state: "input-required", question: "q1?" });
    expect(inbox.applyStatus(task({ state: "working", questionId: "c1" }))).toBe(true);
    expect(inbox.list()[0]).toMatchObject({ state: "working" });
    expect(inbox.list()[0]).not.toHaveProperty("question");
    // a late copy of the answered question does not open it again
    expect(inbox.applyStatus(task({ question: "q1?", questionId: "c1" }))).toBe(false);
    // an answer that overtook its question: the question never opens
    expect(inbox.applyStatus(task({ state: "working", questionId: "c3" }))).toBe(false);
    expect(inbox.applyStatus(task({ question: "q3?", questionId: "c3" }))).toBe(false);
    // a new question opens; reply_task answers it locally at once
    expect(inbox.applyStatus(task({ question: "q2?", questionId: "c2" }))).toBe(true);
    inbox.markAnswered("t");
    expect(inbox.list()[0]!.state).toBe("working");
    expect(inbox.applyStatus(task({ question: "q2?", questionId: "c2" }))).toBe(false);
    // the end is final
    inbox.applyResult(task({ state: "completed", result: "done" }));
    expect(inbox.applyStatus(task({ question: "q4?", questionId: "c4" }))).toBe(false);
  });

  it("tells the model how a question can be answered: with reply_task, or by a person when it lacks the tool", () => {
    const t = task({ taskId: "t-1", question: "Which colour?" });
    expect(describeTaskQuestion(t, true)).toBe('[task t-1 from w (pid 2) needs input: Which colour?]\nAnswer it with reply_task {"taskId": "t-1", "message": "..."}; the worker waits until then.');
    expect(describeTaskQuestion(t, false)).toMatch(/reply_task is not among your tools: a person can answer it \(POST \/v1\/tasks\/t-1\/reply\)/);
  });

  it("shows a question in the conversation once, unless on_demand or a collect returned it", () => {
    const immediate = inboxWith("immediate");
    immediate.applyStatus(task({ question: "q?", questionId: "c" }));
    expect(immediate.takeQuestionsForConversation().map((t) => t.question)).toEqual(["q?"]);
    expect(immediate.takeQuestionsForConversation()).toEqual([]);
    const onDemand = inboxWith("on_demand");
    onDemand.applyStatus(task({ question: "q?", questionId: "c" }));
    expect(onDemand.takeQuestionsForConversation()).toEqual([]);
    const collected = inboxWith("deferred");
    collected.applyStatus(task({ question: "q?", questionId: "c" }));
    expect(settleCollect(collected, { taskIds: ["t"], deadline: NOW + 1_000 }, { mode: "all" }, NOW, Infinity)).toMatchObject({ satisfied: false, inputRequired: [{ taskId: "t", pid: 2, question: "q?" }] });
    expect(collected.takeQuestionsForConversation()).toEqual([]);
  });

  it("a collect returns early for a question; one the kernel says is answered is working again", async () => {
    const inbox = inboxWith();
    const wait = { taskIds: ["t"], deadline: NOW + 1_000 };
    expect(settleCollect(inbox, wait, { mode: "all" }, NOW, Infinity)).toBeNull();
    inbox.applyStatus(task({ question: "q?", questionId: "c" }));
    const early = settleCollect(inbox, wait, { mode: "all" }, NOW, Infinity);
    expect(early).toMatchObject({ satisfied: false, pending: [{ taskId: "t", state: "input-required", question: "q?" }], inputRequired: [{ taskId: "t" }] });
    await refreshQuestions(inbox, ["t"], async () => ({ state: "input-required", message: "q?" }));
    expect(inbox.list()[0]!.state).toBe("input-required");
    await refreshQuestions(inbox, ["t"], async () => ({ state: "working" }));
    expect(settleCollect(inbox, wait, { mode: "all" }, NOW, Infinity)).toBeNull();
    // the late delivery of that question changes nothing
    expect(inbox.applyStatus(task({ question: "q?", questionId: "c" }))).toBe(false);
  });
});
