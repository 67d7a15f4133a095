/**
 * The provider models called directly (no agent loop): the non-streaming wire formats, abort at the
 * model level, Workers AI through a stand-in binding, and the pure mapping helpers.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AgentSpec, type Message } from "../../src/contracts";
import type { Env } from "../../src/env";
import { createModel, ModelError, type ModelRequest, type ToolSchema } from "../../src/models";
import { redact, retryAfterMs, toModelError } from "../../src/models/errors";
import { toArguments, toModelMessages } from "../../src/models/messages";
import { toolSchemas } from "../../src/agent/tool-schemas";
import { fakeLog, modelId, untilLog, type ProviderKey } from "./helpers";
import { rejection } from "../support/promises";

const spec = (model: string) => AgentSpec.parse({ name: "m", model });
const request = (messages: Message[], over: Partial<ModelRequest> = {}): ModelRequest => ({
  system: "sys",
  messages,
  tools: toolSchemas(["write_file", "read_file"]),
  signal: new AbortController().signal,
  ...over,
});
const user = (content: string): Message => ({ role: "user", content });


describe.each<ProviderKey>(["openai", "anthropic", "openai-compatible"])("%s without onTextDelta: one JSON answer", (provider) => {
  it("maps a tool call and the usage back, and the tool result forward with its id", async () => {
    const id = modelId("tool-roundtrip");
    const model = createModel(spec(`${provider}:${id}`), env);
    const first = await model.generate(request([user("go")]), 0);
    expect(first.text).toBe("");
    expect(first.toolCalls).toEqual([{ id: expect.any(String), name: "write_file", arguments: { path: `/out/${provider}.txt`, content: `written by ${provider}` } }]);
    expect(first.usage).toEqual({ inputTokens: 30, outputTokens: 12 });
    const call = first.toolCalls[0]!;
    const second = await model.generate(
      request([user("go"), { role: "assistant", content: "", toolCalls: [call] }, { role: "tool", toolCallId: call.id, name: call.name, content: "wrote 3 bytes", isError: false }]),
      1,
    );
    expect(second).toEqual({ text: "done: wrote 3 bytes", toolCalls: [], usage: { inputTokens: 40, outputTokens: 8 } });
    const log = await fakeLog(provider, id);
    expect(log.map((e) => e.body.stream ?? false)).toEqual([false, false]);
    expect(log[0]!.reply?.answer?.toolCalls[0]?.id).toBe(call.id);
    expect(JSON.stringify(log[1]!.body.messages)).toContain(call.id);
  });

  it("malformed JSON and missing fields are retryable ModelErrors (502)", async () => {
    for (const behaviour of ["malformed", "missing-fields"]) {
      const err = await rejection(createModel(spec(`${provider}:${modelId(behaviour)}`), env).generate(request([user("go")]), 0));
      expect(err).toBeInstanceOf(ModelError);
      expect(err).toMatchObject({ status: 502, retryable: true });
      expect((err as ModelError).message).toMatch(new RegExp(`^${provider}: invalid response: `));
    }
  });

  it("HTTP errors keep the status, the provider's message and retry-after", async () => {
    const e500 = await rejection(createModel(spec(`${provider}:${modelId("fail-500")}`), env).generate(request([user("go")]), 0));
    expect(e500).toMatchObject({ status: 500, retryable: true, retryAfterMs: null, message: `${provider}: 500 Internal Server Error: upstream exploded` });
    const e429 = await rejection(createModel(spec(`${provider}:${modelId("fail-429")}`), env).generate(request([user("go")]), 0));
    expect(e429).toMatchObject({ status: 429, retryable: true, retryAfterMs: 1000 });
    const e400 = await rejection(createModel(spec(`${provider}:${modelId("fail-400")}`), env).generate(request([user("go")]), 0));
    expect(e400).toMatchObject({ status: 400, retryable: false, message: `${provider}: 400 Bad Request: messages: bad shape` });
  });
});

describe("abort and timeout at the model level", () => {
  it.each([true, false])("the request's signal closes the connection (streaming: %s)", async (streaming) => {
    const id = modelId("hang");
    const abort = new AbortController();
    const pending = createModel(spec(`openai:${id}`), env).generate(request([user("go")], { signal: abort.signal, ...(streaming ? { onTextDelta: () => {} } : {}) }), 0);
    await untilLog("openai", id, (log) => log.length === 1);
    abort.abort(new Error("killed"));
    expect(await rejection(pending)).toMatchObject({ message: "killed" });
    await untilLog("openai", id, (log) => log[0]!.closedEarly, 5_000);
  });

  it("MODEL_TIMEOUT_MS turns silence into a retryable 504", async () => {
    const id = modelId("hang");
    const started = Date.now();
    const err = await rejection(createModel(spec(`anthropic:${id}`), { ...env, MODEL_TIMEOUT_MS: "300" }).generate(request([user("go")], { onTextDelta: () => {} }), 0));
    expect(err).toMatchObject({ status: 504, retryable: true, message: "anthropic: timed out: no answer within 300 ms (MODEL_TIMEOUT_MS)" });
    expect(Date.now() - started).toBeLessThan(5_000);
    await untilLog("anthropic", id, (log) => log[0]!.closedEarly, 5_000);
  });

  it("a stream that keeps sending is not cut by the timeout (it bounds silence, not length)", async () => {
    // The fake sends a piece every 100 ms: over a second in all, five times the timeout.
    const deltas: string[] = [];
    const started = Date.now();
    const answer = await createModel(spec(`openai:${modelId("drip")}`), { ...env, MODEL_TIMEOUT_MS: "500" }).generate(request([user("hi")], { onTextDelta: (d) => deltas.push(d) }), 0);
    expect(Date.now() - started).toBeGreaterThan(500);
    expect(answer.text).toBe("12345678");
    expect(deltas).toEqual(["1", "2", "3", "4", "5", "6", "7", "8"]);
  });
});

describe("errors inside a stream", () => {
  it.each<[ProviderKey, number, string]>([
    ["openai", 500, "openai: server_error: The server had an error while processing your request."],
    ["anthropic", 529, "anthropic: overloaded_error: Overloaded"],
  ])("%s: an error event after some text fails the call with a retryable %i", async (provider, status, message) => {
    const deltas: string[] = [];
    const err = await rejection(createModel(spec(`${provider}:${modelId("midstream-error")}`), env).generate(request([user("go")], { onTextDelta: (d) => deltas.push(d) }), 0));
    expect(err).toBeInstanceOf(ModelError);
    expect(err).toMatchObject({ status, retryable: true, message });
    expect(deltas).toEqual(["partial"]);
  });
});

describe("workers-ai through the AI binding", () => {
  /** A stand-in for the Workers AI binding that records its calls. */
  function fakeAi(answer: (inputs: any) => unknown) {
    const calls: Array<{ model: string; inputs: any }> = [];
    const ai = {
      run: async (model: string, inputs: any) => {
        calls.push({ model, inputs });
        return answer(inputs);
      },
    };
    return { calls, env: { ...env, AI: ai as unknown as Ai } as Env };
  }

  it("streams text deltas and reads usage", async () => {
    const sse = ['data: {"response":"Hi"}\n\n', 'data: {"response":" there"}\n\n', 'data: {"response":"","usage":{"prompt_tokens":7,"completion_tokens":2}}\n\n', "data: [DONE]\n\n"];
    const { calls, env: e } = fakeAi(() => new ReadableStream({ start: (c) => (sse.forEach((s) => c.enqueue(new TextEncoder().encode(s))), c.close()) }));
    const deltas: string[] = [];
    const answer = await createModel(spec("workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast"), e).generate(request([user("hello")], { onTextDelta: (d) => deltas.push(d) }), 0);
    expect(answer).toEqual({ text: "Hi there", toolCalls: [], usage: { inputTokens: 7, outputTokens: 2 } });
    expect(deltas).toEqual(["Hi", " there"]);
    expect(calls[0]).toMatchObject({ model: "@cf/meta/llama-3.3-70b-instruct-fp8-fast", inputs: { stream: true } });
    expect(calls[0]!.inputs.tools.map((t: any) => t.function.name).sort()).toEqual(["read_file", "write_file"]);
  });

  it("returns tool calls and sends results back with their ids", async () => {
    const { calls, env: e } = fakeAi(() => ({
      response: null,
      tool_calls: [{ id: "chatcmpl-tool-1", type: "function", function: { name: "read_file", arguments: '{"path":"/a.txt"}' } }],
      usage: { prompt_tokens: 11, completion_tokens: 5 },
    }));
    const model = createModel(spec("workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast"), e);
    const first = await model.generate(request([user("read it")]), 0);
    // The provider package makes the binding's ids unique (it appends a suffix); they round-trip as given.
    const id = first.toolCalls[0]!.id;
    expect(id.startsWith("chatcmpl-tool-1")).toBe(true);
    expect(first).toEqual({ text: "", toolCalls: [{ id, name: "read_file", arguments: { path: "/a.txt" } }], usage: { inputTokens: 11, outputTokens: 5 } });
    await model.generate(request([user("read it"), { role: "assistant", content: "", toolCalls: first.toolCalls }, { role: "tool", toolCallId: id, name: "read_file", content: "abc", isError: false }]), 1);
    const sent = calls[1]!.inputs.messages;
    const sentId = sent.find((m: any) => m.role === "assistant").tool_calls[0].id;
    expect(sentId.startsWith("chatcmpl-tool-1")).toBe(true);
    expect(sent.find((m: any) => m.role === "assistant").tool_calls[0]).toMatchObject({ function: { name: "read_file" } });
    expect(sent.find((m: any) => m.role === "tool")).toMatchObject({ tool_call_id: sentId, content: "abc" });
  });

  it("binding errors become ModelErrors (capacity → 429)", async () => {
    const { env: e } = fakeAi(() => {
      throw new Error("InferenceUpstreamError: 3040: Capacity temporarily exceeded");
    });
    const err = await rejection(createModel(spec("workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast"), e).generate(request([user("x")]), 0));
    expect(err).toMatchObject({ status: 429, retryable: true });
    expect((err as Error).message).toMatch(/^workers-ai: 429 Too Many Requests: .*Capacity temporarily exceeded/);
  });
});

