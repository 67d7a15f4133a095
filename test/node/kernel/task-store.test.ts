import { describe, expect, it } from "vitest";
import { ExitCode, TERMINAL_TASK_STATES, type Outcome } from "../../../src/contracts";
import { TERMINAL_TASK_SQL } from "../../../src/kernel/rows";
import { harness } from "./harness";

const errorOf = <T>(out: Outcome<T>) => (out.ok ? null : out.error);
const at = () => new Date().toISOString();

/** A copilot and `n` tasks; with `slots` (its maxChildren), the tasks past them wait for a slot, `submitted`. */
async function copilotWithTasks(n: number, slots?: number) {
  const k = harness();
  k.register("lead", { tools: ["delegate"], ...(slots !== undefined ? { limits: { maxChildren: slots } } : {}) });
  k.register("w");
  const lead = (await k.spawn("lead")).pid;
  const tasks = [];
  for (let i = 0; i < n; i++) tasks.push(await k.delegate(lead, { agent: "w", message: `m${i}` }));
  return { k, lead, tasks };
}

describe("the task store", () => {
  it("builds its SQL list of terminal states from the contract", () => {
    expect(TERMINAL_TASK_SQL).toBe(`(${TERMINAL_TASK_STATES.map((s) => `'${s}'`).join(",")})`);
  });

  it("moves submitted → working → its outcome, audited at each step", async () => {
    const { k, tasks } = await copilotWithTasks(1, 0);
    const { taskId, pid } = tasks[0]!;
    expect(k.tasks.get(taskId)!.state).toBe("submitted");
    expect(k.tasks.markWorking(taskId, pid)).toBe(true);
    expect(k.tasks.markWorking(taskId, pid)).toBe(false);
    expect(k.tasks.end(taskId, pid, { code: 1, reason: "model failed", at: at() }, "partial")).toMatchObject({ state: "failed", status_message: "model failed", result: "partial" });
    const states = k.audit.page(0, 100).filter((e) => e.event === "task_state" && e.taskId === taskId).map((e) => e.data.state);
    expect(states).toEqual(["submitted", "working", "failed"]);
  });

  it("writes a delegation whose worker starts at once working, both states audited in its spawn's transaction", async () => {
    const { k, tasks } = await copilotWithTasks(2, 1);
    const [now, queued] = tasks as [{ taskId: string; pid: number }, { taskId: string; pid: number }];
    expect(k.tasks.get(now.taskId)).toMatchObject({ state: "working" });
    expect(k.tasks.get(queued.taskId)).toMatchObject({ state: "submitted" });
    // Its start landing has nothing to move; the queued one's does.
    expect(k.tasks.markWorking(now.taskId, now.pid)).toBe(false);
    const entries = k.audit.page(0, 100);
    const states = (id: string) => entries.filter((e) => e.event === "task_state" && e.taskId === id).map((e) => e.data.state);
    expect(states(now.taskId)).toEqual(["submitted", "working"]);
    expect(states(queued.taskId)).toEqual(["submitted"]);
    // The start order says so, so the drain writes nothing of the task (src/kernel/deliveries.ts).
    const starts = k.outbox.due({ onlyPids: [now.pid, queued.pid], fromAlarm: true });
    expect(starts.map((e) => (e.kind === "start" ? [e.pid, e.payload.running ?? false, e.payload.taskWorking ?? false] : null))).toEqual([[now.pid, true, true]]);
    expect(k.tasks.end(now.taskId, now.pid, { code: 0, reason: "completed", at: at() }, "done")).toMatchObject({ state: "completed" });
    expect(k.audit.verify({ full: true }).ok).toBe(true);
  });

  it("never changes a terminal state: a second end and a late start are ignored", async () => {
    const { k, tasks } = await copilotWithTasks(1, 0);
    const { taskId, pid } = tasks[0]!;
    expect(k.tasks.end(taskId, pid, { code: 0, reason: "completed", at: at() }, "first")).toMatchObject({ state: "completed", status_message: null });
    expect(k.tasks.end(taskId, pid, { code: ExitCode.terminated, reason: "killed", at: at() }, null)).toBeNull();
    expect(k.tasks.markWorking(taskId, pid)).toBe(false);
    expect(k.tasks.get(taskId)).toMatchObject({ state: "completed", result: "first" });
    expect(k.audit.page(0, 100).filter((e) => e.event === "task_state" && e.taskId === taskId)).toHaveLength(2);
  });

  it("maps exits to outcomes: 0 completed, killed or terminated canceled, anything else failed", async () => {
    const { k, tasks } = await copilotWithTasks(4);
    const codes = [ExitCode.completed, ExitCode.killed, ExitCode.terminated, ExitCode.maxTurns];
    tasks.forEach((t, i) => k.tasks.end(t.taskId, t.pid, { code: codes[i]!, reason: "r", at: at() }, null));
    expect(tasks.map((t) => k.tasks.get(t.taskId)!.state)).toEqual(["completed", "canceled", "canceled", "failed"]);
  });

  it("cancels only what may be cancelled: 404 for another copilot's task, 409 once ended", async () => {
    const { k, lead, tasks } = await copilotWithTasks(2, 0);
    expect(errorOf(k.tasks.cancelable("nope"))).toMatchObject({ status: 404, code: "task_not_found" });
    expect(errorOf(k.tasks.cancelable(tasks[0]!.taskId, lead + 100))).toMatchObject({ status: 404 });
    expect(k.tasks.cancelable(tasks[0]!.taskId, lead).ok).toBe(true);
    k.table.cancelTasks([k.tasks.get(tasks[0]!.taskId)!], "api:operator");
    expect(k.tasks.get(tasks[0]!.taskId)).toMatchObject({ state: "canceled", status_message: "delegation cancelled" });
    expect(errorOf(k.tasks.cancelable(tasks[0]!.taskId))).toMatchObject({ status: 409, code: "task_not_cancelable", details: { state: "canceled" } });
    expect(k.tasks.get(tasks[1]!.taskId)!.state).toBe("submitted");
    expect(k.audit.page(0, 100).filter((e) => e.event === "cancel").map((e) => e.taskId)).toEqual([tasks[0]!.taskId]);
  });

  it("cancel-all takes the unfinished tasks only, in creation order", async () => {
    const { k, lead, tasks } = await copilotWithTasks(3);
    k.exit(tasks[1]!.pid, 0, "done");
    expect(k.tasks.open(lead).map((t) => t.id)).toEqual([tasks[0]!.taskId, tasks[2]!.taskId]);
    expect(k.table.cancelOpenTasks(lead, "api:operator")).toEqual([tasks[0]!.taskId, tasks[2]!.taskId]);
    expect(k.tasks.open(lead)).toEqual([]);
    expect(k.tasks.get(tasks[1]!.taskId)!.state).toBe("completed");
    expect(k.table.cancelOpenTasks(lead, "api:operator")).toEqual([]);
  });

  it("pages tasks in creation order, for one copilot or all", async () => {
    const { k, lead, tasks } = await copilotWithTasks(3, 0);
    k.register("other", { tools: ["delegate"] });
    const other = (await k.spawn("other")).pid;
    const extra = await k.delegate(other, { agent: "w" });
    const first = k.tasks.page({ copilotPid: lead, limit: 2 });
    expect(first.items.map((t) => t.id)).toEqual([tasks[0]!.taskId, tasks[1]!.taskId]);
    expect(first.nextCursor).toBe(String(tasks[1]!.pid));
    const rest = k.tasks.page({ copilotPid: lead, limit: 2, cursor: first.nextCursor! });
    expect(rest).toEqual({ items: [expect.objectContaining({ id: tasks[2]!.taskId })], nextCursor: null });
    expect(k.tasks.page({ limit: 10 }).items.map((t) => t.id)).toEqual([...tasks.map((t) => t.taskId), extra.taskId]);
    expect(k.tasks.page({ limit: 1, v1: true }).items[0]!.status.state).toBe("TASK_STATE_SUBMITTED");
  });

  it("input-required while the worker waits on a person, working again after; never an ended task (SPEC §11)", async () => {
    const { k, tasks } = await copilotWithTasks(2, 0);
    const [a, b] = tasks as [{ taskId: string; pid: number }, { taskId: string; pid: number }];
    // Before the kernel recorded the worker's start, a question still makes the task wait.
    expect(k.tasks.setWaiting(a.taskId, a.pid, "Which city?")).toBe(true);
    expect(k.tasks.get(a.taskId)).toMatchObject({ state: "input-required", status_message: "Which city?" });
    expect(k.tasks.markWorking(a.taskId, a.pid)).toBe(false);
    expect(k.tasks.setWaiting(a.taskId, a.pid, "Which city?")).toBe(false);
    expect(k.tasks.setWaiting(a.taskId, a.pid, "And when?")).toBe(true);
    expect(k.tasks.setWaiting(a.taskId, a.pid, null)).toBe(true);
    expect(k.tasks.get(a.taskId)).toMatchObject({ state: "working", status_message: null });
    expect(k.tasks.setWaiting(a.taskId, a.pid, null)).toBe(false);
    const states = k.audit.page(0, 100).filter((e) => e.event === "task_state" && e.taskId === a.taskId).map((e) => e.data.state);
    expect(states).toEqual(["submitted", "input-required", "working"]);
    k.tasks.end(b.taskId, b.pid, { code: 0, reason: "completed", at: at() }, "done");
    expect(k.tasks.setWaiting(b.taskId, b.pid, "late question")).toBe(false);
    expect(k.tasks.get(b.taskId)).toMatchObject({ state: "completed", result: "done" });
    expect(k.tasks.setWaiting("nope", 1, "x")).toBe(false);
  });
});
