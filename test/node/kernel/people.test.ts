import { describe, expect, it } from "vitest";
import { ExitCode, type Outcome } from "../../../src/contracts";
import type { DispatchCall } from "../../../src/kernel/hook-runner";
import { exitMessage } from "../../../src/kernel/approvals";
import { waitMessage } from "../../../src/kernel/questions";
import { harness, type Harness } from "./harness";

const errorOf = <T>(out: Outcome<T>) => (out.ok ? null : out.error);
const valueOf = <T>(out: Outcome<T>): T => {
  if (!out.ok) throw new Error(`${out.error.code}: ${out.error.message}`);
  return out.value;
};
const call = (id: string, name = "write_file", args: Record<string, unknown> = { path: "/x", content: "y" }): DispatchCall => ({ id, name, arguments: args, paths: ["/x"] });
const ask = (hook = "guard", timeoutMs = 60_000) => ({ hook, reason: "a person decides writes", timeoutMs });

/** A copilot (pid 1) with one working worker, and a second tree's top-level process. */
async function tree() {
  const k = harness();
  k.register("lead", { tools: ["delegate"], mode: "interactive" });
  k.register("w", { mode: "interactive" });
  const lead = (await k.spawn("lead")).pid;
  const worker = await k.delegate(lead, { agent: "w" });
  k.tasks.markWorking(worker.taskId, worker.pid);
  const loner = (await k.spawn("w")).pid;
  return { k, lead, worker, loner };
}
const open = (k: Harness, pid: number, calls: DispatchCall[], asks: Record<string, ReturnType<typeof ask>>) => k.people.approvals.open(k.table.get(pid)!, calls, asks);
const events = (k: Harness, name: string) => k.audit.page(0, 1000).filter((e) => e.event === name);
const outboxOf = (k: Harness, kind: string) => k.rows<{ pid: number; payload: string; via_alarm: number }>("SELECT pid, payload, via_alarm FROM outbox WHERE kind = ?", kind);