describe("message mapping", () => {
  const call = (id: string, name = "read_file") => ({ id, name, arguments: { path: `/${id}` } });
  const result = (id: string, content: string, isError = false): Message => ({ role: "tool", toolCallId: id, name: "read_file", content, isError });

  it("keeps each call's results right after it, moving a user message that landed between them", () => {
    const out = toModelMessages([user("go"), { role: "assistant", content: "looking", toolCalls: [call("a"), call("b")] }, result("a", "A"), user("hurry"), result("b", "B", true)], true);
    expect(out).toEqual([
      { role: "user", content: "go" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "looking" },
          { type: "tool-call", toolCallId: "a", toolName: "read_file", input: { path: "/a" } },
          { type: "tool-call", toolCallId: "b", toolName: "read_file", input: { path: "/b" } },
        ],
      },
      {
        role: "tool",
        content: [
          { type: "tool-result", toolCallId: "a", toolName: "read_file", output: { type: "text", value: "A" } },
          { type: "tool-result", toolCallId: "b", toolName: "read_file", output: { type: "error-text", value: "B" } },
        ],
      },
      { role: "user", content: "hurry" },
    ]);
  });

  it("answers a call with no recorded result, turns an orphan result into text, drops empty assistant messages", () => {
    const out = toModelMessages([user("go"), result("zz", "stray"), { role: "assistant", content: "" }, { role: "assistant", content: "", toolCalls: [call("a")] }], true);
    expect(out[1]).toEqual({ role: "user", content: "[result of read_file]\nstray" });
    expect(out).toHaveLength(4);
    expect(out[3]).toMatchObject({ role: "tool", content: [{ toolCallId: "a", output: { type: "error-text" } }] });
  });

  it("renders tool traffic as text when the call offers no tools", () => {
    const out = toModelMessages([user("go"), { role: "assistant", content: "", toolCalls: [call("a")] }, result("a", "A")], false);
    expect(out).toEqual([
      { role: "user", content: "go" },
      { role: "assistant", content: '[called read_file {"path":"/a"}]' },
      { role: "user", content: "[result of read_file]\nA" },
    ]);
  });

  it("tool inputs become argument objects, broken ones an empty object", () => {
    expect(toArguments({ a: 1 })).toEqual({ a: 1 });
    expect(toArguments('{"a":1}')).toEqual({ a: 1 });
    expect(toArguments("{broken")).toEqual({});
    expect(toArguments("[1]")).toEqual({});
    expect(toArguments("")).toEqual({});
  });

  it("tool schemas go out as given", () => {
    const tools: ToolSchema[] = toolSchemas(["glob"]);
    expect(tools[0]!.parameters).toMatchObject({ type: "object" });
  });
});

