/**
 * SPEC §12 driven by the official A2A client (`@a2a-js/sdk`): `ClientFactory` discovers each agent
 * from its card URL and speaks JSON-RPC to it; its `fetch` is the Worker's own, with the bearer
 * token added, so every call goes through the real routes, auth, kernel and process objects. The
 * requests are the SDK's typed objects; nothing on the client side writes A2A JSON by hand.
 */
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { Role, TaskState, type Message, type StreamResponse, type Task } from "@a2a-js/sdk";
import { DefaultAgentCardResolver } from "@a2a-js/sdk/client";
import { TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError, ContentTypeNotSupportedError } from "@a2a-js/sdk/errors";
import { client, freshTenant, tokenFor } from "../support/http";
import { register } from "../support/agents";
import { a2a, all, asTask, authedFetch, BASE, factoryFor, rejection, send, text, userMessage } from "../support/a2a-client";

const greeter = { description: "Greets whoever it is given.", script: [{ text: "Hello, {{input}}!" }] };

describe("A2A agent card", () => {
  it("is served per agent behind the token, with the agent's skill, streaming and the bearer scheme", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "greeter", greeter);
    const card = await new DefaultAgentCardResolver({ fetchImpl: authedFetch(await tokenFor(tenant, "viewer")) }).resolve(`${BASE}/a2a/greeter/`);
    expect(card.name).toBe("greeter");
    expect(card.description).toBe("Greets whoever it is given.");
    expect(card.capabilities?.streaming).toBe(true);
    expect(card.skills).toHaveLength(1);
    expect(card.skills[0]).toMatchObject({ id: "greeter", name: "greeter", description: "Greets whoever it is given." });
    expect(card.supportedInterfaces.map((i) => [i.url, i.protocolBinding, i.protocolVersion])).toEqual([
      [`${BASE}/a2a/greeter/`, "JSONRPC", "1.0"],
      [`${BASE}/a2a/greeter/`, "JSONRPC", "0.3"],
    ]);
    const scheme = Object.values(card.securitySchemes)[0]!.scheme;
    expect(scheme).toMatchObject({ $case: "httpAuthSecurityScheme", value: { scheme: "Bearer", bearerFormat: "JWT" } });
    expect(card.securityRequirements[0]!.schemes).toHaveProperty(Object.keys(card.securitySchemes)[0]!);
  });

  it("refuses a missing or bad token (401), and another tenant's agent is not found (404)", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "greeter", greeter);
    const url = `${BASE}/a2a/greeter/`;
    expect(await rejection(factoryFor(authedFetch(null)).createFromUrl(url))).toHaveProperty("message", expect.stringContaining("401"));
    expect(await rejection(factoryFor(authedFetch("not.a.jwt")).createFromUrl(url))).toHaveProperty("message", expect.stringContaining("401"));
    const wrongSecret = await tokenFor(tenant, "admin").then((t) => `${t.slice(0, -4)}AAAA`);
    expect(await rejection(factoryFor(authedFetch(wrongSecret)).createFromUrl(url))).toHaveProperty("message", expect.stringContaining("401"));
    expect(await rejection(a2a(freshTenant("other"), "greeter"))).toHaveProperty("message", expect.stringContaining("404"));
    // The JSON-RPC endpoint, too: a client built from the card, then used with a bad token, is refused.
    const good = await a2a(tenant, "greeter");
    const card = await good.getAgentCard();
    const bad = await factoryFor(authedFetch("not.a.jwt")).createFromAgentCard(card);
    expect((await rejection(bad.sendMessage(send(userMessage("x"))))).message).toMatch(/401/);
    // Nothing was spawned by the refused call.
    expect((await client(tenant).get("/v1/procs")).body.processes).toEqual([]);
  });
});

