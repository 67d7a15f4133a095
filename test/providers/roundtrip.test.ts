import { describe, expect, it } from "vitest";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";
import { fakeLog, modelId, readEvents, release, untilLog, type ProviderKey } from "./helpers";

/** The tool names a request offered, in each wire format. */
const offered = (provider: ProviderKey, body: any): string[] =>
  (body.tools ?? []).map((t: any) => (provider === "anthropic" ? t.name : t.function.name)).sort();

describe.each<ProviderKey>(["openai", "openai-compatible", "anthropic"])("%s: tool calling", (provider) => {
  it("round-trips a write_file call with its id, sending only the effective tools' schemas", async () => {
    const api = client(freshTenant());
    const model = modelId("tool-roundtrip");
    await register(api, "writer", { model: `${provider}:${model}`, tools: ["write_file", "read_file"], systemPrompt: "You write files." });
    const p = await spawn(api, "writer", "write the file");
    expect([...p.tools].sort()).toEqual(["read_file", "write_file"]);

    const status = await waitExit(api, p.pid);
    expect(status).toMatchObject({ exited: true, code: 0, reason: "completed" });
    expect(status.result).toBe(`done: wrote ${`written by ${provider}`.length} bytes to /out/${provider}.txt`);
    expect(await (await api.call("GET", `/v1/fs/out/${provider}.txt`)).text()).toBe(`written by ${provider}`);

    const log = await fakeLog(provider, model);
    expect(log).toHaveLength(2);
    const [first, second] = log as [any, any];
    const call = first.reply.answer.toolCalls[0];

    // Both requests: streamed, the system prompt, exactly the effective tools with their JSON schemas.
    for (const entry of log) {
      expect(entry.body.stream).toBe(true);
      expect(offered(provider, entry.body)).toEqual(["read_file", "write_file"]);
    }
    if (provider === "anthropic") {
      expect(first.body.system).toEqual([{ type: "text", text: "You write files." }]);
      const write = first.body.tools.find((t: any) => t.name === "write_file");
      expect(write.input_schema).toMatchObject({ type: "object", properties: { path: { type: "string" }, content: { type: "string" } } });
      expect(first.headers["x-api-key"]).toBeDefined();
      expect(first.headers["anthropic-version"]).toBeDefined();
      // The assistant's tool_use kept with its id, then the tool_result with the matching tool_use_id.
      const [user, assistant, results] = second.body.messages;
      expect(user).toEqual({ role: "user", content: [{ type: "text", text: "write the file" }] });
      expect(assistant.role).toBe("assistant");
      expect(assistant.content).toContainEqual(expect.objectContaining({ type: "tool_use", id: call.id, name: "write_file", input: call.arguments }));
      expect(results.role).toBe("user");
      expect(results.content).toEqual([
        expect.objectContaining({ type: "tool_result", tool_use_id: call.id, content: `wrote ${`written by ${provider}`.length} bytes to /out/${provider}.txt` }),
      ]);
    } else {
      expect(first.body.messages[0]).toEqual({ role: "system", content: "You write files." });
      const write = first.body.tools.find((t: any) => t.function.name === "write_file");
      expect(write.type).toBe("function");
      expect(write.function.parameters).toMatchObject({ type: "object", properties: { path: { type: "string" }, content: { type: "string" } } });
      expect(first.headers.authorization).toMatch(/^Bearer /);
      const messages = second.body.messages;
      expect(messages.map((m: any) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
      expect(messages[2].tool_calls).toEqual([{ id: call.id, type: "function", function: { name: "write_file", arguments: JSON.stringify(call.arguments) } }]);
      expect(messages[3]).toEqual({ role: "tool", tool_call_id: call.id, content: `wrote ${`written by ${provider}`.length} bytes to /out/${provider}.txt` });
    }

    // Usage from the provider feeds the process's usage.
    const proc = (await api.get(`/v1/procs/${p.pid}`)).body;
    expect(proc.usage).toMatchObject({ inputTokens: 30 + 40, outputTokens: 12 + 8, toolCalls: 1 });
  });

  it("streams text deltas to GET /v1/procs/:pid/events as they arrive", async () => {
    const api = client(freshTenant());
    const model = modelId("gated-text");
    await register(api, "talker", { model: `${provider}:${model}` });
    const p = await spawn(api, "talker");
    const res = await api.call("GET", `/v1/procs/${p.pid}/events`);
    expect(res.status).toBe(200);
    // Subscribed: now let the fake stream its answer.
    await untilLog(provider, model, (log) => log.length === 1);
    await release(provider, model);
    const events = await readEvents(res, (e) => e.event === "exit");
    const deltas = events.filter((e) => e.event === "model" && typeof e.data.delta === "string");
    expect(deltas.map((e) => e.data.delta)).toEqual(["Streamed", " by", ` ${provider}`, "."]);
    // Live deltas carry no id (they are not persisted); the persisted model event with the whole text follows them.
    expect(deltas.every((e) => e.id === null)).toBe(true);
    const final = events.findIndex((e) => e.event === "model" && e.data.text === `Streamed by ${provider}.`);
    expect(final).toBeGreaterThan(events.indexOf(deltas.at(-1)!));
    // Spaced out by the server, they arrived as separate reads, not in one piece at the end.
    expect(deltas.at(-1)!.receivedAt - deltas[0]!.receivedAt).toBeGreaterThanOrEqual(20);
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: `Streamed by ${provider}.` });
  });
});

describe("usage and budgets", () => {
  it.each<ProviderKey>(["openai", "anthropic"])("%s: provider-reported usage exhausts the token budget (exit 3)", async (provider) => {
    const api = client(freshTenant());
    const model = modelId("usage");
    await register(api, "spender", { model: `${provider}:${model}`, budget: { tokens: 1000 } });
    const p = await spawn(api, "spender");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 3, reason: "budget exhausted", result: "final answer within budget" });
    const log = await fakeLog(provider, model);
    // 700 tokens, then 1400 ≥ 1000: the last call offers no tools and carries the history as text.
    expect(log).toHaveLength(3);
    expect(offered(provider, log[0]!.body)).toHaveLength(6);
    expect(log[2]!.body.tools).toBeUndefined();
    expect(JSON.stringify(log[2]!.body.messages)).toContain("[called list_dir");
    const proc = (await api.get(`/v1/procs/${p.pid}`)).body;
    expect(proc.usage).toMatchObject({ inputTokens: 600 + 600 + 50, outputTokens: 100 + 100 + 10, toolCalls: 2 });
    expect(proc.budget.used.tokens).toBe(1460);
  });
});
