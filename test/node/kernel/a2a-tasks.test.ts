/**
 * Top-level tasks (SPEC §12): a process spawned over A2A gets its task in its spawn's transaction,
 * with no copilot; its reports move the task between working and input-required; its exit ends it.
 */
import { describe, expect, it } from "vitest";
import { ExitCode, zeroUsage } from "../../../src/contracts";
import { harness } from "./harness";

const at = () => new Date().toISOString();

async function a2aTask(k: ReturnType<typeof harness>, agent = "chat", key?: string) {
  const out = await k.spawner.spawnTask(agent, "hello", { actor: "api:operator", ...(key ? { idempotencyKey: key } : {}) });
  if (!out.ok) throw new Error(out.error.message);
  return out.value;
}

describe("a top-level process's task", () => {
  it("is written with the process: submitted, no copilot, the process's own context, audited without a delegation", async () => {
    const k = harness();
    k.register("chat", { mode: "interactive" });
    const { task, process } = await a2aTask(k);
    expect(process).toMatchObject({ parentPid: null, taskId: task.id });
    expect(task).toMatchObject({ status: { state: "submitted" }, contextId: `proc-${process.pid}`, metadata: { copilotPid: null, workerPid: process.pid, agent: "chat" } });
    expect(k.tasks.get(task.id)!.copilot_pid).toBeNull();
    const entries = k.audit.page(0, 100).filter((e) => e.taskId === task.id).map((e) => e.event);
    expect(entries).toEqual(["spawn", "task_state"]);
    expect(k.started).toEqual([process.pid]);
    // The start order carries the task (so the kernel marks it working), and no delivery policy.
    const start = k.outbox.due({ fromAlarm: true }).find((e) => e.kind === "start")!;
    expect(start.payload).toMatchObject({ config: { taskId: task.id, parentPid: null, delivery: null } });
  });

  it("answers the same task for the same idempotency key (a retried SendMessage)", async () => {
    const k = harness();
    k.register("chat");
    const a = await a2aTask(k, "chat", "m-1");
    const b = await a2aTask(k, "chat", "m-1");
    expect(b.task.id).toBe(a.task.id);
    expect(k.rows("SELECT id FROM tasks")).toHaveLength(1);
    const c = await a2aTask(k, "chat", "m-2");
    expect(c.task.id).not.toBe(a.task.id);
  });

  it("goes input-required while the process sleeps for its next message, and working again when it runs", async () => {
    const k = harness();
    k.register("chat", { mode: "interactive" });
    const { task, process } = await a2aTask(k);
    const id = task.id;
    expect(k.tasks.markWorking(id, process.pid)).toBe(true);
    k.tasks.followReport(id, process.pid, { message: "What next?" });
    expect(k.tasks.get(id)).toMatchObject({ state: "input-required", status_message: "What next?" });
    // A second report while it still sleeps changes nothing.
    const stamp = k.tasks.get(id)!.status_at;
    k.tasks.followReport(id, process.pid, { message: "What next?" });
    expect(k.tasks.get(id)!.status_at).toBe(stamp);
    k.tasks.followReport(id, process.pid, undefined);
    expect(k.tasks.get(id)).toMatchObject({ state: "working", status_message: null });
    const states = k.audit.page(0, 100).filter((e) => e.event === "task_state" && e.taskId === id).map((e) => e.data.state);
    expect(states).toEqual(["submitted", "working", "input-required", "working"]);
    // It ends from input-required as from working; then nothing moves it.
    k.tasks.followReport(id, process.pid, { message: "Bye" });
    k.exit(process.pid, 0, "Bye");
    expect(k.tasks.get(id)).toMatchObject({ state: "completed", result: "Bye" });
    k.tasks.followReport(id, process.pid, undefined);
    expect(k.tasks.get(id)!.state).toBe("completed");
  });

  it("stays input-required while its process waits on a person, whatever the process reports; answered, it works again", async () => {
    const k = harness();
    k.register("asker", { tools: ["request_input"] });
    const { task, process } = await a2aTask(k, "asker");
    const id = task.id;
    k.tasks.markWorking(id, process.pid);
    const woken = k.taskWaiters.wait(id, 5_000).then(() => k.tasks.get(id)!.state);
    // The question goes to the task (no copilot to tell), not to the process's pendingInput.
    expect(k.people.questions.ask(k.table.get(process.pid)!, "q1", "Which colour?")).toEqual({ kind: "task", taskId: id });
    expect(await woken).toBe("input-required");
    expect(k.tasks.get(id)).toMatchObject({ state: "input-required", status_message: "Which colour?" });
    expect(k.table.get(process.pid)!.pending_input).toBeNull();
    expect(k.outbox.due({ fromAlarm: true }).filter((e) => e.kind === "deliver")).toEqual([]);
    // The process waits in its turn (no `awaiting`): its report does not make the task working.
    k.tasks.followReport(id, process.pid, undefined, k.people.waitsOnPerson(process.pid));
    expect(k.tasks.get(id)!.state).toBe("input-required");
    const answered = k.taskWaiters.wait(id, 5_000).then(() => k.tasks.get(id)!.state);
    expect(k.people.questions.reply(id, "blue", { actor: "api:operator" })).toEqual({ ok: true, value: { taskId: id, state: "working" } });
    expect(await answered).toBe("working");
    const input = k.outbox.due({ fromAlarm: true }).find((e) => e.kind === "input")!;
    expect(input.payload).toMatchObject({ toolCallId: "q1", answer: "blue", by: "api:operator" });
  });

  it("leaves a delegation's task working while its worker sleeps (SPEC §7), and delivers nothing for a top-level one", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"] });
    k.register("w", { mode: "interactive" });
    const lead = (await k.spawn("lead")).pid;
    const { taskId, pid } = await k.delegate(lead, { agent: "w" });
    k.tasks.markWorking(taskId, pid);
    k.tasks.followReport(taskId, pid, { message: "sleeping" });
    expect(k.tasks.get(taskId)!.state).toBe("working");

    const { task, process } = await a2aTask(k, "w");
    k.table.exitedOnItsOwn(k.table.get(process.pid)!, { code: ExitCode.completed, reason: "completed", at: at() }, "done", { turnCount: 1, usage: zeroUsage() });
    expect(k.tasks.get(task.id)!.state).toBe("completed");
    expect(k.outbox.due({ fromAlarm: true }).filter((e) => e.kind === "deliver")).toEqual([]);
  });

  it("is cancelled with its process (task cancelled), and counted and listed by agent and state", async () => {
    const k = harness();
    k.register("chat");
    k.register("other");
    const one = await a2aTask(k, "chat");
    const two = await a2aTask(k, "chat");
    await a2aTask(k, "other");
    k.table.cancelTasks([k.tasks.get(one.task.id)!], "api:operator");
    expect(k.tasks.get(one.task.id)).toMatchObject({ state: "canceled", status_message: "task cancelled" });
    expect(k.table.get(one.process.pid)!.exit).toContain("task cancelled");
    expect(k.tasks.count({ agent: "chat" })).toBe(2);
    expect(k.tasks.count({ agent: "chat", state: "canceled" })).toBe(1);
    expect(k.tasks.page({ agent: "chat", limit: 10 }).items.map((t) => t.id)).toEqual([one.task.id, two.task.id]);
    expect(k.tasks.page({ agent: "chat", state: "submitted", limit: 10 }).items.map((t) => t.id)).toEqual([two.task.id]);
    const first = k.tasks.page({ agent: "chat", limit: 1 });
    expect(first.nextCursor).not.toBeNull();
    expect(k.tasks.page({ agent: "chat", limit: 1, cursor: first.nextCursor! }).items.map((t) => t.id)).toEqual([two.task.id]);
  });

  it("wakes whoever waits for the task's next state, on every change", async () => {
    const k = harness();
    k.register("chat");
    const { task, process } = await a2aTask(k);
    const woken = k.taskWaiters.wait(task.id, 5_000).then(() => k.tasks.get(task.id)!.state);
    k.tasks.markWorking(task.id, process.pid);
    expect(await woken).toBe("working");
    const again = k.taskWaiters.wait(task.id, 5_000).then(() => k.tasks.get(task.id)!.state);
    k.exit(process.pid, 1, null);
    expect(await again).toBe("failed");
  });
});