describe("A2A JSON-RPC (protocol 1.0, the official client)", () => {
  it("send and wait: the task completes with the answer as its artifact, and is the kernel's own task", async () => {
    const tenant = freshTenant("a2a");
    const api = client(tenant);
    await register(api, "greeter", greeter);
    const c = await a2a(tenant, "greeter");
    const task = asTask(await c.sendMessage(send(userMessage("world"))));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(task.artifacts).toHaveLength(1);
    expect(text(task.artifacts[0])).toBe("Hello, world!");
    // History: the caller's message, then the agent's answer.
    expect(task.history.map((m) => [m.role, text(m)])).toEqual([
      [Role.ROLE_USER, "world"],
      [Role.ROLE_AGENT, "Hello, world!"],
    ]);

    // The same task, id and state, over the kernel's own API; no copilot owns it.
    const kernelTask = await api.get(`/v1/tasks/${task.id}`);
    expect(kernelTask.status).toBe(200);
    expect(kernelTask.body).toMatchObject({ id: task.id, contextId: task.contextId, status: { state: "completed" }, artifacts: [{ parts: [{ kind: "text", text: "Hello, world!" }] }] });
    expect(kernelTask.body.metadata.copilotPid).toBeNull();
    const pid = kernelTask.body.metadata.workerPid as number;
    expect(task.metadata).toMatchObject({ workerPid: pid, agent: "greeter", copilotPid: null });
    // An ordinary process: in the table with its task, audited like any spawn.
    expect((await api.get(`/v1/procs/${pid}`)).body).toMatchObject({ agent: "greeter", taskId: task.id, parentPid: null, exit: { code: 0 } });
    const audit = (await api.get("/v1/audit?limit=100")).body.entries as { event: string; taskId?: string; actor: string }[];
    expect(audit.filter((e) => e.taskId === task.id).map((e) => e.event)).toEqual(["spawn", "task_state", "task_state", "terminate", "task_state"]);
    expect(audit.find((e) => e.event === "spawn")!.actor).toBe("api:operator");
  });

  it("send with returnImmediately answers at once; GetTask with historyLength follows it to the end", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "slow", { script: [{ text: "took a while: {{input}}", delayMs: 400 }] });
    const c = await a2a(tenant, "slow");
    const started = asTask(await c.sendMessage(send(userMessage("job"), { returnImmediately: true })));
    expect([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING]).toContain(started.status?.state);
    expect(started.artifacts).toEqual([]);

    let got = await c.getTask({ tenant: "", id: started.id });
    for (let i = 0; i < 100 && got.status?.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((r) => setTimeout(r, 50));
      got = await c.getTask({ tenant: "", id: started.id });
    }
    expect(got.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(got.artifacts[0])).toBe("took a while: job");
    expect(got.history).toHaveLength(2);
    expect((await c.getTask({ tenant: "", id: started.id, historyLength: 1 })).history.map(text)).toEqual(["took a while: job"]);
    expect((await c.getTask({ tenant: "", id: started.id, historyLength: 0 })).history).toEqual([]);
    // A task id the tenant does not have, or a malformed historyLength.
    expect(await rejection(c.getTask({ tenant: "", id: crypto.randomUUID() }))).toBeInstanceOf(TaskNotFoundError);
  });

  it("send and stream: the task, working, the artifact, then completed; the stream closes at the end", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "writer", {
      script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/out.txt", content: "{{input}}" } }], delayMs: 100 }, { text: "Wrote: {{lastToolResult}}", delayMs: 100 }],
    });
    const c = await a2a(tenant, "writer");
    const events: StreamResponse[] = await all(c.sendMessageStream(send(userMessage("streamed"))));
    const kinds = events.map((e) => e.payload?.$case);
    expect(kinds[0]).toBe("task");
    const id = (events[0]!.payload!.value as Task).id;
    const statuses = events.flatMap((e) => (e.payload?.$case === "statusUpdate" ? [e.payload.value] : []));
    expect(statuses.every((s) => s.taskId === id)).toBe(true);
    const states = statuses.map((s) => s.status?.state);
    expect(states.at(-1)).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(states.slice(0, -1).every((s) => s === TaskState.TASK_STATE_WORKING)).toBe(true);
    // The process's tool call is told while it works.
    expect(statuses.some((s) => text(s.status?.message) === "calling write_file")).toBe(true);
    // The artifact arrives before the final status, which is the stream's last event.
    const artifactAt = kinds.indexOf("artifactUpdate");
    expect(artifactAt).toBeGreaterThan(0);
    expect(artifactAt).toBe(kinds.length - 2);
    const artifact = events[artifactAt]!.payload!.value as { artifact: { parts: unknown[] } };
    expect(text(artifact.artifact as never)).toBe("Wrote: wrote 8 bytes to /out.txt");
    // Subscribing to an ended task is refused, as the SDK's own server does.
    expect(await rejection(all(c.resubscribeTask({ tenant: "", id })))).toBeInstanceOf(UnsupportedOperationError);
  });

  it("lists the agent's tasks (paged, by state), and never another agent's or tenant's", async () => {
    const tenant = freshTenant("a2a");
    const api = client(tenant);
    await register(api, "greeter", greeter);
    await register(api, "other", greeter);
    const c = await a2a(tenant, "greeter");
    const ids: string[] = [];
    for (const who of ["a", "b", "c"]) ids.push(asTask(await c.sendMessage(send(userMessage(who)))).id);
    await (await a2a(tenant, "other")).sendMessage(send(userMessage("not listed")));

    const listed = await c.listTasks({ tenant: "", contextId: "", status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 2, pageToken: "", statusTimestampAfter: undefined, includeArtifacts: true });
    expect(listed.tasks.map((t) => t.id)).toEqual(ids.slice(0, 2));
    expect(listed.totalSize).toBe(3);
    expect(text(listed.tasks[0]!.artifacts[0])).toBe("Hello, a!");
    const next = await c.listTasks({ tenant: "", contextId: "", status: TaskState.TASK_STATE_UNSPECIFIED, pageSize: 2, pageToken: listed.nextPageToken, statusTimestampAfter: undefined });
    expect(next.tasks.map((t) => t.id)).toEqual(ids.slice(2));
    expect(next.nextPageToken).toBe("");
    expect(next.tasks[0]!.artifacts).toEqual([]); // includeArtifacts not asked for
    const failed = await c.listTasks({ tenant: "", contextId: "", status: TaskState.TASK_STATE_FAILED, pageToken: "", statusTimestampAfter: undefined });
    expect(failed.tasks).toEqual([]);

    // Another tenant, same agent name: none of these tasks, and each id is not found.
    const tenant2 = freshTenant("a2a");
    await register(client(tenant2), "greeter", greeter);
    const stranger = await a2a(tenant2, "greeter");
    expect((await stranger.listTasks({ tenant: "", contextId: "", status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: "", statusTimestampAfter: undefined })).tasks).toEqual([]);
    expect(await rejection(stranger.getTask({ tenant: "", id: ids[0]! }))).toBeInstanceOf(TaskNotFoundError);
    expect(await rejection(stranger.cancelTask({ tenant: "", id: ids[0]!, metadata: undefined }))).toBeInstanceOf(TaskNotFoundError);
    // The client's own `tenant` parameter does not reach another tenant: the token decides.
    expect(await rejection(stranger.getTask({ tenant, id: ids[0]! }))).toBeInstanceOf(TaskNotFoundError);
    // Nor does another agent's endpoint of the same tenant answer for this agent's task.
    expect(await rejection((await a2a(tenant, "other")).getTask({ tenant: "", id: ids[0]! }))).toBeInstanceOf(TaskNotFoundError);
  });

  it("cancel kills the process; canceling again answers the canceled task; a completed task is not cancelable", async () => {
    const tenant = freshTenant("a2a");
    const api = client(tenant);
    await register(api, "sleeper", { script: [{ text: "never in time", delayMs: 20_000 }] });
    await register(api, "greeter", greeter);
    const c = await a2a(tenant, "sleeper");
    const started = asTask(await c.sendMessage(send(userMessage("wait"), { returnImmediately: true })));
    const canceled = await c.cancelTask({ tenant: "", id: started.id, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(text(canceled.status?.message)).toBe("task cancelled");
    const pid = started.metadata!.workerPid as number;
    expect((await api.get(`/v1/procs/${pid}`)).body.exit).toMatchObject({ code: -15, reason: "task cancelled" });
    expect((await api.get(`/v1/tasks/${started.id}`)).body.status.state).toBe("canceled");

    const again = await c.cancelTask({ tenant: "", id: started.id, metadata: undefined });
    expect(again).toEqual(canceled);

    const g = await a2a(tenant, "greeter");
    const done = asTask(await g.sendMessage(send(userMessage("x"))));
    expect(await rejection(g.cancelTask({ tenant: "", id: done.id, metadata: undefined }))).toBeInstanceOf(TaskNotCancelableError);
    // A message to an ended task is refused.
    expect(await rejection(g.sendMessage(send(userMessage("more", { taskId: done.id }))))).toBeInstanceOf(UnsupportedOperationError);
  });

  it("an interactive agent: each answer leaves the task input-required; a second SendMessage continues the same task", async () => {
    const tenant = freshTenant("a2a");
    const api = client(tenant);
    await register(api, "chat", { mode: "interactive", script: [{ text: "Hi {{input}}, what next?" }, { text: "Noted." }, { text: "Bye." }] });
    const c = await a2a(tenant, "chat");
    const first = asTask(await c.sendMessage(send(userMessage("Ann"))));
    expect(first.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(text(first.status?.message)).toBe("Hi Ann, what next?");
    expect((await api.get(`/v1/tasks/${first.id}`)).body.status).toMatchObject({ state: "input-required", message: "Hi Ann, what next?" });

    const second = asTask(await c.sendMessage(send(userMessage("buy milk", { taskId: first.id, contextId: first.contextId }))));
    expect(second.id).toBe(first.id);
    expect(second.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(text(second.status?.message)).toBe("Noted.");
    expect(second.history.map(text)).toEqual(["Ann", "Hi Ann, what next?", "buy milk", "Noted."]);

    // Streamed continuation: working, then input-required again, and the stream closes there.
    // (A fast agent may have answered before the stream's first event: then that task event is the last.)
    const events = await all(c.sendMessageStream(send(userMessage("that is all", { taskId: first.id }))));
    expect(events[0]!.payload!.$case).toBe("task");
    const last = events.at(-1)!.payload!.value as { status: { state: TaskState; message: Message } };
    expect(last.status.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect(text(last.status.message)).toBe("Bye.");
    // Only one process ever served this conversation.
    expect((await api.get("/v1/procs?agent=chat")).body.processes).toHaveLength(1);

    // A task of a task-mode agent does not take further messages (only a waiting task's answer would).
    await register(api, "slow", { script: [{ text: "later", delayMs: 2_000 }] });
    const s = await a2a(tenant, "slow");
    const running = asTask(await s.sendMessage(send(userMessage("go"), { returnImmediately: true })));
    const refused = await rejection(s.sendMessage(send(userMessage("more", { taskId: running.id }))));
    expect(refused).toBeInstanceOf(UnsupportedOperationError);
    expect(refused.message).toMatch(/task_not_waiting/);
  });

  it("subscribes to a running task and follows it to the end", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "slow", { script: [{ text: "finally", delayMs: 500 }] });
    const c = await a2a(tenant, "slow");
    const started = asTask(await c.sendMessage(send(userMessage("go"), { returnImmediately: true })));
    const viewer = await a2a(tenant, "slow", "viewer");
    const events = await all(viewer.resubscribeTask({ tenant: "", id: started.id }));
    expect(events[0]!.payload?.$case).toBe("task");
    const last = events.at(-1)!.payload!;
    expect(last.$case).toBe("statusUpdate");
    expect((last.value as { status: { state: TaskState } }).status.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(events.some((e) => e.payload?.$case === "artifactUpdate")).toBe(true);
  });

  it("roles: a viewer reads (card, get, list) but may not send or cancel", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "greeter", greeter);
    const done = asTask(await (await a2a(tenant, "greeter")).sendMessage(send(userMessage("x"))));
    const viewer = await a2a(tenant, "greeter", "viewer");
    expect((await viewer.getTask({ tenant: "", id: done.id })).id).toBe(done.id);
    expect((await viewer.listTasks({ tenant: "", contextId: "", status: TaskState.TASK_STATE_UNSPECIFIED, pageToken: "", statusTimestampAfter: undefined })).tasks).toHaveLength(1);
    expect((await rejection(viewer.sendMessage(send(userMessage("y"))))).message).toMatch(/403/);
    expect((await rejection(viewer.cancelTask({ tenant: "", id: done.id, metadata: undefined }))).message).toMatch(/403/);
    expect((await client(tenant).get("/v1/procs")).body.processes).toHaveLength(1);
  });

  it("refuses what a process cannot read, and what the kernel refuses, with A2A errors", async () => {
    const tenant = freshTenant("a2a");
    const api = client(tenant);
    await register(api, "greeter", greeter);
    const c = await a2a(tenant, "greeter");
    const filePart = userMessage("x", { parts: [{ content: { $case: "url", value: "https://example.com/a.pdf" }, metadata: undefined, filename: "a.pdf", mediaType: "application/pdf" }] });
    expect(await rejection(c.sendMessage(send(filePart)))).toBeInstanceOf(ContentTypeNotSupportedError);
    // A pre_spawn veto is the kernel's refusal, named in the error; nothing runs.
    await api.put("/v1/hooks/no-greeters", { kind: "policy", rules: [{ event: "pre_spawn", match: { agent: "greeter" }, action: "deny", reason: "closed today" }] });
    const vetoed = await rejection(c.sendMessage(send(userMessage("y"))));
    expect(vetoed.message).toMatch(/spawn_vetoed: .*closed today/);
    expect((vetoed as { envelopeCode?: number }).envelopeCode).toBe(-32000);
    expect((await api.get("/v1/procs")).body.processes).toEqual([]);
    // The kernel's rules hold as for any spawn: a singleton agent runs once at a time.
    await register(api, "solo", { singleton: true, mode: "interactive", script: [{ text: "here" }] });
    const solo = await a2a(tenant, "solo");
    expect(asTask(await solo.sendMessage(send(userMessage("one")))).status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    expect((await rejection(solo.sendMessage(send(userMessage("two"))))).message).toMatch(/^process_already_running: /);
  });

  it("a retried send (same message id) answers the same task", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "greeter", greeter);
    const c = await a2a(tenant, "greeter");
    const message = userMessage("once");
    const a = asTask(await c.sendMessage(send(message)));
    const b = asTask(await c.sendMessage(send(message)));
    expect(b.id).toBe(a.id);
    expect((await client(tenant).get("/v1/procs")).body.processes).toHaveLength(1);
  });
});

