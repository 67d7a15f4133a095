/**
 * The A2A view of the kernel's tasks (src/a2a/convert.ts) and how a task is followed
 * (src/a2a/follow.ts), without a Worker: a task source is a script of states.
 */
import { describe, expect, it } from "vitest";
import { Role, Task as A2ATaskFns, TaskState, type Message } from "@a2a-js/sdk";
import { ContentTypeNotSupportedError, RequestMalformedError } from "@a2a-js/sdk/errors";
import { checkOutputModes, historyOf, inputOf, kernelState, toA2ATask } from "../../../src/a2a/convert";
import { changeEvents, follow, progressEvent, settle, type TaskSource } from "../../../src/a2a/follow";
import type { Task } from "../../../src/contracts";

const task = (state: string, timestamp: string, extra: Partial<Task> = {}): Task => ({
  kind: "task",
  id: "t-1",
  contextId: "proc-7",
  status: { state, timestamp },
  artifacts: [],
  metadata: { copilotPid: null, workerPid: 7, agent: "a", deliveryPolicy: "immediate", budget: {}, requested: {}, granted: {}, user: {} },
  ...extra,
});
const done = (ts = "t3") => task("completed", ts, { artifacts: [{ artifactId: "t-1-result", parts: [{ kind: "text", text: "answer" }] }] });
const msg = (parts: Message["parts"], role = Role.ROLE_USER): Message => ({ messageId: "m", contextId: "", taskId: "", role, parts, metadata: undefined, extensions: [], referenceTaskIds: [] });
const text = (value: string, mediaType = "text/plain") => ({ content: { $case: "text" as const, value }, metadata: undefined, filename: "", mediaType });

/** A source that answers each hold with the next scripted state. */
function scripted(states: Task[], events: string[] = []): TaskSource & { holds: number } {
  const source = {
    holds: 0,
    async next() {
      source.holds++;
      return states.shift() ?? done("late");
    },
    async events() {
      const body = events.join("");
      return new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(new TextEncoder().encode(body));
          // Left open, like a live process's stream.
        },
      });
    },
  };
  return source;
}

describe("the A2A view of a task", () => {
  it("keeps the kernel's id, context, state, artifacts and metadata, and serializes with the SDK", () => {
    const view = toA2ATask(task("failed", "t9", { status: { state: "failed", timestamp: "t9", message: "model failed" }, artifacts: done().artifacts }));
    expect(view).toMatchObject({ id: "t-1", contextId: "proc-7", status: { state: TaskState.TASK_STATE_FAILED, timestamp: "t9" }, metadata: { workerPid: 7, copilotPid: null } });
    expect(view.status!.message!.role).toBe(Role.ROLE_AGENT);
    const json = A2ATaskFns.toJSON(view) as { status: { state: string; message: { parts: { text: string }[] } }; artifacts: { parts: { text: string }[] }[] };
    expect(json.status.state).toBe("TASK_STATE_FAILED");
    expect(json.status.message.parts[0]!.text).toBe("model failed");
    expect(json.artifacts[0]!.parts[0]!.text).toBe("answer");
    expect(kernelState(TaskState.TASK_STATE_INPUT_REQUIRED)).toBe("input-required");
    expect(kernelState(TaskState.TASK_STATE_UNSPECIFIED)).toBeUndefined();
  });

  it("history: the caller's messages and the agent's answers, never tool traffic; historyLength from the end", () => {
    const conversation = [
      { role: "user" as const, content: "hi" },
      { role: "assistant" as const, content: "", toolCalls: [{ id: "c1", name: "read_file", arguments: {} }] },
      { role: "tool" as const, toolCallId: "c1", name: "read_file", content: "x", isError: false },
      { role: "assistant" as const, content: "hello" },
      { role: "user" as const, content: "bye" },
    ];
    const all = historyOf({ id: "t-1", contextId: "c" }, conversation);
    expect(all.map((m) => [m.role, m.parts[0]!.content!.value, m.messageId])).toEqual([
      [Role.ROLE_USER, "hi", "t-1:0"],
      [Role.ROLE_AGENT, "hello", "t-1:3"],
      [Role.ROLE_USER, "bye", "t-1:4"],
    ]);
    expect(historyOf({ id: "t-1", contextId: "c" }, conversation, 2).map((m) => m.messageId)).toEqual(["t-1:3", "t-1:4"]);
    expect(historyOf({ id: "t-1", contextId: "c" }, conversation, 0)).toEqual([]);
  });

  it("history: a question (request_input) is the agent's message and its answer the caller's; a refused question is not", () => {
    const conversation = [
      { role: "user" as const, content: "paint" },
      { role: "assistant" as const, content: "", toolCalls: [{ id: "c1", name: "request_input", arguments: { question: "Which colour?" } }, { id: "c2", name: "read_file", arguments: {} }] },
      { role: "tool" as const, toolCallId: "c1", name: "request_input", content: "blue", isError: false },
      { role: "tool" as const, toolCallId: "c2", name: "read_file", content: "x", isError: false },
      { role: "assistant" as const, content: "", toolCalls: [{ id: "c3", name: "request_input", arguments: { question: " " } }] },
      { role: "tool" as const, toolCallId: "c3", name: "request_input", content: "Error: invalid arguments", isError: true },
      { role: "assistant" as const, content: "painted blue" },
    ];
    expect(historyOf({ id: "t-1", contextId: "c" }, conversation).map((m) => [m.role, m.parts[0]!.content!.value, m.messageId])).toEqual([
      [Role.ROLE_USER, "paint", "t-1:0"],
      [Role.ROLE_AGENT, "Which colour?", "t-1:1:c1"],
      [Role.ROLE_USER, "blue", "t-1:2"],
      [Role.ROLE_AGENT, "painted blue", "t-1:6"],
    ]);
  });

  it("reads text parts only, from the user", () => {
    expect(inputOf(msg([text("a"), text("b")]))).toBe("a\nb");
    expect(() => inputOf(undefined)).toThrow(RequestMalformedError);
    expect(() => inputOf(msg([text("  ")]))).toThrow(RequestMalformedError);
    expect(() => inputOf(msg([text("hi")], Role.ROLE_AGENT))).toThrow(RequestMalformedError);
    expect(() => inputOf(msg([{ content: { $case: "data", value: { a: 1 } }, metadata: undefined, filename: "", mediaType: "" }]))).toThrow(ContentTypeNotSupportedError);
    expect(() => inputOf(msg([text("{}", "application/json")]))).toThrow(ContentTypeNotSupportedError);
    expect(() => inputOf(msg([text("x".repeat(1_000_001))]))).toThrow(RequestMalformedError);
    expect(() => inputOf({ ...msg([text("x")]), messageId: "m".repeat(257) })).toThrow(RequestMalformedError);
    expect(() => checkOutputModes(["image/png"])).toThrow(ContentTypeNotSupportedError);
    expect(() => checkOutputModes(["text/plain", "image/png"])).not.toThrow();
    expect(() => checkOutputModes([])).not.toThrow();
  });
});

