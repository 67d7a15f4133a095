/**
 * Questions (SPEC §11, `request_input`): a top-level process asks a person and a message answers it;
 * a worker asks its copilot, who sees the question by its delivery policy or in `collect`
 * (`inputRequired`) and answers with `reply_task` or `POST /v1/tasks/:id/reply`.
 */
import { describe, expect, it } from "vitest";
import type { Message } from "../../src/contracts";
import type { CollectResult } from "../../src/contracts/tasks";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit } from "../support/agents";
import { collect, delegate, TASK_TOOLS, tasksOf } from "../support/tasks";
import { alarmOf, eventsOf, sleeping, stateOf, toolMessages } from "../support/people";

type Api = ReturnType<typeof client>;
const ask = (question: string) => ({ name: "request_input", arguments: { question } });
const messagesOf = async (api: Api, pid: number): Promise<Message[]> => (await api.get(`/v1/procs/${pid}/messages?limit=1000`)).body.messages;
/** A worker that asks one question and answers with what it was told. */
const asker = (question = "Which colour?") => ({ tools: ["request_input"], script: [{ toolCalls: [ask(question)] }, { text: "painted {{lastToolResult}}" }] });
/** An interactive copilot that says something each time it wakes. */
const hub = (extra: string[] = []) => ({ mode: "interactive" as const, tools: [...TASK_TOOLS, "reply_task", "request_input", ...extra], script: Array.from({ length: 20 }, (_, i) => ({ text: `noted ${i}` })) });
const taskState = async (api: Api, taskId: string) => (await api.get(`/v1/tasks/${taskId}`)).body.status;

describe("a top-level process asks a person", () => {
  it("sleeps with pendingInput and no alarm; a message answers it (the call's result, not a new user message)", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "curious", { tools: ["request_input"], script: [{ toolCalls: [ask("Which file should I read?")] }, { text: "you said: {{lastToolResult}}" }] });
    const p = await spawn(api, "curious");
    const waiting = await until(() => stateOf(api, p.pid), (s) => s.pendingInput !== null && s.state === "sleeping");
    expect(waiting.pendingInput).toEqual({ question: "Which file should I read?", toolCallId: "call_0_0" });
    expect(await alarmOf(tenant, p.pid)).toBeNull();

    const answer = await client(tenant, "operator").post(`/v1/procs/${p.pid}/messages`, { content: "notes.txt" });
    expect(answer.status).toBe(202);
    const exit = await waitExit(api, p.pid);
    expect(exit).toMatchObject({ code: 0, result: "you said: notes.txt" });
    expect((await stateOf(api, p.pid)).pendingInput).toBeNull();
    const convo = await messagesOf(api, p.pid);
    expect(convo.filter((m) => m.role === "user").map((m) => m.content)).toEqual(["go"]);
    expect(convo.find((m) => m.role === "tool")).toMatchObject({ toolCallId: "call_0_0", name: "request_input", content: "notes.txt", isError: false });
    const events = await eventsOf(api, p.pid);
    expect(events.filter((e) => e.type === "input").map((e) => [e.data.state, e.data.by ?? null])).toEqual([["asked", null], ["answered", "api:operator"]]);
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as { event: string; actor: string; pid?: number }[];
    expect(audit.filter((e) => e.event === "input_requested" && e.pid === p.pid)).toHaveLength(1);
    expect(audit.filter((e) => e.event === "input_provided" && e.pid === p.pid).map((e) => e.actor)).toEqual(["api:operator"]);
  });

  it("is granted like any tool: not by default, by name or glob; never dispatched over HTTP", async () => {
    const api = client(freshTenant());
    await register(api, "plain", { mode: "interactive", script: [{ text: "hi" }] });
    await register(api, "globbed", { mode: "interactive", tools: ["request_*", "read_file"], script: [{ text: "hi" }] });
    await register(api, "everything", { mode: "interactive", tools: ["*"], script: [{ text: "hi" }] });
    const plain = await spawn(api, "plain");
    expect(plain.tools).not.toContain("request_input");
    expect(plain.tools).not.toContain("reply_task");
    expect((await spawn(api, "globbed")).tools).toEqual(["read_file", "request_input"]);
    const all = await spawn(api, "everything");
    expect(all.tools).toEqual(expect.arrayContaining(["request_input", "reply_task"]));
    await sleeping(api, all.pid);
    const res = await api.post(`/v1/procs/${all.pid}/dispatch`, { tool: "request_input", arguments: { question: "?" } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("tool_not_dispatchable");
    // a message to a process without an open question is an ordinary message
    expect((await api.post(`/v1/procs/${all.pid}/messages`, { content: "hello" })).status).toBe(202);
    await until(() => messagesOf(api, all.pid), (m) => m.some((x) => x.role === "user" && x.content === "hello"));
  });

  it("refuses an empty question as an error result the model sees", async () => {
    const api = client(freshTenant());
    await register(api, "mute", { tools: ["request_input"], script: [{ toolCalls: [ask("   ")] }, { text: "{{lastToolResult}}" }] });
    const exit = await waitExit(api, (await spawn(api, "mute")).pid);
    expect(exit.result).toMatch(/^Error: invalid arguments: question/);
  });
});