describe("A2A and durability", () => {
  it("a blocking send outlives a crash of the kernel object while it is held there", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "slow", { script: [{ text: "survived", delayMs: 1_500 }] });
    const c = await a2a(tenant, "slow");
    const pending = c.sendMessage(send(userMessage("hold on")));
    await new Promise((r) => setTimeout(r, 400));
    // The kernel object is reset with its in-memory waiters: the held call breaks and is asked again.
    await runInDurableObject(env.KERNEL.getByName(tenant), (_i, state) => state.abort("simulated crash")).catch(() => {});
    const task = asTask(await pending);
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(task.artifacts[0])).toBe("survived");
    expect((await client(tenant).get(`/v1/tasks/${task.id}`)).body.status.state).toBe("completed");
  });
});

describe("A2A streams and their readers", () => {
  it("a reader that goes away mid-stream leaves the task running; it ends on its own and is read later", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "slow", { script: [{ text: "finished anyway", delayMs: 600 }] });
    const c = await a2a(tenant, "slow");
    const abort = new AbortController();
    const seen: StreamResponse[] = [];
    const reading = (async () => {
      for await (const event of c.sendMessageStream(send(userMessage("go")), { signal: abort.signal })) {
        seen.push(event);
        abort.abort();
      }
    })();
    await reading.catch(() => {});
    expect(seen[0]!.payload?.$case).toBe("task");
    const id = (seen[0]!.payload!.value as Task).id;
    const done = await (await a2a(tenant, "slow")).resubscribeTask({ tenant: "", id });
    const events = await all(done);
    expect((events.at(-1)!.payload!.value as { status: { state: TaskState } }).status.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text((await c.getTask({ tenant: "", id })).artifacts[0])).toBe("finished anyway");
  });
});