describe("following a task", () => {
  it("settle holds until the task ends or waits for input", async () => {
    const source = scripted([task("working", "t2"), task("input-required", "t3")]);
    expect((await settle(source, task("submitted", "t1"))).status.state).toBe("input-required");
    expect(source.holds).toBe(2);
    const quick = scripted([]);
    expect((await settle(quick, done())).status.state).toBe("completed");
    expect(quick.holds).toBe(0);
  });

  it("a change is told as new artifacts first, then the status", () => {
    expect(changeEvents(task("working", "t2"), done()).map((e) => e.payload?.$case)).toEqual(["artifactUpdate", "statusUpdate"]);
    expect(changeEvents(task("working", "t2"), task("working", "t2"))).toEqual([]);
  });

  it("streams each state change and the process's tool calls, and ends at the final state", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const call = (name: string, at: string) => `id: 3\nevent: tool_call\ndata: ${JSON.stringify({ seq: 3, at, id: "c1", name, arguments: {} })}\n\n`;
    const source = scripted([task("working", "t2"), done()], [call("old_tool", "2000-01-01T00:00:00.000Z"), call("write_file", new Date(Date.now() + 60_000).toISOString())]);
    // The tool call arrives while working (the source's second hold is delayed so it can).
    const slow: TaskSource = { next: async (seen, t) => (seen.state === "working" ? new Promise((r) => setTimeout(() => r(source.next(seen, t)), 50)) : source.next(seen, t)), events: source.events };
    const events = [];
    for await (const e of follow(slow, task("submitted", "t1"))) events.push(e);
    const described = events.map((e) => (e.payload?.$case === "statusUpdate" ? `status:${e.payload.value.status!.state}:${e.payload.value.status!.message?.parts[0]?.content?.value ?? ""}` : e.payload!.$case));
    // The two sources run side by side: the tool call and the kernel's `working` may come in either order.
    expect(described.slice(0, 2).sort()).toEqual([`status:${TaskState.TASK_STATE_WORKING}:`, `status:${TaskState.TASK_STATE_WORKING}:calling write_file`]);
    expect(described.slice(2)).toEqual(["artifactUpdate", `status:${TaskState.TASK_STATE_COMPLETED}:`]);
    expect(progressEvent(task("working", "t"), { event: "tool_call", data: JSON.stringify({ at: "2000-01-01", name: "x" }) }, since)).toBeNull();
    expect(progressEvent(task("working", "t"), { event: "turn", data: "{}" }, since)).toBeNull();
  });

  it("ends at once when the reader goes away, though the task goes on", async () => {
    const held: TaskSource = { next: () => new Promise(() => {}), events: async () => null };
    const gone = new AbortController();
    const events = follow(held, task("working", "t1"), gone.signal);
    const first = events.next();
    setTimeout(() => gone.abort(), 20);
    expect(await first).toEqual({ done: true, value: undefined });
    expect((await settle(held, task("input-required", "t1"), gone.signal)).status.state).toBe("input-required");
  });

  it("passes a failure of the kernel to the reader", async () => {
    const failing: TaskSource = { next: async () => Promise.reject(new Error("kernel gone")), events: async () => null };
    await expect(async () => {
      for await (const _ of follow(failing, task("working", "t1"))) void _;
    }).rejects.toThrow("kernel gone");
  });
});
