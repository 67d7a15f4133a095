/**
 * SPEC §12's multi-turn path over §11, driven by the official A2A client (`@a2a-js/sdk`): a task
 * that needs input (its agent's `request_input` question, or a call a policy asked a person about)
 * is answered by a second `SendMessage` with its `taskId`: text answers a question, a data part
 * `{decision}` decides an approval. Every request is the SDK's typed object through the Worker's own
 * routes (auth, kernel, process objects); nothing on the client side writes A2A JSON.
 */
import { describe, expect, it } from "vitest";
import { Role, TaskState, type Message, type Part, type StreamResponse, type Task } from "@a2a-js/sdk";
import { RequestMalformedError, TaskNotFoundError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import { client, freshTenant } from "../support/http";
import { register, spawn, until } from "../support/agents";
import { askPolicy, approvalsOf, toolMessages } from "../support/people";
import { a2a, all, asTask, dataPart, rejection, send, text, textPart, userMessage } from "../support/a2a-client";

const statesOf = (events: StreamResponse[]) =>
  events.map((e) => (e.payload?.$case === "task" ? `task:${e.payload.value.status?.state}` : e.payload?.$case === "statusUpdate" ? `status:${e.payload.value.status?.state}` : e.payload?.$case));

const ask = (question: string) => ({ name: "request_input", arguments: { question } });
/** Asks one question, then answers with what it was told. */
const painter = { tools: ["request_input"], script: [{ toolCalls: [ask("Which colour?")] }, { text: "painted the {{input}} {{lastToolResult}}" }] };
/** Writes a production file (a policy asks a person first), then says how the write went. */
const deployer = { tools: ["write_file"], script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/prod/app.conf", content: "{{input}}" } }] }, { text: "deploy: {{lastToolResult}}" }] };

describe("A2A: a question (request_input) answered by a second SendMessage", () => {
  it("blocking: input-required with the question; the answer continues the same task to its artifact", async () => {
    const tenant = freshTenant("a2aq");
    const api = client(tenant);
    await register(api, "painter", painter);
    const c = await a2a(tenant, "painter");

    const first = asTask(await c.sendMessage(send(userMessage("door"))));
    expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(text(first.status?.message)).toBe("Which colour?");
    expect(first.artifacts).toEqual([]);
    // The kernel's own task says the same; the process waits on its task, not on a message.
    const pid = first.metadata!.workerPid as number;
    expect((await api.get(`/v1/tasks/${first.id}`)).body.status).toMatchObject({ state: "input-required", message: "Which colour?" });
    expect((await api.get(`/v1/procs/${pid}`)).body).toMatchObject({ state: "sleeping", pendingInput: null, taskId: first.id });

    const done = asTask(await c.sendMessage(send(userMessage("blue", { taskId: first.id, contextId: first.contextId }))));
    expect(done.id).toBe(first.id);
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(done.artifacts[0])).toBe("painted the door blue");
    // The exchange is in the task's history: the question as the agent's, the answer as the caller's.
    expect(done.history.map((m) => [m.role, text(m)])).toEqual([
      [Role.ROLE_USER, "door"],
      [Role.ROLE_AGENT, "Which colour?"],
      [Role.ROLE_USER, "blue"],
      [Role.ROLE_AGENT, "painted the door blue"],
    ]);
    // The answer is the request_input call's result (not a new user message), given by the caller.
    expect((await toolMessages(api, pid)).map((m) => [m.name, m.content])).toEqual([["request_input", "blue"]]);
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as { event: string; actor: string; pid?: number }[];
    expect(audit.filter((e) => e.pid === pid && e.event.startsWith("input_")).map((e) => [e.event, e.actor])).toEqual([
      ["input_requested", `process:${pid}`],
      ["input_provided", "api:operator"],
    ]);
    expect((await api.get(`/v1/procs?agent=painter`)).body.processes).toHaveLength(1);
    // Answered and ended: a further message is refused.
    expect(await rejection(c.sendMessage(send(userMessage("green", { taskId: first.id }))))).toBeInstanceOf(UnsupportedOperationError);
  });

  it("streaming: the stream closes at input-required with the question; a second stream continues to the end", async () => {
    const tenant = freshTenant("a2aq");
    await register(client(tenant), "painter", painter);
    const c = await a2a(tenant, "painter");

    const asked = await all(c.sendMessageStream(send(userMessage("fence"))));
    expect(asked[0]!.payload!.$case).toBe("task");
    const task = asked[0]!.payload!.value as Task;
    const states = statesOf(asked);
    // working while it runs (its request_input call told as progress), then input-required, last.
    expect(states.at(-1)).toBe(`status:${TaskState.TASK_STATE_INPUT_REQUIRED}`);
    expect(states.slice(1, -1).every((s) => s === `status:${TaskState.TASK_STATE_WORKING}`)).toBe(true);
    expect(asked.some((e) => e.payload?.$case === "statusUpdate" && text(e.payload.value.status?.message) === "calling request_input")).toBe(true);
    const waiting = asked.at(-1)!.payload!.value as { taskId: string; status: { message: Message } };
    expect(waiting.taskId).toBe(task.id);
    expect(text(waiting.status.message)).toBe("Which colour?");

    const answered = await all(c.sendMessageStream(send(userMessage("red", { taskId: task.id }))));
    const after = statesOf(answered);
    // The task again (working: the answer was taken), the artifact, then completed as the last event.
    expect(after[0]).toBe(`task:${TaskState.TASK_STATE_WORKING}`);
    expect(after.at(-1)).toBe(`status:${TaskState.TASK_STATE_COMPLETED}`);
    expect(after.at(-2)).toBe("artifactUpdate");
    expect(after.slice(1, -2).every((s) => s === `status:${TaskState.TASK_STATE_WORKING}`)).toBe(true);
    const artifact = answered.at(-2)!.payload!.value as { artifact: { parts: Part[] } };
    expect(text(artifact.artifact)).toBe("painted the fence red");
  });

  it("an interactive agent's open question is answered first; then messages continue the conversation", async () => {
    const tenant = freshTenant("a2aq");
    const api = client(tenant);
    await register(api, "chat", { mode: "interactive", tools: ["request_input"], script: [{ toolCalls: [ask("Your name?")] }, { text: "Hi {{lastToolResult}}, what next?" }, { text: "Noted." }] });
    const c = await a2a(tenant, "chat");
    const first = asTask(await c.sendMessage(send(userMessage("hello"))));
    expect(text(first.status?.message)).toBe("Your name?");
    // The answer is the question's (the call's result), not the conversation's next message.
    const second = asTask(await c.sendMessage(send(userMessage("Ann", { taskId: first.id }))));
    expect(second.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(text(second.status?.message)).toBe("Hi Ann, what next?");
    // No question open now: the next message is the conversation's.
    const third = asTask(await c.sendMessage(send(userMessage("buy milk", { taskId: first.id }))));
    expect(text(third.status?.message)).toBe("Noted.");
    expect(third.history.map(text)).toEqual(["hello", "Your name?", "Ann", "Hi Ann, what next?", "buy milk", "Noted."]);
    const convo = (await api.get(`/v1/procs/${first.metadata!.workerPid}/messages?limit=100`)).body.messages as { role: string; content: string }[];
    expect(convo.filter((m) => m.role === "user").map((m) => m.content)).toEqual(["hello", "buy milk"]);
  });

  it("a viewer cannot answer, another tenant's client cannot see the task; a 0.3 client answers by message/send", async () => {
    const tenant = freshTenant("a2aq");
    const api = client(tenant);
    await register(api, "painter", painter);
    const first = asTask(await (await a2a(tenant, "painter")).sendMessage(send(userMessage("gate"))));
    expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);

    const viewer = await a2a(tenant, "painter", "viewer");
    expect((await rejection(viewer.sendMessage(send(userMessage("black", { taskId: first.id }))))).message).toMatch(/403/);
    const strangerTenant = freshTenant("a2aq");
    await register(client(strangerTenant), "painter", painter);
    const stranger = await a2a(strangerTenant, "painter");
    expect(await rejection(stranger.sendMessage(send(userMessage("black", { taskId: first.id }))))).toBeInstanceOf(TaskNotFoundError);
    // Still waiting for its own caller.
    expect((await api.get(`/v1/tasks/${first.id}`)).body.status).toMatchObject({ state: "input-required", message: "Which colour?" });
    // A message to the process is not the answer (its question is its task's): it joins the conversation.
    const pid = first.metadata!.workerPid as number;
    expect((await client(tenant, "operator").post(`/v1/procs/${pid}/messages`, { content: "hurry" })).status).toBe(202);
    expect((await api.get(`/v1/procs/${pid}`)).body).toMatchObject({ state: "sleeping", pendingInput: null });
    expect((await api.get(`/v1/tasks/${first.id}`)).body.status).toMatchObject({ state: "input-required", message: "Which colour?" });

    const legacy = await a2a(tenant, "painter", "operator", true);
    expect(legacy.protocolVersion).toBe("0.3");
    const done = asTask(await legacy.sendMessage(send(userMessage("white", { taskId: first.id }))));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(done.artifacts[0])).toBe("painted the gate white");
    expect((await toolMessages(api, pid)).map((m) => m.content)).toEqual(["white"]);
    const convo = (await api.get(`/v1/procs/${pid}/messages?limit=100`)).body.messages as { role: string; content: string }[];
    expect(convo.filter((m) => m.role === "user").map((m) => m.content)).toEqual(["gate", "hurry"]);
  });
});