describe("errors", () => {
  it("redacts configured keys, bearer tokens, key-shaped strings and URL credentials", () => {
    const text = 'bad key Bearer abcdef123456 and sk-proj-AAAAAAAAAAAA, {"x-api-key": "my-own-secret-value"}, custom-key-1234 at https://u:pw@host/x';
    const out = redact(text, ["custom-key-1234"]);
    for (const secret of ["abcdef123456", "sk-proj-AAAAAAAAAAAA", "my-own-secret-value", "custom-key-1234", "u:pw"]) expect(out).not.toContain(secret);
    expect(out).toContain("Bearer [redacted]");
  });

  it("reads retry-after-ms, retry-after seconds and HTTP dates", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(retryAfterMs({ "retry-after-ms": "250" }, now)).toBe(250);
    expect(retryAfterMs({ "retry-after": "3" }, now)).toBe(3000);
    expect(retryAfterMs({ "Retry-After": "1.5" }, now)).toBe(1500);
    expect(retryAfterMs({ "retry-after": "Thu, 01 Jan 2026 00:00:05 GMT" }, now)).toBe(5000);
    expect(retryAfterMs({ "retry-after": "Wed, 31 Dec 2025 23:59:00 GMT" }, now)).toBe(0);
    expect(retryAfterMs({ "retry-after": "soon" }, now)).toBeNull();
    expect(retryAfterMs(undefined, now)).toBeNull();
  });

  it("maps stream error events and unknown failures", () => {
    expect(toModelError("anthropic", { type: "overloaded_error", message: "Overloaded" }, [])).toMatchObject({ status: 529, message: "anthropic: overloaded_error: Overloaded" });
    expect(toModelError("openai", new TypeError("Network connection lost."), [])).toMatchObject({ status: 502, retryable: true });
    expect(toModelError("openai", new Error("something odd sk-live-123456789"), [])).toMatchObject({ status: null, message: "openai: something odd [redacted]" });
  });
});
