#!/usr/bin/env node
/**
 * An A2A client for one of the kernel's agents, written with the official SDK (`@a2a-js/sdk`), as
 * any other team's agent or gateway would be. It reads the agent card, sends one message and prints
 * what comes back; `--stream` prints each streamed event instead; `--task <id>` sends to that task:
 * the answer to its question, or an interactive agent's next message; with `--decide approve|reject`
 * the message is a decision on the task's approval prompt (a data part, the text as its message).
 *
 *   K=http://127.0.0.1:8787 TOKEN=$(npm run -s token -- acme operator) \
 *     node examples/a2a/client.mjs greeter "world" [--stream] [--task <id> [--decide approve|reject]]
 */
import { Role, TaskState } from "@a2a-js/sdk";
import { ClientFactory, ClientFactoryOptions, DefaultAgentCardResolver, JsonRpcTransportFactory } from "@a2a-js/sdk/client";

const [agent, text, ...rest] = process.argv.slice(2);
if (!agent || !text || !process.env.TOKEN) {
  console.error('usage: K=<kernel url> TOKEN=<jwt> node examples/a2a/client.mjs <agent> "<text>" [--stream] [--task <id> [--decide approve|reject]]');
  process.exit(2);
}
const base = (process.env.K ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
const stream = rest.includes("--stream");
const taskId = rest.includes("--task") ? rest[rest.indexOf("--task") + 1] : "";
const decision = rest.includes("--decide") ? rest[rest.indexOf("--decide") + 1] : null;

// The kernel's token on every request: the card and the JSON-RPC calls.
const fetchImpl = (input, init) => {
  const request = new Request(input, init);
  request.headers.set("authorization", `Bearer ${process.env.TOKEN}`);
  return fetch(request);
};
const factory = new ClientFactory(
  ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
    transports: [new JsonRpcTransportFactory({ fetchImpl })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
  }),
);
// The base URL ends with "/": the card is at <base>/.well-known/agent-card.json.
const client = await factory.createFromUrl(`${base}/a2a/${agent}/`);
const card = await client.getAgentCard();
console.log(`agent card: ${card.name}: ${card.description} (streaming: ${card.capabilities?.streaming})`);

const message = {
  messageId: crypto.randomUUID(),
  contextId: "",
  taskId,
  role: Role.ROLE_USER,
  // A decision is a data part (the kernel's `POST /v1/approvals/:id` body); anything else is text.
  parts: decision
    ? [{ content: { $case: "data", value: { decision, message: text } }, metadata: undefined, filename: "", mediaType: "application/json" }]
    : [{ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" }],
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
};
const request = { tenant: "", message, configuration: undefined, metadata: undefined };
const words = (x) => (x?.parts ?? []).map((p) => (p.content?.$case === "text" ? p.content.value : "")).join("");
const state = (s) => TaskState[s].replace("TASK_STATE_", "").toLowerCase().replace("_", "-");

if (stream) {
  for await (const event of client.sendMessageStream(request)) {
    const { $case, value } = event.payload;
    if ($case === "task") console.log(`task ${value.id}: ${state(value.status.state)}`);
    else if ($case === "statusUpdate") console.log(`status: ${state(value.status.state)}${value.status.message ? ` (${words(value.status.message)})` : ""}`);
    else if ($case === "artifactUpdate") console.log(`artifact: ${words(value.artifact)}`);
  }
} else {
  const task = await client.sendMessage(request);
  console.log(`task ${task.id}: ${state(task.status.state)}`);
  if (task.status.message) console.log(`message: ${words(task.status.message)}`);
  for (const artifact of task.artifacts) console.log(`artifact: ${words(artifact)}`);
}