describe("A2A JSON-RPC (protocol 0.3, the SDK's 0.3 transport)", () => {
  it("sends, streams, gets and cancels with the 0.3 method names", async () => {
    const tenant = freshTenant("a2a");
    const api = client(tenant);
    await register(api, "greeter", greeter);
    await register(api, "sleeper", { script: [{ text: "late", delayMs: 20_000 }] });
    const fetchImpl = authedFetch(await tokenFor(tenant, "operator"));
    const legacyClient = async (agent: string) => {
      const card = await new DefaultAgentCardResolver({ fetchImpl }).resolve(`${BASE}/a2a/${agent}/`);
      // The card's 0.3 interface only: the factory then builds the SDK's 0.3 JSON-RPC transport.
      const c = await factoryFor(fetchImpl, true).createFromAgentCard({ ...card, supportedInterfaces: card.supportedInterfaces.filter((i) => i.protocolVersion === "0.3") });
      expect(c.protocolVersion).toBe("0.3");
      return c;
    };
    const seen: string[] = [];
    const spy: typeof fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const req = new Request(input, init);
      if (req.method === "POST") seen.push(`${req.headers.get("a2a-version")} ${(JSON.parse(await req.clone().text()) as { method: string }).method}`);
      return fetchImpl(req);
    }) as typeof fetch;
    const card = await new DefaultAgentCardResolver({ fetchImpl }).resolve(`${BASE}/a2a/greeter/`);
    const g = await factoryFor(spy, true).createFromAgentCard({ ...card, supportedInterfaces: card.supportedInterfaces.filter((i) => i.protocolVersion === "0.3") });

    const task = asTask(await g.sendMessage(send(userMessage("old friend"))));
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(text(task.artifacts[0])).toBe("Hello, old friend!");
    expect((await g.getTask({ tenant: "", id: task.id, historyLength: 1 })).history.map(text)).toEqual(["Hello, old friend!"]);
    const streamed = await all(g.sendMessageStream(send(userMessage("stream"))));
    expect((streamed.at(-1)!.payload!.value as { status: { state: TaskState } }).status.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(seen).toEqual(["0.3 message/send", "0.3 tasks/get", "0.3 message/stream"]);

    const s = await legacyClient("sleeper");
    const started = asTask(await s.sendMessage(send(userMessage("zz"), { returnImmediately: true })));
    expect((await s.cancelTask({ tenant: "", id: started.id, metadata: undefined })).status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(await rejection(s.cancelTask({ tenant: "", id: task.id, metadata: undefined }))).toBeInstanceOf(TaskNotFoundError);
    expect(await rejection(g.cancelTask({ tenant: "", id: task.id, metadata: undefined }))).toBeInstanceOf(TaskNotCancelableError);
  });
});