describe("a worker asks its copilot", () => {
  it("collect returns early with inputRequired; reply_task answers; a later collect waits for the task normally", async () => {
    const api = client(freshTenant());
    await register(api, "painter", asker());
    await register(api, "boss", {
      tools: [...TASK_TOOLS, "reply_task", "request_input"],
      script: [
        { toolCalls: [delegate("painter", "paint the door", { deliveryPolicy: "on_demand" })] },
        { toolCalls: [collect({ timeoutMs: 60_000 })] },
        { toolCalls: [{ name: "reply_task", arguments: { taskId: "{{lastToolResult.inputRequired.0.taskId}}", message: "blue" } }] },
        { toolCalls: [collect({ timeoutMs: 60_000 })] },
        { text: "{{lastToolResult}}" },
      ],
    });
    const boss = await spawn(api, "boss");
    const exit = await waitExit(api, boss.pid);
    expect(exit.code).toBe(0);
    const results = await toolMessages(api, boss.pid);
    const first = JSON.parse(results[1]!.content) as CollectResult;
    const [task] = await tasksOf(api, boss.pid);
    expect(first).toMatchObject({ satisfied: false, completed: [], inputRequired: [{ taskId: task!.id, pid: task!.metadata.workerPid, question: "Which colour?" }] });
    expect(first.pending).toMatchObject([{ taskId: task!.id, state: "input-required", question: "Which colour?" }]);
    expect(JSON.parse(results[2]!.content)).toEqual({ taskId: task!.id, state: "working" });
    const second = JSON.parse(exit.result!) as CollectResult;
    expect(second).toMatchObject({ satisfied: true, inputRequired: [], completed: [{ taskId: task!.id, result: "painted blue" }] });
    // the answer is the worker's request_input result
    expect((await toolMessages(api, task!.metadata.workerPid)).map((m) => m.content)).toEqual(["blue"]);
    expect(task!.status.state).toBe("completed");
  });

  it("immediate: the question wakes the copilot and joins its conversation; an operator answers over HTTP", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "painter", asker());
    await register(api, "lead", hub());
    const lead = await spawn(api, "lead");
    await sleeping(api, lead.pid);
    const d = (await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "painter", message: "paint", deliveryPolicy: "immediate" })).body;
    const note = await until(() => messagesOf(api, lead.pid), (m) => m.some((x) => x.role === "user" && x.content.includes("needs input")));
    expect(note.find((x) => x.content.includes("needs input"))!.content).toContain(`[task ${d.taskId} from painter (pid ${d.pid}) needs input: Which colour?]`);
    // it woke: a model step answered after the note
    await until(() => messagesOf(api, lead.pid), (m) => m.at(-1)?.role === "assistant" && m.filter((x) => x.role === "assistant").length === 2);
    expect(await taskState(api, d.taskId)).toMatchObject({ state: "input-required", message: "Which colour?" });
    const res = await client(tenant, "operator").post(`/v1/tasks/${d.taskId}/reply`, { message: "green" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ taskId: d.taskId, state: "working" });
    expect(await waitExit(api, d.pid)).toMatchObject({ code: 0, result: "painted green" });
    // replying again: the task no longer waits
    const again = await api.post(`/v1/tasks/${d.taskId}/reply`, { message: "red" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("task_not_waiting");
  });

  it("deferred: the question joins the copilot's next turn without waking it", async () => {
    const api = client(freshTenant());
    await register(api, "painter", asker());
    await register(api, "lead", hub());
    const lead = await spawn(api, "lead");
    await sleeping(api, lead.pid);
    const d = (await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "painter", message: "paint", deliveryPolicy: "deferred" })).body;
    await until(() => taskState(api, d.taskId), (s) => s.state === "input-required");
    await new Promise((r) => setTimeout(r, 300));
    const before = await messagesOf(api, lead.pid);
    expect(before.some((m) => m.content.includes("needs input"))).toBe(false);
    expect((await stateOf(api, lead.pid)).state).toBe("sleeping");
    await api.post(`/v1/procs/${lead.pid}/messages`, { content: "anything new?" });
    const after = await until(() => messagesOf(api, lead.pid), (m) => m.at(-1)?.role === "assistant" && m.length > before.length + 1);
    expect(after.filter((m) => m.content.includes("needs input: Which colour?"))).toHaveLength(1);
  });

  it("on_demand: nothing reaches the conversation; an HTTP collect returns at once with inputRequired, and after the reply waits for the result", async () => {
    const api = client(freshTenant());
    await register(api, "painter", { tools: ["request_input"], script: [{ toolCalls: [ask("Which colour?")] }, { text: "painted {{lastToolResult}}", delayMs: 500 }] });
    await register(api, "lead", hub());
    const lead = await spawn(api, "lead");
    await sleeping(api, lead.pid);
    const d = (await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "painter", message: "paint", deliveryPolicy: "on_demand" })).body;
    await until(() => taskState(api, d.taskId), (s) => s.state === "input-required");
    const t0 = Date.now();
    const early = await api.post(`/v1/procs/${lead.pid}/collect`, { timeoutMs: 30_000 });
    expect(early.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(early.body).toMatchObject({ satisfied: false, inputRequired: [{ taskId: d.taskId, pid: d.pid, question: "Which colour?" }] });
    await api.post(`/v1/procs/${lead.pid}/messages`, { content: "hello" });
    await until(() => messagesOf(api, lead.pid), (m) => m.at(-1)?.role === "assistant" && m.at(-2)?.content === "hello");
    expect((await messagesOf(api, lead.pid)).some((m) => m.content.includes("needs input"))).toBe(false);
    expect((await api.post(`/v1/tasks/${d.taskId}/reply`, { message: "red" })).status).toBe(200);
    // working again: a collect now waits for the result, with no question listed
    const done = await api.post(`/v1/procs/${lead.pid}/collect`, { timeoutMs: 30_000 });
    expect(done.body).toMatchObject({ satisfied: true, inputRequired: [], completed: [{ taskId: d.taskId, result: "painted red" }] });
  });

  it("replies are checked: 409 task_not_waiting, 404 for an unknown task, 403 for a viewer, 400 for an empty message", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "idle", { mode: "interactive", script: [{ text: "idle" }] });
    await register(api, "lead", hub());
    const lead = await spawn(api, "lead");
    await sleeping(api, lead.pid);
    const d = (await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "idle", message: "wait", deliveryPolicy: "on_demand" })).body;
    await until(() => taskState(api, d.taskId), (s) => s.state === "working");
    const busy = await api.post(`/v1/tasks/${d.taskId}/reply`, { message: "hi" });
    expect(busy.status).toBe(409);
    expect(busy.body.error.code).toBe("task_not_waiting");
    expect((await api.post(`/v1/tasks/00000000-0000-4000-8000-000000000000/reply`, { message: "hi" })).status).toBe(404);
    expect((await client(tenant, "viewer").post(`/v1/tasks/${d.taskId}/reply`, { message: "hi" })).status).toBe(403);
    expect((await api.post(`/v1/tasks/${d.taskId}/reply`, { message: "" })).status).toBe(400);
  });

  it("a question ends with its asker: a killed worker's task is canceled and a collect returns it; a killed top-level asker has no pendingInput", async () => {
    const api = client(freshTenant());
    await register(api, "painter", asker());
    await register(api, "lead", hub());
    await register(api, "curious", { tools: ["request_input"], script: [{ toolCalls: [ask("Anyone?")] }, { text: "never" }] });
    const lead = await spawn(api, "lead");
    await sleeping(api, lead.pid);
    const d = (await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "painter", message: "paint", deliveryPolicy: "on_demand" })).body;
    await until(() => taskState(api, d.taskId), (s) => s.state === "input-required");
    expect((await api.post(`/v1/tasks/${d.taskId}/cancel`)).status).toBe(200);
    const after = await api.post(`/v1/procs/${lead.pid}/collect`, { timeoutMs: 10_000 });
    expect(after.body).toMatchObject({ satisfied: true, inputRequired: [], canceled: [{ taskId: d.taskId }] });
    expect((await api.post(`/v1/tasks/${d.taskId}/reply`, { message: "late" })).body.error.code).toBe("task_not_waiting");

    const top = await spawn(api, "curious");
    await until(() => stateOf(api, top.pid), (p) => p.pendingInput !== null);
    await api.post(`/v1/procs/${top.pid}/kill`, {});
    expect(await waitExit(api, top.pid)).toMatchObject({ code: -15 });
    expect((await stateOf(api, top.pid)).pendingInput).toBeNull();
    expect((await api.post(`/v1/procs/${top.pid}/messages`, { content: "hello?" })).status).toBe(409);
  });

  it("reply_task on a task that is not the copilot's, or does not wait, is an error result", async () => {
    const api = client(freshTenant());
    await register(api, "lonely", {
      tools: ["reply_task"],
      script: [{ toolCalls: [{ name: "reply_task", arguments: { taskId: "no-such-task", message: "x" } }] }, { text: "{{lastToolResult}}" }],
    });
    expect((await waitExit(api, (await spawn(api, "lonely")).pid)).result).toMatch(/^Error: task_not_found: /);
  });
});
