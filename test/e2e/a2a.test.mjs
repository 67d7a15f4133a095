/**
 * SPEC §12 against a real `wrangler dev`, driven from Node by the official A2A client
 * (`@a2a-js/sdk`: `ClientFactory` from the agent card URL, the bearer token added by a fetch
 * wrapper): send and wait, stream, multi-turn, cancel, and the 0.3 transport; then the server is
 * killed with SIGKILL mid-task and restarted on the same state, and the same A2A task is still
 * there, finishes, and is answered by GetTask: the task is the kernel's durable one, not a copy in
 * the Worker's memory. Two tasks waiting for their caller (a question, an approval prompt) across
 * the same crash are answered by a second SendMessage after the restart.
 *
 * About 15 s: two wrangler boots.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Role, TaskState } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from "@a2a-js/sdk/client";
import { TaskNotCancelableError } from "@a2a-js/sdk/errors";
import { DevServer, freePort, installCleanup, scratchConfig, scratchDir } from "../../scripts/lib/dev-server.mjs";
import { mintToken, randomSecret } from "../../scripts/lib/jwt.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
installCleanup("e2e-a2a");

const withToken = (token) => (input, init) => {
  const request = new Request(input, init);
  request.headers.set("authorization", `Bearer ${token}`);
  return fetch(request);
};
const factory = (fetchImpl, legacy = false) =>
  new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl, ...(legacy ? { legacyCompat: { enabled: true } } : {}) })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    }),
  );
let n = 0;
const message = (text, extra = {}) => ({
  messageId: `e2e-${process.pid}-${n++}`,
  contextId: "",
  taskId: "",
  role: Role.ROLE_USER,
  parts: [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
  ...extra,
});
const params = (msg, returnImmediately = false) => ({ tenant: "", message: msg, configuration: { acceptedOutputModes: [], taskPushNotificationConfig: undefined, returnImmediately }, metadata: undefined });
const text = (x) => (x?.parts ?? []).map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
const all = async (gen) => {
  const out = [];
  for await (const e of gen) out.push(e);
  return out;
};

describe("A2A endpoint against wrangler dev, with the official client", { timeout: 150_000 }, () => {
  const scratch = scratchDir("agent-kernel-a2a-");
  const config = scratchConfig(root, scratch);
  const persistTo = join(scratch, "state");
  const registry = join(scratch, "registry");
  const secret = randomSecret();
  const tenant = "e2e-a2a";
  const token = mintToken({ tenant, role: "operator", ttlSeconds: 600, secret });
  const admin = mintToken({ tenant, role: "admin", ttlSeconds: 600, secret });
  let port;
  let inspectorPort;
  let server;
  const base = () => `http://127.0.0.1:${port}`;
  const boot = async () => {
    server = await new DevServer({ root, label: "e2e-a2a", port, inspectorPort, config, persistTo, registry, vars: { AUTH_SECRET: secret } }).start();
    await server.ready("/healthz", 60_000);
  };
  const client = (agent, fetchImpl = withToken(token)) => factory(fetchImpl).createFromUrl(`${base()}/a2a/${agent}/`);
  const put = async (name, spec) => {
    const res = await fetch(`${base()}/v1/agents/${name}`, { method: "PUT", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify({ model: "scripted", ...spec }) });
    assert.equal(res.status, 200, await res.text());
  };

  before(async () => {
    port = await freePort();
    inspectorPort = await freePort();
    await boot();
    await put("greeter", { description: "Greets.", script: [{ text: "Hello, {{input}}!" }] });
    await put("chat", { mode: "interactive", script: [{ text: "Hi {{input}}." }, { text: "Got it." }] });
    await put("painter", { tools: ["request_input"], script: [{ toolCalls: [{ name: "request_input", arguments: { question: "Which colour?" } }] }, { text: "painted the {{input}} {{lastToolResult}}" }] });
    await put("deployer", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/prod/app.conf", content: "{{input}}" } }] }, { text: "deploy: {{lastToolResult}}" }] });
    const hook = await fetch(`${base()}/v1/hooks/prod-guard`, {
      method: "PUT",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: JSON.stringify({ kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file", path: "/prod/**" }, action: "ask", reason: "production needs a person" }] }),
    });
    assert.equal(hook.status, 200, await hook.text());
    await put("slow", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/slow.txt", content: "{{input}}" } }] }, { text: "done after a while", delayMs: 4_000 }] });
  });
  after(async () => {
    await server?.stop();
  });

  test("discover, send and wait, stream, continue, cancel, and a bad token", async () => {
    const greeter = await client("greeter");
    const card = await greeter.getAgentCard();
    assert.equal(card.name, "greeter");
    assert.equal(card.capabilities.streaming, true);
    assert.equal(card.supportedInterfaces[0].url, `${base()}/a2a/greeter/`);

    const done = await greeter.sendMessage(params(message("e2e")));
    assert.equal(done.status.state, TaskState.TASK_STATE_COMPLETED);
    assert.equal(text(done.artifacts[0]), "Hello, e2e!");
    const kernelTask = await (await fetch(`${base()}/v1/tasks/${done.id}`, { headers: { authorization: `Bearer ${token}` } })).json();
    assert.equal(kernelTask.status.state, "completed");
    assert.equal(kernelTask.metadata.copilotPid, null);

    const events = await all(greeter.sendMessageStream(params(message("stream"))));
    assert.equal(events[0].payload.$case, "task");
    assert.equal(events.at(-1).payload.value.status.state, TaskState.TASK_STATE_COMPLETED);
    assert.ok(events.some((e) => e.payload.$case === "artifactUpdate"));

    const chat = await client("chat");
    const first = await chat.sendMessage(params(message("Bo")));
    assert.equal(first.status.state, TaskState.TASK_STATE_INPUT_REQUIRED);
    const second = await chat.sendMessage(params(message("more", { taskId: first.id })));
    assert.equal(second.id, first.id);
    assert.equal(text(second.status.message), "Got it.");
    const canceled = await chat.cancelTask({ tenant: "", id: first.id, metadata: undefined });
    assert.equal(canceled.status.state, TaskState.TASK_STATE_CANCELED);
    assert.deepEqual(await chat.cancelTask({ tenant: "", id: first.id, metadata: undefined }), canceled);
    await assert.rejects(greeter.cancelTask({ tenant: "", id: done.id, metadata: undefined }), TaskNotCancelableError);

    await assert.rejects(client("greeter", withToken("bad.token.here")), /401/);

    // The SDK's 0.3 transport (the card's 0.3 interface), 0.3 method names on the wire.
    const legacy = await factory(withToken(token), true).createFromAgentCard({ ...card, supportedInterfaces: card.supportedInterfaces.filter((i) => i.protocolVersion === "0.3") });
    assert.equal(legacy.protocolVersion, "0.3");
    const old = await legacy.sendMessage(params(message("0.3")));
    assert.equal(text(old.artifacts[0]), "Hello, 0.3!");
    assert.equal((await legacy.getTask({ tenant: "", id: old.id })).status.state, TaskState.TASK_STATE_COMPLETED);
  });

  test("the README's example client (examples/a2a/client.mjs) sends, streams, continues and decides", async () => {
    const run = (...args) =>
      new Promise((resolve, reject) =>
        execFile(process.execPath, [join(root, "examples", "a2a", "client.mjs"), ...args], { env: { ...process.env, K: base(), TOKEN: token }, timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
        ),
      );
    assert.match(await run("greeter", "example"), /^agent card: greeter: Greets\. \(streaming: true\)\ntask [0-9a-f-]+: completed\nartifact: Hello, example!\n$/);
    assert.match(await run("greeter", "streamed", "--stream"), /task [0-9a-f-]+: (submitted|working)\n(status: working\n)?artifact: Hello, streamed!\nstatus: completed\n$/);
    const first = await run("chat", "Cy");
    const task = /^task ([0-9a-f-]+): input-required$/m.exec(first)?.[1];
    assert.ok(task, first);
    assert.match(await run("chat", "again", "--task", task), new RegExp(`task ${task}: input-required\nmessage: Got it\.\n$`));
    // An approval prompt, decided with --decide (a data part).
    const gated = await run("deployer", "v9");
    const gatedTask = /^task ([0-9a-f-]+): input-required$/m.exec(gated)?.[1];
    assert.ok(gatedTask, gated);
    assert.match(gated, /^message: Waiting for a person to approve write_file \{"path":"\/prod\/app.conf","content":"v9"\} \(approval [0-9a-f-]+\): production needs a person$/m);
    assert.match(await run("deployer", "ok", "--task", gatedTask, "--decide", "approve"), new RegExp(`task ${gatedTask}: completed\nartifact: deploy: wrote 2 bytes to /prod/app.conf\n$`));
  });

  test("an A2A task survives a SIGKILL of the server: the same task finishes and is answered after the restart", async () => {
    // Two tasks wait for their caller across the crash: a question, and a call waiting for approval.
    const asked = await (await client("painter")).sendMessage(params(message("door")));
    assert.equal(asked.status.state, TaskState.TASK_STATE_INPUT_REQUIRED);
    assert.equal(text(asked.status.message), "Which colour?");
    const gated = await (await client("deployer")).sendMessage(params(message("v2")));
    assert.equal(gated.status.state, TaskState.TASK_STATE_INPUT_REQUIRED);
    assert.match(text(gated.status.message), /^Waiting for a person to approve write_file \{"path":"\/prod\/app.conf","content":"v2"\} \(approval [0-9a-f-]+\): production needs a person$/);
    const slow = await client("slow");
    const started = await slow.sendMessage(params(message("persist me"), true));
    assert.ok([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING].includes(started.status.state));
    // Let it reach its slow model call, then crash the whole server.
    await new Promise((r) => setTimeout(r, 1_500));
    await server.crash();
    await boot();
    const again = await client("slow");
    let task = await again.getTask({ tenant: "", id: started.id });
    for (let i = 0; i < 600 && task.status.state !== TaskState.TASK_STATE_COMPLETED; i++) {
      await new Promise((r) => setTimeout(r, 100));
      task = await again.getTask({ tenant: "", id: started.id });
    }
    assert.equal(task.id, started.id);
    assert.equal(task.status.state, TaskState.TASK_STATE_COMPLETED, JSON.stringify(task.status));
    assert.equal(text(task.artifacts[0]), "done after a while");
    assert.deepEqual(task.history.map(text), ["persist me", "done after a while"]);

    // The question's answer, and a decision (a data part), each a second SendMessage to the same task.
    const painted = await (await client("painter")).sendMessage(params(message("blue", { taskId: asked.id })));
    assert.equal(painted.id, asked.id);
    assert.equal(painted.status.state, TaskState.TASK_STATE_COMPLETED);
    assert.equal(text(painted.artifacts[0]), "painted the door blue");
    const deployer = await client("deployer");
    await assert.rejects(deployer.sendMessage(params(message("yes", { taskId: gated.id }))), /data part/);
    const decision = message("", { taskId: gated.id, parts: [{ content: { $case: "data", value: { decision: "approve", message: "after the crash" } }, metadata: undefined, filename: "", mediaType: "application/json" }] });
    const deployed = await deployer.sendMessage(params(decision));
    assert.equal(deployed.status.state, TaskState.TASK_STATE_COMPLETED);
    assert.equal(text(deployed.artifacts[0]), "deploy: wrote 2 bytes to /prod/app.conf");
  });
});
