import { describe, expect, it } from "vitest";
import type { Message, Process } from "../../src/contracts";
import { client, freshTenant, readStream } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";
import { collect, collected, delegate, registerCopilot, TASK_TOOLS, tasksOf } from "../support/tasks";

const fast = { script: [{ text: "fast done" }] };
const slow = { script: [{ text: "slow done", delayMs: 1500 }] };
const failing = { script: [] };
/** An interactive copilot answers every wake-up (immediate results wake it), so it needs many steps. */
const hubScript = Array.from({ length: 40 }, (_, i) => ({ text: `noted ${i}` }));
const stateOf = async (api: Client, pid: number) => ((await api.get(`/v1/procs/${pid}`)).body as Process).state;
const messagesOf = async (api: Client, pid: number): Promise<Message[]> => (await api.get(`/v1/procs/${pid}/messages`)).body.messages;

describe("collect", () => {
  it("first_n returns as soon as n tasks ended, naming the pending ones", async () => {
    const api = client(freshTenant());
    await register(api, "fast", fast);
    await register(api, "slow", slow);
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("fast", "1"), delegate("fast", "2"), delegate("slow", "3"), delegate("slow", "4")] }, { toolCalls: [collect({ mode: "first_n", n: 2 })] }, { text: "{{lastToolResult}}" }]);
    const p = await spawn(api, "boss");
    const status = await waitExit(api, p.pid);
    const r = collected(status.result);
    expect(r.satisfied).toBe(true);
    expect(r.completed.map((t) => t.agent)).toEqual(["fast", "fast"]);
    expect(r.pending.map((t) => t.agent)).toEqual(["slow", "slow"]);
    expect(r.pending.every((t) => ["submitted", "working"].includes(t.state))).toBe(true);
  });

  it("quorum waits for n completions, and returns early once a quorum is impossible", async () => {
    const api = client(freshTenant());
    await register(api, "fast", fast);
    await register(api, "slow", slow);
    await register(api, "broken", failing);
    await registerCopilot(api, "quorate", [{ toolCalls: [delegate("broken", "a"), delegate("fast", "b"), delegate("slow", "c")] }, { toolCalls: [collect({ mode: "quorum", n: 2 })] }, { text: "{{lastToolResult}}" }]);
    const r = collected((await waitExit(api, (await spawn(api, "quorate")).pid)).result);
    expect(r.satisfied).toBe(true);
    expect(r.completed.map((t) => t.agent).sort()).toEqual(["fast", "slow"]);
    expect(r.failed.map((t) => [t.agent, t.reason])).toEqual([["broken", "model failed: script exhausted"]]);

    await registerCopilot(api, "doomed", [{ toolCalls: [delegate("broken", "a"), delegate("broken", "b"), delegate("slow", "c")] }, { toolCalls: [collect({ mode: "quorum", n: 2 })] }, { text: "{{lastToolResult}}" }]);
    const d = collected((await waitExit(api, (await spawn(api, "doomed")).pid)).result);
    expect(d.satisfied).toBe(true);
    expect(d.failed).toHaveLength(2);
    expect(d.pending.map((t) => t.agent)).toEqual(["slow"]);
  });

  it("any returns on the first ended task; a deadline returns partial results with the missing ones pending", async () => {
    const api = client(freshTenant());
    await register(api, "fast", fast);
    await register(api, "slow", slow);
    await registerCopilot(api, "impatient", [{ toolCalls: [delegate("slow", "1"), delegate("fast", "2")] }, { toolCalls: [collect({ mode: "any" })] }, { toolCalls: [collect({ timeoutMs: 200 })] }, { text: "{{lastToolResult}}" }]);
    const p = await spawn(api, "impatient");
    const status = await waitExit(api, p.pid);
    // The second collect covers what the first did not collect: the slow task, past its 200 ms deadline.
    const r = collected(status.result);
    expect(r.satisfied).toBe(false);
    expect(r.pending.map((t) => t.agent)).toEqual(["slow"]);
    expect(r.completed).toEqual([]);
    const convo = await messagesOf(api, p.pid);
    const first = JSON.parse(convo.filter((m) => m.role === "tool")[2]!.content);
    expect(first).toMatchObject({ satisfied: true, completed: [{ agent: "fast" }], pending: [{ agent: "slow" }] });
  });

  it("sleeps without polling while it waits, and wakes on the worker's result", async () => {
    const api = client(freshTenant());
    await register(api, "slow", slow);
    await registerCopilot(api, "waiter", [{ toolCalls: [delegate("slow", "x")] }, { toolCalls: [collect()] }, { text: "got it" }]);
    const p = await spawn(api, "waiter");
    await until(() => stateOf(api, p.pid), (s) => s === "sleeping");
    const events = await (await api.call("GET", `/v1/procs/${p.pid}/events`)).text();
    expect(events).toContain("got it");
    // while sleeping in collect it made exactly three model calls: delegate, collect, answer
    expect(events.match(/id: \d+\nevent: model\n/g)).toHaveLength(3);
    expect((await waitExit(api, p.pid)).code).toBe(0);
  });

  it("over HTTP holds until satisfied and marks what it returned as collected", async () => {
    const api = client(freshTenant());
    await register(api, "slow", { script: [{ text: "done", delayMs: 300 }] });
    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, script: hubScript });
    const hub = await spawn(api, "hub");
    const a = (await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "slow", message: "a", deliveryPolicy: "on_demand" })).body;
    const quick = await api.post(`/v1/procs/${hub.pid}/collect`, { timeoutMs: 0 });
    expect(quick.body).toMatchObject({ satisfied: false, completed: [], pending: [{ taskId: a.taskId }] });
    const held = await api.post(`/v1/procs/${hub.pid}/collect`, { timeoutMs: 10_000 });
    expect(held.body).toMatchObject({ satisfied: true, completed: [{ taskId: a.taskId, result: "done" }], pending: [] });
    const again = await api.post(`/v1/procs/${hub.pid}/collect`, {});
    expect(again.body).toMatchObject({ satisfied: true, completed: [], pending: [] });
    expect((await api.post(`/v1/procs/${hub.pid}/collect`, { mode: "sometimes" })).status).toBe(400);
    expect((await api.post(`/v1/procs/${hub.pid}/collect`, { timeoutMs: 60_001 })).status).toBe(400);
  });
});