describe("approvals (kernel store)", () => {
  it("opens one approval per (pid, call, hook), idempotently; a worker's carries its tree's root and makes its task input-required", async () => {
    const { k, lead, worker } = await tree();
    const first = open(k, worker.pid, [call("c1"), call("c2")], { c1: ask() });
    expect(Object.keys(first)).toEqual(["c1"]);
    const again = open(k, worker.pid, [call("c1")], { c1: ask() });
    expect(again.c1!.approvalId).toBe(first.c1!.approvalId);
    const row = k.people.approvals.get(first.c1!.approvalId)!;
    expect(row).toMatchObject({ pid: worker.pid, root_pid: lead, tool: "write_file", hook: "guard", state: "pending" });
    expect(first.c1!.expiresAt - Date.parse(row.created_at)).toBe(60_000);
    expect(events(k, "approval_requested")).toHaveLength(1);
    const task = k.tasks.get(worker.taskId)!;
    expect(task.state).toBe("input-required");
    expect(task.status_message).toContain(`approval ${first.c1!.approvalId}`);
    // A later hook of the chain asking about the same call opens a second approval.
    const later = open(k, worker.pid, [call("c1")], { c1: ask("second") });
    expect(later.c1!.approvalId).not.toBe(first.c1!.approvalId);
  });

  it("decides once: approve with replacement arguments keeps the originals, a second decision is 409 approval_decided", async () => {
    const { k, worker } = await tree();
    const id = open(k, worker.pid, [call("c1")], { c1: ask() }).c1!.approvalId;
    const decided = valueOf(k.people.approvals.decide(id, { decision: "approve", arguments: { path: "/safe", content: "y" } }, "api:operator"));
    expect(decided).toMatchObject({ state: "approved", decidedBy: "api:operator", arguments: { path: "/safe" }, originalArguments: { path: "/x" } });
    expect(errorOf(k.people.approvals.decide(id, { decision: "reject" }, "api:admin"))).toMatchObject({ status: 409, code: "approval_decided", details: { state: "approved" } });
    expect(events(k, "approval_decided").map((e) => [e.actor, e.data.decision, e.data.argumentsEdited])).toEqual([["api:operator", "approved", true]]);
    expect(k.tasks.get(worker.taskId)).toMatchObject({ state: "working", status_message: null });
    // The decision goes to the process from the kernel's alarm (a fresh event), as the Approval JSON.
    const sent = outboxOf(k, "approval");
    expect(sent).toHaveLength(1);
    expect(sent[0]!.via_alarm).toBe(1);
    expect(JSON.parse(sent[0]!.payload)).toMatchObject({ id, state: "approved", arguments: { path: "/safe" } });
  });

  it("refuses replacement arguments on a rejection, and unknown ids", async () => {
    const { k, worker } = await tree();
    const id = open(k, worker.pid, [call("c1")], { c1: ask() }).c1!.approvalId;
    expect(errorOf(k.people.approvals.decide(id, { decision: "reject", arguments: {} }, "api:operator"))).toMatchObject({ status: 400, code: "invalid_request" });
    expect(errorOf(k.people.approvals.decide("00000000-0000-4000-8000-000000000000", { decision: "approve" }, "api:operator"))).toMatchObject({ status: 404, code: "approval_not_found" });
    expect(k.people.approvals.get(id)!.state).toBe("pending");
  });

  it("keeps a worker's task input-required until its last pending approval is decided", async () => {
    const { k, worker } = await tree();
    const asks = open(k, worker.pid, [call("c1"), call("c2")], { c1: ask(), c2: ask() });
    valueOf(k.people.approvals.decide(asks.c1!.approvalId, { decision: "reject", message: "no" }, "api:operator"));
    expect(k.tasks.get(worker.taskId)!.state).toBe("input-required");
    expect(k.tasks.get(worker.taskId)!.status_message).toContain(asks.c2!.approvalId);
    valueOf(k.people.approvals.decide(asks.c2!.approvalId, { decision: "approve" }, "api:operator"));
    expect(k.tasks.get(worker.taskId)!.state).toBe("working");
    const states = k.audit.page(0, 1000).filter((e) => e.event === "task_state" && e.taskId === worker.taskId).map((e) => e.data.state);
    expect(states).toEqual(["submitted", "working", "input-required", "working"]);
  });

  it("expires a pending approval past its deadline as a rejection by the kernel: on the process's read, or by the sweep (which notifies)", async () => {
    const { k, worker, loner } = await tree();
    const a = open(k, worker.pid, [call("c1")], { c1: ask("guard", 1000) }).c1!.approvalId;
    const b = open(k, loner, [call("c9")], { c9: ask("guard", 1000) }).c9!.approvalId;
    k.store.sql.exec("UPDATE approvals SET expires_at = ?", Date.now() - 1);
    expect(k.people.approvals.nextExpiry()).toBeLessThan(Date.now());
    const read = k.people.approvals.state(worker.pid, a);
    expect(read).toMatchObject({ state: "expired", decidedBy: "kernel", message: expect.stringContaining("no decision before") });
    expect(outboxOf(k, "approval")).toHaveLength(0);
    expect(k.tasks.get(worker.taskId)!.state).toBe("working");
    expect(k.people.approvals.sweep()).toBe(1);
    expect(k.people.approvals.get(b)!.state).toBe("expired");
    expect(outboxOf(k, "approval").map((o) => o.pid)).toEqual([loner]);
    expect(k.people.approvals.nextExpiry()).toBeNull();
    expect(() => k.people.approvals.state(loner, a)).toThrow(/no approval/);
  });

  it("expires a process's pending approvals when it is killed, cancelled or exits, delivering nothing", async () => {
    const { k, lead, worker, loner } = await tree();
    const a = open(k, worker.pid, [call("c1")], { c1: ask() }).c1!.approvalId;
    const b = open(k, loner, [call("c1")], { c1: ask() }).c1!.approvalId;
    k.table.cancelTasks([k.tasks.get(worker.taskId)!], "api:operator");
    expect(k.people.approvals.get(a)).toMatchObject({ state: "expired", decided_by: "kernel", message: "killed: delegation cancelled" });
    expect(k.tasks.get(worker.taskId)!.state).toBe("canceled");
    k.exit(loner, 1);
    expect(k.people.approvals.get(b)).toMatchObject({ state: "expired", message: "process exited: failed" });
    expect(outboxOf(k, "approval")).toHaveLength(0);
    expect(valueOf(k.people.approvals.find(a)).state).toBe("expired");
    void lead;
  });

  it("lists in creation order, filtered by state, pid and tree, a page at a time", async () => {
    const { k, lead, worker, loner } = await tree();
    const w = open(k, worker.pid, [call("a"), call("b"), call("c")], { a: ask(), b: ask(), c: ask() });
    open(k, loner, [call("z")], { z: ask() });
    valueOf(k.people.approvals.decide(w.b!.approvalId, { decision: "approve" }, "api:operator"));
    const page1 = k.people.approvals.page({ limit: 2 });
    expect(page1.items.map((a) => a.toolCallId)).toEqual(["a", "b"]);
    const page2 = k.people.approvals.page({ limit: 2, cursor: page1.nextCursor! });
    expect(page2.items.map((a) => a.toolCallId)).toEqual(["c", "z"]);
    expect(page2.nextCursor).toBeNull();
    expect(k.people.approvals.page({ limit: 10, rootPid: lead }).items.map((a) => a.toolCallId)).toEqual(["a", "b", "c"]);
    expect(k.people.approvals.page({ limit: 10, rootPid: loner }).items.map((a) => a.toolCallId)).toEqual(["z"]);
    expect(k.people.approvals.page({ limit: 10, state: "pending", pid: worker.pid }).items.map((a) => a.toolCallId)).toEqual(["a", "c"]);
    expect(k.people.approvals.page({ limit: 10, state: "approved" }).items.map((a) => a.toolCallId)).toEqual(["b"]);
  });

  it("gates: asks open approvals; a probe stores nothing; an exited process's asked calls are vetoed", async () => {
    const { k, loner } = await tree();
    const verdicts = { vetoes: {}, hidden: {}, postHooks: false, asks: { c1: ask() } };
    const probe = k.people.gate(k.table.get(loner), [call("c1")], verdicts, { probe: true });
    expect(probe.asks.c1).toMatchObject({ approvalId: "", hook: "guard" });
    expect(k.rows("SELECT * FROM approvals")).toHaveLength(0);
    const real = k.people.gate(k.table.get(loner), [call("c1")], verdicts);
    expect(real.asks.c1!.approvalId).toMatch(/^[0-9a-f-]{36}$/);
    k.exit(loner, 0);
    const late = k.people.gate(k.table.get(loner), [call("c2")], { ...verdicts, asks: { c2: ask() } });
    expect(late.asks).toEqual({});
    expect(late.vetoes.c2).toMatchObject({ hook: "guard", reason: expect.stringContaining("exited") });
  });
});