describe("A2A: a delegated worker's question", () => {
  it("is answered over the worker agent's endpoint, as POST /v1/tasks/:id/reply would; the copilot's task completes", async () => {
    const tenant = freshTenant("a2aq");
    const api = client(tenant);
    await register(api, "painter", painter);
    await register(api, "lead", { mode: "interactive", tools: ["delegate", "collect", "request_input"], script: Array.from({ length: 10 }, (_, i) => ({ text: `noted ${i}` })) });
    const lead = await spawn(api, "lead");
    await until(() => api.get(`/v1/procs/${lead.pid}`), (r) => r.body.state === "sleeping");
    const d = (await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "painter", message: "shed", deliveryPolicy: "on_demand" })).body as { taskId: string; pid: number };
    await until(() => api.get(`/v1/tasks/${d.taskId}`), (r) => r.body.status.state === "input-required");
    const c = await a2a(tenant, "painter");
    // Listed on the worker agent's endpoint, waiting; answered there.
    const waiting = await c.getTask({ tenant: "", id: d.taskId });
    expect(text(waiting.status?.message)).toBe("Which colour?");
    const done = asTask(await c.sendMessage(send(userMessage("teal", { taskId: d.taskId }))));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(done.artifacts[0])).toBe("painted the shed teal");
    expect((await api.get(`/v1/tasks/${d.taskId}`)).body.metadata.copilotPid).toBe(lead.pid);
  });
});

