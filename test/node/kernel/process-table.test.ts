import { describe, expect, it, vi } from "vitest";
import { ExitCode, type ExitStatus } from "../../../src/contracts";
import { ExitWaiters } from "../../../src/kernel/exit-waiters";
import type { OutboxRow } from "../../../src/kernel/rows";
import { harness } from "./harness";

const at = () => new Date().toISOString();
const kill = { signal: "SIGTERM" as const, cascade: true };
const postTerminateHook = { kind: "webhook" as const, url: "https://hooks.example.com/k", events: ["post_terminate" as const], secret: "s", timeoutMs: 2000, failMode: "open" as const };

/** lead(1) → w(2) → w(3); lead(1) → w(4) */
async function tree() {
  const k = harness();
  k.register("lead", { tools: ["delegate", "read_file"] });
  k.register("w", { tools: ["delegate", "read_file"] });
  const lead = await k.spawn("lead");
  const a = await k.delegate(lead.pid, { agent: "w" });
  const b = await k.delegate(a.pid, { agent: "w" });
  const c = await k.delegate(lead.pid, { agent: "w" });
  return { k, lead: lead.pid, a, b, c };
}

describe("the process table", () => {
  it("exits a process once: the second exit changes nothing and promises nothing again", async () => {
    const k = harness();
    k.register("a");
    k.hookRegistry.put("notify", postTerminateHook, "api:admin");
    const p = await k.spawn("a");
    const row = k.table.get(p.pid)!;
    const first: ExitStatus = { code: 0, reason: "completed", at: at() };
    expect(k.table.markExited(row, first, "r1", "kernel", true)).toBe(true);
    expect(k.table.markExited(row, { code: 1, reason: "again", at: at() }, "r2", "kernel", true)).toBe(false);
    expect(k.table.get(p.pid)).toMatchObject({ state: "zombie", result: "r1", singleton_of: null, exit: JSON.stringify(first) });
    expect(k.audit.page(0, 100).filter((e) => e.event === "terminate")).toHaveLength(1);
    const orders = k.rows<OutboxRow>("SELECT kind FROM outbox WHERE pid = ? AND kind != 'start'", p.pid).map((r) => r.kind);
    expect(orders).toEqual(["terminate", "post_terminate"]);
    const hook = k.outbox.due({ fromAlarm: true }).find((e) => e.kind === "post_terminate");
    expect(hook?.kind === "post_terminate" && hook.payload).toEqual({ event: "post_terminate", tenant: "acme", pid: p.pid, parentPid: null, agent: "a", exit: { code: 0, reason: "completed" } });
  });

  it("promises no post_terminate order when no hook listens", async () => {
    const k = harness();
    k.register("a");
    const p = await k.spawn("a");
    k.exit(p.pid);
    expect(k.rows<OutboxRow>("SELECT kind FROM outbox WHERE kind = 'post_terminate'")).toEqual([]);
  });

  it("kills a process and its live descendants, each once, with the cascade's reasons", async () => {
    const { k, lead, a, b, c } = await tree();
    k.exit(c.pid);
    expect(k.table.kill(k.table.get(a.pid)!, kill, "api:operator")).toEqual({ killed: [a.pid, b.pid], alreadyExited: [] });
    expect(k.table.kill(k.table.get(lead)!, { ...kill, signal: "SIGKILL", reason: "enough" }, "api:operator")).toEqual({ killed: [lead], alreadyExited: [] });
    expect(k.table.kill(k.table.get(lead)!, kill, "api:operator")).toEqual({ killed: [], alreadyExited: [lead] });
    const exits = Object.fromEntries(k.rows<{ pid: number; exit: string }>("SELECT pid, exit FROM procs").map((r) => [r.pid, JSON.parse(r.exit)]));
    expect(exits[a.pid]).toMatchObject({ code: ExitCode.terminated, reason: "killed by SIGTERM" });
    expect(exits[b.pid]).toMatchObject({ code: ExitCode.terminated, reason: `killed by SIGTERM: ancestor ${a.pid} was killed` });
    expect(exits[lead]).toMatchObject({ code: ExitCode.killed, reason: "enough" });
    expect(k.audit.page(0, 100).filter((e) => e.event === "kill").map((e) => [e.pid, e.data.cascadeFrom])).toEqual([
      [a.pid, null],
      [b.pid, a.pid],
      [lead, null],
    ]);
    // The kernel decided these exits: each started process object gets a stop order.
    expect(k.rows<OutboxRow>("SELECT pid FROM outbox WHERE kind = 'terminate' ORDER BY pid").map((r) => r.pid)).toEqual([lead, a.pid, b.pid]);
  });

  it("kill without cascade leaves the descendants running", async () => {
    const { k, a, b } = await tree();
    expect(k.table.kill(k.table.get(a.pid)!, { ...kill, cascade: false }, "api:operator").killed).toEqual([a.pid]);
    expect(k.table.get(b.pid)!.state).toBe("running");
  });

  it("a process that exits on its own takes its live descendants with it (parent exited)", async () => {
    const { k, lead, a, b, c } = await tree();
    k.exit(lead, 0, "all done");
    for (const pid of [a.pid, b.pid, c.pid]) expect(JSON.parse(k.table.get(pid)!.exit!)).toMatchObject({ code: ExitCode.terminated, reason: "parent exited" });
    expect(k.tasks.get(a.taskId)).toMatchObject({ state: "canceled", status_message: "parent exited" });
    // The process that exited on its own needs no stop order; its descendants do.
    expect(k.rows<OutboxRow>("SELECT pid FROM outbox WHERE kind = 'terminate' ORDER BY pid").map((r) => r.pid)).toEqual([a.pid, b.pid, c.pid]);
    expect(k.table.exitedOnItsOwn(k.table.get(lead)!, { code: 1, reason: "late", at: at() }, null, { turnCount: 9, usage: { inputTokens: 1, outputTokens: 1, toolCalls: 1 } })).toBe(false);
    expect(k.table.get(lead)).toMatchObject({ result: "all done", turn_count: 1 });
  });

  it("a worker's exit ends its task and orders the delivery to its live copilot, from the alarm", async () => {
    const { k, lead, c } = await tree();
    k.exit(c.pid, 0, "the answer");
    expect(k.tasks.get(c.taskId)).toMatchObject({ state: "completed", result: "the answer", status_message: null });
    const [delivery] = k.rows<OutboxRow>("SELECT * FROM outbox WHERE kind = 'deliver'");
    expect(delivery).toMatchObject({ pid: lead, via_alarm: 1 });
    expect(JSON.parse(delivery!.payload)).toMatchObject({ delivery: "immediate", task: { taskId: c.taskId, pid: c.pid, state: "completed", result: "the answer", reason: null } });
    expect(k.outbox.due({ fromAlarm: false }).some((e) => e.kind === "deliver")).toBe(false);
    expect(k.outbox.due({ fromAlarm: true }).some((e) => e.kind === "deliver")).toBe(true);
  });

  it("releases queued children into the slots an exit frees, and voids the start of one that exits queued", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 1 } });
    k.register("w");
    const lead = await k.spawn("lead");
    const [w1, w2, w3] = [await k.delegate(lead.pid, { agent: "w" }), await k.delegate(lead.pid, { agent: "w" }), await k.delegate(lead.pid, { agent: "w" })];
    expect([w1, w2, w3].map((w) => k.table.get(w.pid)!.started)).toEqual([1, 0, 0]);
    expect(k.table.startedChildren(lead.pid)).toBe(1);
    k.exit(w1.pid);
    expect([w2, w3].map((w) => k.table.get(w.pid)!.started)).toEqual([1, 0]);
    expect(k.rows<OutboxRow>("SELECT held FROM outbox WHERE kind = 'start' AND pid = ?", w2.pid)).toEqual([{ held: 0 }]);
    // w3 is cancelled while it waits: its held start is dropped, and no stop order is sent (nothing started).
    k.table.cancelTasks([k.tasks.get(w3.taskId)!], "process:1");
    expect(k.rows("SELECT id FROM outbox WHERE pid = ?", w3.pid)).toEqual([]);
    expect(k.tasks.get(w3.taskId)!.state).toBe("canceled");
  });

  it("reaps a zombie once, and only when asked to", async () => {
    const k = harness();
    k.register("a");
    const p = await k.spawn("a");
    expect(k.table.waitResult(k.table.get(p.pid)!, "api:viewer", true)).toEqual({ pid: p.pid, exited: false, state: "running" });
    k.exit(p.pid, 0, "fine");
    expect(k.table.waitResult(k.table.get(p.pid)!, "api:viewer", false)).toMatchObject({ exited: true, code: 0, result: "fine" });
    expect(k.table.get(p.pid)!.state).toBe("zombie");
    k.table.waitResult(k.table.get(p.pid)!, "api:operator", true);
    k.table.waitResult(k.table.get(p.pid)!, "api:operator", true);
    expect(k.table.get(p.pid)!.state).toBe("stopped");
    expect(k.audit.page(0, 100).filter((e) => e.event === "reap")).toHaveLength(1);
  });

  it("keeps hook warnings on the row and in the audit log", async () => {
    const k = harness();
    k.register("a");
    const p = await k.spawn("a");
    const w = { severity: "degraded" as const, component: "h", message: "down" };
    k.table.addWarnings(p.pid, [w], "post_spawn");
    k.table.addWarnings(p.pid, [w], "post_dispatch", false);
    expect(JSON.parse(k.table.get(p.pid)!.warnings)).toEqual([w]);
    expect(k.audit.page(0, 100).filter((e) => e.event === "hook_warning").map((e) => e.data.hookEvent)).toEqual(["post_spawn", "post_dispatch"]);
  });

  it("an exit wakes whoever waits for it", async () => {
    vi.useFakeTimers();
    try {
      const k = harness();
      k.register("a");
      const p = await k.spawn("a");
      let woke = false;
      const waiting = k.waiters.wait(p.pid, 60_000).then(() => (woke = true));
      expect(k.waiters.count(p.pid)).toBe(1);
      k.exit(p.pid);
      await waiting;
      expect(woke).toBe(true);
      expect(k.waiters.count(p.pid)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a wait gives up at its deadline", async () => {
    vi.useFakeTimers();
    try {
      const waiters = new ExitWaiters();
      let done = false;
      void waiters.wait(7, 1000).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(999);
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(done).toBe(true);
      expect(waiters.count(7)).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