/**
 * What no SDK client sends, but a server must answer with the A2A codes: the wire itself is
 * malformed. (Raw requests here, on purpose: these are the server's error paths.)
 */
describe("A2A JSON-RPC protocol errors", () => {
  it("parse error, unknown method, wrong content type, unknown version, bad params; unknown agent and no token are HTTP errors", async () => {
    const tenant = freshTenant("a2a");
    await register(client(tenant), "greeter", greeter);
    const token = await tokenFor(tenant, "operator");
    const post = async (body: string, headers: Record<string, string> = {}) => {
      const res = await exports.default.fetch(new Request(`${BASE}/a2a/greeter/`, { method: "POST", body, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers } }));
      return { status: res.status, body: (await res.json()) as { id: unknown; error?: { code: number; message: string } } };
    };
    expect((await post("{nope")).body.error!.code).toBe(-32700);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "NoSuchMethod", params: {} }))).body).toMatchObject({ id: 1, error: { code: -32601 } });
    expect((await post("{}", { "content-type": "text/plain" })).body.error!.code).toBe(-32005);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 2, method: "GetTask", params: {} }), { "A2A-Version": "9.9" })).body.error!.code).toBe(-32009);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 3, method: "GetTask", params: [] }))).body.error!.code).toBe(-32602);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 4, method: "GetTask", params: { id: "" } }))).body.error!.code).toBe(-32602);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 5, method: "ListTasks", params: { pageSize: 1000 } }))).body.error!.code).toBe(-32602);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 6, method: "tasks/get", params: { id: "missing" } }))).body).toMatchObject({ id: 6, error: { code: -32001 } });
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 7, method: "SendMessage", params: {} }))).body.error!.code).toBe(-32602);
    expect((await post(JSON.stringify({ jsonrpc: "2.0", id: 8, method: "CreateTaskPushNotificationConfig", params: { taskId: "x", url: "https://example.com" } }))).body.error!.code).toBe(-32003);
    expect((await post("x".repeat(1024 * 1024 + 1))).status).toBe(413);
    const unknown = await exports.default.fetch(new Request(`${BASE}/a2a/nobody/`, { method: "POST", body: "{}", headers: { authorization: `Bearer ${token}` } }));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: { code: "agent_not_found", message: "No agent named nobody is registered." } });
    const anonymous = await exports.default.fetch(new Request(`${BASE}/a2a/greeter/`, { method: "POST", body: "{}" }));
    expect(anonymous.status).toBe(401);
  });
});