describe("questions (kernel store)", () => {
  it("a worker's question makes its task input-required with the question as status, and reaches its copilot by the deliver path", async () => {
    const { k, lead, worker } = await tree();
    expect(k.people.questions.ask(k.table.get(worker.pid)!, "q1", "Which city?")).toEqual({ kind: "task", taskId: worker.taskId });
    expect(k.people.questions.ask(k.table.get(worker.pid)!, "q1", "Which city?")).toEqual({ kind: "task", taskId: worker.taskId });
    expect(k.tasks.get(worker.taskId)).toMatchObject({ state: "input-required", status_message: "Which city?" });
    expect(events(k, "input_requested")).toHaveLength(1);
    const delivered = outboxOf(k, "deliver");
    expect(delivered).toHaveLength(1);
    expect(delivered[0]!.pid).toBe(lead);
    expect(JSON.parse(delivered[0]!.payload)).toMatchObject({ task: { taskId: worker.taskId, state: "input-required", question: "Which city?", questionId: "q1" }, delivery: "immediate" });
  });

  it("a reply_task re-run after a crash (same call id) answers the task as it is, and answers nothing twice", async () => {
    const { k, lead, worker } = await tree();
    k.people.questions.ask(k.table.get(worker.pid)!, "q1", "Which city?");
    const by = { copilotPid: lead, actor: `process:${lead}` as const };
    expect(valueOf(k.people.questions.reply(worker.taskId, "Paris", { ...by, idempotencyKey: "call_7" }))).toEqual({ taskId: worker.taskId, state: "working" });
    expect(valueOf(k.people.questions.reply(worker.taskId, "Paris", { ...by, idempotencyKey: "call_7" }))).toEqual({ taskId: worker.taskId, state: "working" });
    expect(errorOf(k.people.questions.reply(worker.taskId, "Rome", { ...by, idempotencyKey: "call_8" }))).toMatchObject({ status: 409, code: "task_not_waiting" });
    expect(events(k, "input_provided")).toHaveLength(1);
    expect(outboxOf(k, "input")).toHaveLength(1);
  });

  it("reply answers the oldest open question once: the task works again, the answer goes to the worker, the copilot learns it", async () => {
    const { k, lead, worker } = await tree();
    k.people.questions.ask(k.table.get(worker.pid)!, "q1", "Which city?");
    expect(errorOf(k.people.questions.reply(worker.taskId, "Paris", { copilotPid: lead + 50, actor: "process:99" }))).toMatchObject({ status: 404, code: "task_not_found" });
    expect(valueOf(k.people.questions.reply(worker.taskId, "Paris", { copilotPid: lead, actor: `process:${lead}` }))).toEqual({ taskId: worker.taskId, state: "working" });
    expect(errorOf(k.people.questions.reply(worker.taskId, "again", { actor: "api:operator" }))).toMatchObject({ status: 409, code: "task_not_waiting" });
    expect(events(k, "input_provided").map((e) => [e.actor, e.data.answer])).toEqual([[`process:${lead}`, "Paris"]]);
    expect(outboxOf(k, "input").map((o) => [o.pid, JSON.parse(o.payload)])).toEqual([[worker.pid, { toolCallId: "q1", answer: "Paris", by: `process:${lead}` }]]);
    expect(JSON.parse(outboxOf(k, "deliver")[1]!.payload).task).toMatchObject({ state: "working", questionId: "q1" });
    // Asked again after a crash, an answered question is not reopened: its answer is sent again.
    k.people.questions.ask(k.table.get(worker.pid)!, "q1", "Which city?");
    expect(k.tasks.get(worker.taskId)!.state).toBe("working");
    expect(outboxOf(k, "input")).toHaveLength(2);
  });

  it("a task waiting on an approval is not answered by reply (409 naming the approval)", async () => {
    const { k, worker } = await tree();
    const id = open(k, worker.pid, [call("c1")], { c1: ask() }).c1!.approvalId;
    expect(errorOf(k.people.questions.reply(worker.taskId, "yes", { actor: "api:operator" }))).toMatchObject({ status: 409, code: "task_not_waiting", details: { approvalId: id } });
  });

  it("a top-level question is pendingInput on the process until a message answers it", async () => {
    const { k, loner } = await tree();
    expect(k.people.questions.ask(k.table.get(loner)!, "q7", "Your name?")).toEqual({ kind: "person" });
    expect(JSON.parse(k.table.get(loner)!.pending_input!)).toEqual({ question: "Your name?", toolCallId: "q7" });
    k.people.questions.provided(loner, "q7", "api:operator", "Ada");
    k.people.questions.provided(loner, "q7", "api:operator", "Ada");
    expect(k.table.get(loner)!.pending_input).toBeNull();
    expect(events(k, "input_provided").map((e) => e.data)).toEqual([{ toolCallId: "q7", answer: "Ada" }]);
    k.people.questions.ask(k.table.get(loner)!, "q8", "Age?");
    k.exit(loner, 0);
    expect(k.table.get(loner)!.pending_input).toBeNull();
  });
});

