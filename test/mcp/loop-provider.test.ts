/**
 * An MCP tool over a real provider's wire (SPEC §10 "Schemas"): the fake OpenAI server of
 * test/providers sees the MCP server's own JSON Schema as the tool's `parameters`, asks for a call,
 * and gets the real MCP server's answer back as the tool message.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openMcpSession } from "../../src/mcp/client";
import { parseHostList } from "../../src/lib/net";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";
import { fakeLog, modelId, release } from "../providers/helpers";

describe("openai: an MCP tool on the wire", () => {
  it("offers the server's schema as the function's parameters and round-trips a call to the MCP server", async () => {
    const api = client(freshTenant());
    expect((await api.put("/v1/mcp/fx", { url: env.MCP_SERVER_URL, tools: ["lookup", "strict"] })).status).toBeLessThan(300);
    const model = modelId("mcp-roundtrip");
    await register(api, "researcher", { model: `openai:${model}`, tools: ["mcp__fx__*", "read_file"], systemPrompt: "You look things up." });
    const p = await spawn(api, "researcher", "look it up");
    const status = await waitExit(api, p.pid);
    expect(status).toMatchObject({ exited: true, code: 0, result: "done: found: over the wire" });

    // What the server itself says of its tools, straight from tools/list.
    const session = await openMcpSession({ url: env.MCP_SERVER_URL, headers: {}, timeoutMs: 5000 }, fetch, parseHostList(env.ALLOW_PRIVATE_HOSTS));
    const listed = await session.listAllTools();
    await session.close();
    const own = (name: string) => {
      const { $schema: _, ...schema } = listed.find((t) => t.name === name)!.inputSchema;
      return schema;
    };

    const log = await fakeLog("openai", model);
    expect(log).toHaveLength(2);
    const [first, second] = log as [any, any];
    const offered = Object.fromEntries(first.body.tools.map((t: any) => [t.function.name, t.function]));
    expect(Object.keys(offered).sort()).toEqual(["mcp__fx__lookup", "mcp__fx__strict", "read_file"]);
    expect(offered.mcp__fx__strict.parameters).toEqual(own("strict"));
    expect(offered.mcp__fx__strict.parameters).toMatchObject({ required: ["mode", "count", "label"], additionalProperties: false });
    expect(offered.mcp__fx__lookup.parameters).toEqual(own("lookup"));
    expect(offered.mcp__fx__lookup.description).toBe(listed.find((t) => t.name === "lookup")!.description);

    const call = first.reply.answer.toolCalls[0];
    expect(call).toMatchObject({ name: "mcp__fx__lookup", arguments: { query: "over the wire" } });
    const messages = second.body.messages;
    expect(messages.map((m: any) => m.role)).toEqual(["system", "user", "assistant", "tool"]);
    expect(messages[2].tool_calls).toEqual([{ id: call.id, type: "function", function: { name: "mcp__fx__lookup", arguments: JSON.stringify(call.arguments) } }]);
    expect(messages[3]).toEqual({ role: "tool", tool_call_id: call.id, content: "found: over the wire" });
  });

  it("a refresh is seen from the next model call: the tool the server no longer exposes is no longer offered", async () => {
    const api = client(freshTenant());
    expect((await api.put("/v1/mcp/fx", { url: env.MCP_SERVER_URL, tools: ["lookup", "strict"] })).status).toBeLessThan(300);
    const model = modelId("gated-mcp-roundtrip");
    await register(api, "researcher", { model: `openai:${model}`, tools: ["mcp__fx__*"] });
    const p = await spawn(api, "researcher", "look it up");
    expect(p.tools.sort()).toEqual(["mcp__fx__lookup", "mcp__fx__strict"]);
    // The first model call is on the wire (and held): narrow what the server exposes, then let it answer.
    for (let i = 0; (await fakeLog("openai", model)).length === 0; i++) {
      if (i > 400) throw new Error("the first model call never came");
      await new Promise((r) => setTimeout(r, 25));
    }
    expect((await api.put("/v1/mcp/fx", { url: env.MCP_SERVER_URL, tools: ["lookup"] })).status).toBeLessThan(300);
    await release("openai", model);
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "done: found: over the wire" });
    const [first, second] = (await fakeLog("openai", model)) as [any, any];
    expect(first.body.tools.map((t: any) => t.function.name).sort()).toEqual(["mcp__fx__lookup", "mcp__fx__strict"]);
    expect(second.body.tools.map((t: any) => t.function.name)).toEqual(["mcp__fx__lookup"]);
  });
});
