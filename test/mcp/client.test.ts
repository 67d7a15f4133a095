/**
 * The kernel's MCP client (src/mcp/client.ts) inside workerd, against the real MCP server of
 * test/support/mcp-server.mjs (the official SDK), started by test/global-setup.ts.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { McpClientError, openMcpSession, renderCallResult } from "../../src/mcp/client";
import { parseHostList } from "../../src/lib/net";

const allow = parseHostList(env.ALLOW_PRIVATE_HOSTS);
const origin = new URL(env.MCP_SERVER_URL).origin;
const conn = (url = env.MCP_SERVER_URL, headers: Record<string, string> = {}, timeoutMs = 5000) => ({ url, headers, timeoutMs });
const counters = async () => (await (await fetch(`${origin}/counters`)).json()) as { calls: Record<string, number>; launches: Record<string, number> };
const failure = async (p: Promise<unknown>): Promise<McpClientError> => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(McpClientError);
  return err as McpClientError;
};

describe("the MCP client against a real MCP server", () => {
  it("initializes, follows every page of tools/list and keeps schemas and annotations", async () => {
    const session = await openMcpSession(conn(), fetch, allow);
    try {
      expect(session.serverInfo.name).toBe("agent-kernel-fixture");
      const tools = await session.listAllTools();
      const names = tools.map((t) => t.name);
      // The fixture pages 4 tools at a time; 14 tools means 4 pages followed.
      expect(names).toEqual(expect.arrayContaining(["lookup", "set_flag", "launch", "explode", "hang", "strict", "snapshot", "echo", "note_4", "bad.name"]));
      expect(names.length).toBe(14);
      const strict = tools.find((t) => t.name === "strict")!;
      expect(strict.inputSchema).toMatchObject({ type: "object", required: ["mode", "count", "label"], additionalProperties: false });
      expect(tools.find((t) => t.name === "lookup")!.annotations).toEqual({ readOnlyHint: true });
      await expect(session.listAllTools({ maxTools: 5 })).rejects.toMatchObject({ kind: "too_large" });
      await expect(session.listAllTools({ maxPages: 2 })).rejects.toMatchObject({ kind: "too_large" });
    } finally {
      await session.close();
    }
  });

  it("calls tools: text, isError, images described, side effects counted once", async () => {
    const session = await openMcpSession(conn(), fetch, allow);
    try {
      const key = crypto.randomUUID();
      expect(renderCallResult(await session.callTool("launch", { key }))).toEqual({ ok: true, output: `launched ${key} (#1)` });
      expect((await counters()).launches[key]).toBe(1);
      expect(renderCallResult(await session.callTool("explode", {}))).toEqual({ ok: false, output: "boom: the explode tool always fails" });
      expect(renderCallResult(await session.callTool("snapshot", {}))).toEqual({ ok: true, output: "[image/png, 2311 bytes]\nsnapshot taken" });
      // An unknown tool is the server's error result (the SDK's McpServer answers isError).
      expect(renderCallResult(await session.callTool("no_such_tool", {})).ok).toBe(false);
    } finally {
      await session.close();
    }
  });

  it("times a hanging call out", async () => {
    const session = await openMcpSession(conn(), fetch, allow);
    try {
      const started = Date.now();
      const err = await failure(session.callTool("hang", {}, { timeoutMs: 300 }));
      expect(err.kind).toBe("timeout");
      expect(err.message).toContain("300 ms");
      expect(Date.now() - started).toBeLessThan(5000);
      // The session still works after a timed-out call.
      expect(renderCallResult(await session.callTool("echo", { text: "still here" })).output).toBe("still here");
      const aborted = new AbortController();
      const call = session.callTool("hang", {}, { signal: aborted.signal });
      aborted.abort();
      expect((await failure(call)).kind).toBe("aborted");
    } finally {
      await session.close();
    }
  });

  it("classifies 401, not-MCP, unreachable and refused URLs", async () => {
    const secure = `${origin}/secure/mcp`;
    const refused = await failure(openMcpSession(conn(secure, { Authorization: "Bearer wrong-secret-value" }), fetch, allow));
    expect(refused).toMatchObject({ kind: "unauthorized", code: 401 });
    expect(refused.message).not.toContain("wrong-secret-value");
    const ok = await openMcpSession(conn(secure, { Authorization: "Bearer fixture-secret-token" }), fetch, allow);
    expect((await ok.listAllTools()).length).toBe(14);
    await ok.close();

    expect((await failure(openMcpSession(conn(`${origin}/not-mcp`), fetch, allow))).kind).toBe("not_mcp");
    // A port nothing listens on (port 9 is discard; nothing runs there in the test environment).
    expect((await failure(openMcpSession(conn("http://127.0.0.1:9/mcp", {}, 3000), fetch, allow))).kind).toBe("unreachable");
    const blocked = await failure(openMcpSession(conn(), fetch, []));
    expect(blocked.kind).toBe("blocked_url");
    expect(blocked.message).toContain("ALLOW_PRIVATE_HOSTS");
    expect((await failure(openMcpSession(conn("ftp://example.com/mcp"), fetch, allow))).kind).toBe("blocked_url");
  });

  it("sends the connection's headers on every request", async () => {
    const seen: string[] = [];
    const spy = (input: string | URL | Request, init?: RequestInit) => {
      seen.push(new Headers(init?.headers).get("x-api-key") ?? "-");
      return fetch(input, init);
    };
    const session = await openMcpSession(conn(env.MCP_SERVER_URL, { "X-Api-Key": "k1" }), spy, allow);
    await session.listAllTools();
    await session.callTool("echo", { text: "x" });
    await session.close();
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(seen.every((v) => v === "k1")).toBe(true);
  });
});