describe("people: pure rules", () => {
  it("says what a waiting task waits for, the question first", () => {
    expect(waitMessage("Which?", { id: "a1", tool: "write_file", reason: "r" })).toBe("Which?");
    expect(waitMessage(null, { id: "a1", tool: "write_file", reason: "r" })).toBe("Waiting for a person to approve write_file (approval a1): r");
    expect(waitMessage(null, null)).toBeNull();
    // With the call's arguments (the row's JSON), their start: enough to decide from the task alone.
    expect(waitMessage(null, { id: "a1", tool: "write_file", reason: "r", arguments: '{"path":"/x"}' })).toBe('Waiting for a person to approve write_file {"path":"/x"} (approval a1): r');
    const long = JSON.stringify({ content: "z".repeat(500) });
    expect(waitMessage(null, { id: "a1", tool: "write_file", reason: "r", arguments: long })).toBe(`Waiting for a person to approve write_file ${long.slice(0, 200)}… (approval a1): r`);
  });

  it("knows whether a process waits on a person (a question or an approval), which a report does not override", async () => {
    const { k, loner } = await tree();
    expect(k.people.waitsOnPerson(loner)).toBe(false);
    k.people.questions.ask(k.table.get(loner)!, "q1", "Which?");
    expect(k.people.waitsOnPerson(loner)).toBe(true);
    k.people.questions.provided(loner, "q1", "api:operator", "that");
    expect(k.people.waitsOnPerson(loner)).toBe(false);
    open(k, loner, [call("c1")], { c1: ask() });
    expect(k.people.waitsOnPerson(loner)).toBe(true);
  });

  it("names why an exit expired its approvals", () => {
    const at = new Date().toISOString();
    expect(exitMessage({ code: ExitCode.killed, reason: "killed by SIGKILL", at })).toBe("killed: killed by SIGKILL");
    expect(exitMessage({ code: ExitCode.completed, reason: "completed", at })).toBe("process exited: completed");
  });
});