describe("A2A: an approval prompt decided by a data part", () => {
  it("input-required names the call and the approval; text is refused with how to decide; approve runs the call once", async () => {
    const tenant = freshTenant("a2aa");
    const api = client(tenant);
    await askPolicy(api, "write_file", { path: "/prod/**", reason: "production needs a second pair of eyes" });
    await register(api, "deployer", deployer);
    const c = await a2a(tenant, "deployer");

    const first = asTask(await c.sendMessage(send(userMessage("v2"))));
    expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const pid = first.metadata!.workerPid as number;
    const [approval] = await approvalsOf(api, `pid=${pid}&state=pending`);
    expect(text(first.status?.message)).toBe(
      `Waiting for a person to approve write_file {"path":"/prod/app.conf","content":"v2"} (approval ${approval!.id}): production needs a second pair of eyes`,
    );

    // Text cannot decide: the error names the approval and both ways to decide it.
    const refused = await rejection(c.sendMessage(send(userMessage("yes please", { taskId: first.id }))));
    expect(refused).toBeInstanceOf(UnsupportedOperationError);
    expect(refused.message).toContain(`approval ${approval!.id}`);
    expect(refused.message).toContain("data part");
    expect(refused.message).toContain(`POST /v1/approvals/${approval!.id}`);
    // The wire's ErrorInfo carries the approval's id, for a client that decides by program.
    expect((refused as unknown as { data?: { metadata?: Record<string, string> }[] }).data?.[0]?.metadata).toEqual({ code: "task_not_waiting", approvalId: approval!.id });
    // Not a decision: a data part that says something else, or with text beside it.
    expect(await rejection(c.sendMessage(send(userMessage([dataPart({ decision: "maybe" })], { taskId: first.id }))))).toBeInstanceOf(RequestMalformedError);
    expect(await rejection(c.sendMessage(send(userMessage([dataPart({ decision: "reject", arguments: {} })], { taskId: first.id }))))).toBeInstanceOf(RequestMalformedError);
    expect(await rejection(c.sendMessage(send(userMessage([dataPart({ decision: "approve" }), textPart("ok")], { taskId: first.id }))))).toBeInstanceOf(RequestMalformedError);
    // A viewer may not decide; another tenant does not see the task.
    const viewer = await a2a(tenant, "deployer", "viewer");
    expect((await rejection(viewer.sendMessage(send(userMessage([dataPart({ decision: "approve" })], { taskId: first.id }))))).message).toMatch(/403/);
    const other = freshTenant("a2aa");
    await register(client(other), "deployer", deployer);
    expect(await rejection((await a2a(other, "deployer")).sendMessage(send(userMessage([dataPart({ decision: "approve" })], { taskId: first.id }))))).toBeInstanceOf(TaskNotFoundError);
    expect((await approvalsOf(api, `pid=${pid}`))[0]).toMatchObject({ id: approval!.id, state: "pending" });

    const done = asTask(await c.sendMessage(send(userMessage([dataPart({ decision: "approve", message: "ship it" })], { taskId: first.id }))));
    expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(done.artifacts[0])).toBe("deploy: wrote 2 bytes to /prod/app.conf");
    expect((await approvalsOf(api, `pid=${pid}`))[0]).toMatchObject({ id: approval!.id, state: "approved", decidedBy: "api:operator", message: "ship it" });
    expect(await (await api.call("GET", "/v1/fs/prod/app.conf")).text()).toBe("v2");
  });

  it("reject: the model sees the rejection; streamed, the stream closes at the prompt and a streamed decision runs to the end", async () => {
    const tenant = freshTenant("a2aa");
    const api = client(tenant);
    await askPolicy(api, "write_file", { path: "/prod/**" });
    await register(api, "deployer", deployer);
    const c = await a2a(tenant, "deployer");

    const asked = await all(c.sendMessageStream(send(userMessage("v3"))));
    expect(statesOf(asked).at(-1)).toBe(`status:${TaskState.TASK_STATE_INPUT_REQUIRED}`);
    const task = asked[0]!.payload!.value as Task;
    expect(text((asked.at(-1)!.payload!.value as { status: { message: Message } }).status.message)).toMatch(/^Waiting for a person to approve write_file /);

    const decided = await all(c.sendMessageStream(send(userMessage([dataPart({ decision: "reject", message: "not during the freeze" })], { taskId: task.id }))));
    expect(statesOf(decided).at(-1)).toBe(`status:${TaskState.TASK_STATE_COMPLETED}`);
    const artifact = decided.find((e) => e.payload?.$case === "artifactUpdate")!.payload!.value as { artifact: { parts: Part[] } };
    expect(text(artifact.artifact)).toBe("deploy: Error: rejected by api:operator: not during the freeze");
    expect((await api.call("GET", "/v1/fs/prod/app.conf")).status).toBe(404);
    // A decision for a task that waits on nothing (it has ended) is refused.
    expect(await rejection(c.sendMessage(send(userMessage([dataPart({ decision: "approve" })], { taskId: task.id }))))).toBeInstanceOf(UnsupportedOperationError);
  });

  it("approve with replaced arguments; a decision naming another process's approval is refused; a decision to a task waiting on nothing is refused", async () => {
    const tenant = freshTenant("a2aa");
    const api = client(tenant);
    await askPolicy(api, "write_file", { path: "/prod/**" });
    await register(api, "deployer", deployer);
    await register(api, "chat", { mode: "interactive", script: [{ text: "hello" }] });
    const c = await a2a(tenant, "deployer");
    const one = asTask(await c.sendMessage(send(userMessage("first"))));
    const two = asTask(await c.sendMessage(send(userMessage("second"))));
    const [approvalOfTwo] = await approvalsOf(api, `pid=${two.metadata!.workerPid}&state=pending`);
    const foreign = await rejection(c.sendMessage(send(userMessage([dataPart({ decision: "approve", approvalId: approvalOfTwo!.id })], { taskId: one.id }))));
    expect(foreign).toBeInstanceOf(RequestMalformedError);
    expect((await approvalsOf(api, `pid=${two.metadata!.workerPid}`))[0]!.state).toBe("pending");

    const named = asTask(await c.sendMessage(send(userMessage([dataPart({ decision: "approve", approvalId: approvalOfTwo!.id, arguments: { path: "/prod/app.conf", content: "edited" } })], { taskId: two.id }))));
    expect(text(named.artifacts[0])).toBe("deploy: wrote 6 bytes to /prod/app.conf");
    expect(await (await api.call("GET", "/v1/fs/prod/app.conf")).text()).toBe("edited");

    const chat = await a2a(tenant, "chat");
    const idle = asTask(await chat.sendMessage(send(userMessage("hi"))));
    expect(idle.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const nothing = await rejection(chat.sendMessage(send(userMessage([dataPart({ decision: "approve" })], { taskId: idle.id }))));
    expect(nothing).toBeInstanceOf(UnsupportedOperationError);
    expect(nothing.message).toMatch(/waits for no approval/);
    // A data part never starts a task: a new task's input is text.
    expect((await rejection(chat.sendMessage(send(userMessage([dataPart({ decision: "approve" })])))))).toHaveProperty("name", "ContentTypeNotSupportedError");
  });
});