describe("delivery policies", () => {
  const chatCopilot = (api: Client) =>
    register(api, "chat", { mode: "interactive", tools: TASK_TOOLS, script: [{ text: "delegated" }, { text: "seen: {{lastToolResult}}" }, { text: "third" }] });

  it("immediate: worker progress streams to the copilot in order, and the result wakes a sleeping copilot", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/i1", content: "1" } }] }, { toolCalls: [{ name: "write_file", arguments: { path: "/i2", content: "2" } }], delayMs: 100 }, { text: "worker finished" }] });
    await chatCopilot(api);
    const c = await spawn(api, "chat");
    await until(() => stateOf(api, c.pid), (s) => s === "sleeping");
    const t = (await api.post(`/v1/procs/${c.pid}/delegate`, { agent: "worker", message: "go", deliveryPolicy: "immediate" })).body;
    // the result wakes the copilot: it answers a second time without any message from us
    await until(() => messagesOf(api, c.pid), (m) => m.filter((x) => x.role === "assistant").length === 2);
    const convo = await messagesOf(api, c.pid);
    expect(convo[2]!.content).toBe(`[task ${t.taskId} from worker (pid ${t.pid}) completed: worker finished]`);
    const text = await readStream(await api.call("GET", `/v1/procs/${c.pid}/events`), (t) => t.includes("worker finished"));
    const progress = [...text.matchAll(/event: task\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]!)).filter((d) => d.progress).map((d) => `${d.progress.type}${d.progress.data.turn ?? ""}${d.progress.data.name ?? ""}`);
    expect(progress).toEqual(["staterunning".replace("running", ""), "turn1", "tool_callwrite_file", "tool_resultwrite_file", "turn2", "tool_callwrite_file", "tool_resultwrite_file", "state"]);
  });

  it("deferred: the result joins the conversation at the copilot's next turn without waking it", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "deferred result" }] });
    await chatCopilot(api);
    const c = await spawn(api, "chat");
    await until(() => stateOf(api, c.pid), (s) => s === "sleeping");
    const t = (await api.post(`/v1/procs/${c.pid}/delegate`, { agent: "worker", message: "go", deliveryPolicy: "deferred" })).body;
    await until(async () => (await api.get(`/v1/tasks/${t.taskId}`)).body.status.state, (s) => s === "completed");
    await new Promise((r) => setTimeout(r, 300));
    expect(await stateOf(api, c.pid)).toBe("sleeping");
    expect(await messagesOf(api, c.pid)).toHaveLength(2);
    await api.post(`/v1/procs/${c.pid}/messages`, { content: "anything new?" });
    await until(() => messagesOf(api, c.pid), (m) => m.length === 5);
    const convo = await messagesOf(api, c.pid);
    expect(convo.map((m) => m.role)).toEqual(["user", "assistant", "user", "user", "assistant"]);
    expect(convo[3]!.content).toContain("deferred result");
  });

  it("on_demand: nothing is pushed or injected; only collect returns the result", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] }, { text: "quiet result" }] });
    await chatCopilot(api);
    const c = await spawn(api, "chat");
    await until(() => stateOf(api, c.pid), (s) => s === "sleeping");
    const t = (await api.post(`/v1/procs/${c.pid}/delegate`, { agent: "worker", message: "go", deliveryPolicy: "on_demand" })).body;
    await until(async () => (await api.get(`/v1/tasks/${t.taskId}`)).body.status.state, (s) => s === "completed");
    await api.post(`/v1/procs/${c.pid}/messages`, { content: "anything new?" });
    await until(() => messagesOf(api, c.pid), (m) => m.length === 4);
    expect((await messagesOf(api, c.pid)).some((m) => m.content.includes("quiet result"))).toBe(false);
    const events = await readStream(await api.call("GET", `/v1/procs/${c.pid}/events`), (t) => t.includes("anything new?"));
    expect(events).toContain("anything new?");
    expect(events).not.toContain("event: task");
    expect((await api.post(`/v1/procs/${c.pid}/collect`, {})).body.completed[0].result).toBe("quiet result");
  });

  it("task events stream the worker's progress at /v1/tasks/:id/events", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] }, { text: "ok" }] });
    await chatCopilot(api);
    const c = await spawn(api, "chat");
    const t = (await api.post(`/v1/procs/${c.pid}/delegate`, { agent: "worker", message: "go" })).body;
    const text = await (await api.call("GET", `/v1/tasks/${t.taskId}/events`)).text();
    expect([...text.matchAll(/id: \d+\nevent: (\w+)/g)].map((m) => m[1])).toEqual(["state", "model", "turn", "tool_call", "tool_result", "model", "state", "exit"]);
  });
});

