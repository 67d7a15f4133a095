/**
 * The typed client (src/client) driven against the Worker in-process: its `fetch` is the Worker's
 * own `exports.default.fetch`, so every call goes through the real routes, auth and objects.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createClient, KernelApiError, type KernelClient } from "../../src/client";
import { forProcess } from "../../src/rpc/stubs";
import { freshTenant, tokenFor } from "../support/http";

const fetchWorker = (request: Request) => exports.default.fetch(request);
async function clientFor(tenant: string, role: "viewer" | "operator" | "admin" = "admin"): Promise<KernelClient> {
  return createClient({ baseUrl: "http://kernel.test/", token: await tokenFor(tenant, role), fetch: fetchWorker });
}
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe("typed client", () => {
  it("walks through agents, spawn, wait, lists, events, files and audit", async () => {
    const ak = await clientFor(freshTenant("cl"));
    expect(await ak.health()).toEqual({ ok: true });
    const spec = await ak.agents.put("greeter", {
      model: "scripted",
      script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/hello.txt", content: "Hello, {{input}}!" } }] }, { text: "Done: {{lastToolResult}}" }],
    });
    expect(spec).toMatchObject({ name: "greeter", mode: "task", maxTurns: 50 });
    expect((await ak.agents.get("greeter")).model).toBe("scripted");

    const p = await ak.procs.spawn({ agent: "greeter", input: "world" });
    expect(p.pid).toBe(1);
    const status = await ak.procs.wait(p.pid, { timeoutMs: 10_000 });
    expect(status).toMatchObject({ pid: 1, exited: true, code: 0, result: "Done: wrote 13 bytes to /hello.txt" });
    expect(await ak.fs.read("/hello.txt")).toBe("Hello, world!");
    expect(await ak.fs.list("/*.txt")).toEqual(["/hello.txt"]);
    expect((await ak.procs.get(1)).state).toBe("stopped");

    // The event stream ends by itself once the process has exited; Last-Event-ID resumes after an id.
    const events = await collect(ak.procs.events(p.pid));
    expect(events.map((e) => e.event)).toContain("exit");
    expect(events.at(-1)!.event).toBe("exit");
    expect(events[0]!.data.seq).toBe(1);
    const resumed = await collect(ak.procs.events(p.pid, { lastEventId: events[1]!.id! }));
    expect(resumed.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id));

    const messages = await collect(ak.procs.allMessages(p.pid));
    expect(messages[0]).toEqual({ role: "user", content: "world" });

    const verify = await ak.audit.verify({ full: true });
    expect(verify.ok).toBe(true);
    const entries = await collect(ak.audit.all());
    expect(entries.map((e) => e.event)).toEqual(expect.arrayContaining(["agent_registered", "spawn", "terminate", "reap"]));
    expect(entries.length).toBe(verify.entries);
  });

  it("follows nextCursor across pages", async () => {
    const ak = await clientFor(freshTenant("cl"));
    await ak.agents.put("idle", { model: "scripted", mode: "interactive", script: [{ text: "hi" }] });
    for (let i = 0; i < 5; i++) await ak.procs.spawn({ agent: "idle", input: `n${i}` });
    const first = await ak.procs.list({ limit: 2 });
    expect(first.processes.map((p) => p.pid)).toEqual([1, 2]);
    expect(first.nextCursor).not.toBeNull();
    const all = await collect(ak.procs.all({ limit: 2, agent: "idle" }));
    expect(all.map((p) => p.pid)).toEqual([1, 2, 3, 4, 5]);
    const killed = await ak.procs.kill(1, { signal: "SIGKILL" });
    expect(killed.killed).toEqual([1]);
  });

  it("drives a copilot's delegation and tasks", async () => {
    const ak = await clientFor(freshTenant("cl"));
    await ak.agents.put("summarizer", { model: "scripted", script: [{ text: "summary of {{input}}" }] });
    await ak.agents.put("hub", { model: "scripted", mode: "interactive", tools: ["delegate", "collect"], script: [{ text: "ready" }, { text: "noted" }, { text: "noted" }] });
    const hub = await ak.procs.spawn({ agent: "hub", input: "start" });
    const d = await ak.procs.delegate(hub.pid, { agent: "summarizer", message: "delta", deliveryPolicy: "on_demand" });
    const got = await ak.procs.collect(hub.pid, { taskIds: [d.taskId], timeoutMs: 10_000 });
    expect(got.satisfied).toBe(true);
    expect(got.completed[0]).toMatchObject({ taskId: d.taskId, result: "summary of delta" });
    const task = await ak.tasks.get(d.taskId);
    expect(task.status.state).toBe("completed");
    expect((await ak.tasks.get(d.taskId, { a2a: "v1" })).status.state).toBe("TASK_STATE_COMPLETED");
    expect((await collect(ak.tasks.all({ copilotPid: hub.pid }))).map((t) => t.id)).toEqual([d.taskId]);
    const workerEvents = await collect(ak.tasks.events(d.taskId));
    expect(workerEvents.at(-1)!.event).toBe("exit");
    expect(await ak.procs.cancelAll(hub.pid)).toEqual({ canceled: [] });
    const r = await ak.procs.dispatch(hub.pid, "collect", {}).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(KernelApiError);
    expect(r).toMatchObject({ status: 422, code: "tool_not_dispatchable" });
  });

  it("lists, reads and decides approvals, and replies to a worker's question", async () => {
    const tenant = freshTenant("cl");
    const ak = await clientFor(tenant);
    await ak.hooks.put("ask", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask" }] });
    await ak.agents.put("hub", { model: "scripted", mode: "interactive", tools: ["delegate", "write_file"], script: [{ text: "ready" }] });
    await ak.agents.put("helper", { model: "scripted", mode: "interactive", tools: ["write_file"], script: [{ text: "ready" }] });
    const hub = await ak.procs.spawn({ agent: "hub", input: "start" });
    const d = await ak.procs.delegate(hub.pid, { agent: "helper", message: "help", deliveryPolicy: "on_demand" });
    for (let i = 0; i < 200 && (await ak.tasks.get(d.taskId)).status.state !== "working"; i++) await new Promise((r) => setTimeout(r, 20));
    const kernel = forProcess.kernel(env, tenant);
    const write = (id: string) => ({ id, name: "write_file", arguments: { path: "/a", content: "b" }, paths: ["/a"] });
    const first = (await kernel.beforeDispatch(d.pid, [write("c1")])).asks.c1!.approvalId;
    const second = (await kernel.beforeDispatch(d.pid, [write("c2")])).asks.c2!.approvalId;
    expect((await collect(ak.approvals.all({ rootPid: hub.pid, state: "pending", limit: 1 }))).map((a) => a.id)).toEqual([first, second]);
    expect(await ak.approvals.get(first)).toMatchObject({ id: first, pid: d.pid, rootPid: hub.pid, state: "pending" });
    expect(await ak.approvals.approve(first, { arguments: { path: "/b", content: "c" } })).toMatchObject({ state: "approved", arguments: { path: "/b" } });
    expect(await ak.approvals.reject(second, "not now")).toMatchObject({ state: "rejected", message: "not now" });
    await expect(ak.approvals.approve(second)).rejects.toMatchObject({ status: 409, code: "approval_decided" });
    await kernel.requestInput(d.pid, "q1", "Which file?");
    expect((await ak.tasks.get(d.taskId)).status).toMatchObject({ state: "input-required", message: "Which file?" });
    expect(await ak.tasks.reply(d.taskId, "/a")).toEqual({ taskId: d.taskId, state: "working" });
    await expect(ak.tasks.reply(d.taskId, "/a")).rejects.toMatchObject({ status: 409, code: "task_not_waiting" });
  });

  it("throws KernelApiError with the API's status, code, message and details", async () => {
    const tenant = freshTenant("cl");
    const ak = await clientFor(tenant);
    const missing = await ak.procs.get(99).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(KernelApiError);
    expect(missing).toMatchObject({ status: 404, code: "process_not_found", message: "No process 99." });

    const invalid = await ak.procs.spawn({ agent: "Not A Name", input: "x" }).catch((e: unknown) => e as KernelApiError);
    expect(invalid).toMatchObject({ status: 400, code: "invalid_request" });
    expect((invalid as KernelApiError).details).toEqual([expect.objectContaining({ path: ["agent"], code: "invalid_format" })]);

    const viewer = await clientFor(tenant, "viewer");
    await expect(viewer.agents.put("x", { model: "scripted", script: [] })).rejects.toMatchObject({ status: 403, code: "forbidden" });
    const anonymous = createClient({ baseUrl: "http://kernel.test", fetch: fetchWorker });
    await expect(anonymous.procs.list()).rejects.toMatchObject({ status: 401, code: "unauthorized" });
    expect(await anonymous.health()).toEqual({ ok: true });
    expect((await anonymous.openapi()).openapi).toBe("3.1.0");
  });
});