describe("cancellation", () => {
  it("fan-out of 5, then cancel-all: every worker ends -15 'delegation cancelled', tasks canceled", async () => {
    const api = client(freshTenant());
    await register(api, "sleeper", { script: [{ text: "never", delayMs: 60_000 }] });
    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, script: hubScript });
    const hub = await spawn(api, "hub");
    const tasks = await Promise.all(Array.from({ length: 5 }, (_, i) => api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "sleeper", message: `${i}` })));
    const res = await api.post(`/v1/procs/${hub.pid}/cancel-all`);
    expect(res.body.canceled.sort()).toEqual(tasks.map((t) => t.body.taskId).sort());
    for (const t of tasks) {
      expect(await waitExit(api, t.body.pid)).toMatchObject({ code: -15, reason: "delegation cancelled" });
      expect((await api.get(`/v1/tasks/${t.body.taskId}`)).body.status).toMatchObject({ state: "canceled", message: "delegation cancelled" });
    }
    expect((await api.post(`/v1/procs/${hub.pid}/cancel-all`)).body).toEqual({ canceled: [] });
    expect(await stateOf(api, hub.pid)).not.toBe("zombie");
  });

  it("cancels one task (and its worker's descendants) while siblings go on; a finished task is not cancelable", async () => {
    const api = client(freshTenant());
    await register(api, "grandchild", { script: [{ text: "never", delayMs: 60_000 }] });
    await register(api, "middle", { tools: TASK_TOOLS, script: [{ toolCalls: [delegate("grandchild", "deep")] }, { toolCalls: [collect()] }, { text: "never" }] });
    await register(api, "sibling", { script: [{ text: "sibling done", delayMs: 400 }] });
    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, script: hubScript });
    const hub = await spawn(api, "hub");
    const doomed = (await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "middle", message: "x" })).body;
    const sibling = (await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "sibling", message: "y" })).body;
    const grand = await until(async () => (await api.get(`/v1/procs?parentPid=${doomed.pid}`)).body.processes as Process[], (l) => l.length === 1);
    const cancel = await api.post(`/v1/tasks/${doomed.taskId}/cancel`);
    expect(cancel.body).toEqual({ taskId: doomed.taskId, state: "canceled" });
    expect(await waitExit(api, grand[0]!.pid)).toMatchObject({ code: -15, reason: "delegation cancelled" });
    expect(await waitExit(api, sibling.pid)).toMatchObject({ code: 0, result: "sibling done" });
    expect((await api.get(`/v1/tasks/${sibling.taskId}`)).body.status.state).toBe("completed");
    const again = await api.post(`/v1/tasks/${sibling.taskId}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("task_not_cancelable");
    expect((await api.post(`/v1/tasks/${doomed.taskId}/cancel`)).status).toBe(409);
    expect((await client(freshTenant(), "viewer").post(`/v1/tasks/${sibling.taskId}/cancel`)).status).toBe(403);
  });

  it("cancel_task as a tool, and killing a copilot cascades to its workers", async () => {
    const api = client(freshTenant());
    await register(api, "sleeper", { script: [{ text: "never", delayMs: 60_000 }] });
    await registerCopilot(api, "canceller", [
      { toolCalls: [delegate("sleeper", "a"), delegate("sleeper", "b")] },
      { toolCalls: [{ name: "list_tasks", arguments: {} }] },
      { toolCalls: [{ name: "cancel_task", arguments: { taskId: "{{lastToolResult}}" } }] },
      { text: "{{lastToolResult}}" },
    ]);
    // The script cannot pick an id out of JSON, so cancel by HTTP instead and check the tool's error path.
    const p = await spawn(api, "canceller");
    const status = await waitExit(api, p.pid);
    expect(status.result).toMatch(/^Error: task_not_found/);
    // the copilot exited on its own: its live workers are terminated and their tasks canceled
    for (const t of await tasksOf(api, p.pid)) {
      expect(t.status).toMatchObject({ state: "canceled", message: "parent exited" });
    }

    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, script: hubScript });
    const hub = await spawn(api, "hub");
    const w = (await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "sleeper", message: "x" })).body;
    const killed = await api.post(`/v1/procs/${hub.pid}/kill`);
    expect(killed.body.killed).toEqual([hub.pid, w.pid]);
    expect((await api.get(`/v1/tasks/${w.taskId}`)).body.status.state).toBe("canceled");
  });
});

describe("maxChildren queueing", () => {
  it("extra delegations wait as submitted and start as slots free up", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "done {{input}}", delayMs: 200 }] });
    await registerCopilot(api, "narrow", [{ toolCalls: ["1", "2", "3", "4", "5"].map((i) => delegate("worker", i)) }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { limits: { maxChildren: 2 } });
    const p = await spawn(api, "narrow");
    const early = await until(() => tasksOf(api, p.pid), (t) => t.length === 5);
    expect(early.filter((t) => t.status.state === "submitted").length).toBeGreaterThanOrEqual(3);
    const r = collected((await waitExit(api, p.pid)).result);
    expect(r.completed.map((t) => t.result).sort()).toEqual(["done 1", "done 2", "done 3", "done 4", "done 5"]);
    // never more than two workers alive at once: replay the audit log
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as { event: string; pid?: number; data: { state?: string } }[];
    let live = 0;
    let peak = 0;
    for (const e of audit) {
      if (e.event === "task_state" && e.data.state === "working") peak = Math.max(peak, ++live);
      if (e.event === "task_state" && e.data.state === "completed") live--;
    }
    expect(peak).toBe(2);
  });
});
