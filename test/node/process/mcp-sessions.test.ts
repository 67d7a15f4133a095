/**
 * A process's MCP sessions (src/process/tools/mcp.ts) against the real MCP server of
 * test/support/mcp-server.mjs, in Node: the server restarting (and so forgetting every session) is
 * something only a test that owns the server can do.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { McpToolBinding } from "../../../src/contracts/mcp";
import { McpSessions, mcpTool } from "../../../src/process/tools/mcp";
import type { ToolContext } from "../../../src/process/tools/types";
import { startMcpServer } from "../../support/mcp-server.mjs";

type Fixture = Awaited<ReturnType<typeof startMcpServer>>;
const servers: Fixture[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const start = async (port?: number) => {
  const s = await startMcpServer({ quiet: true, ...(port ? { port } : {}) });
  servers.push(s);
  return s;
};

const binding = (url: string, tool: string, annotations: McpToolBinding["annotations"] = {}): McpToolBinding => ({
  name: `mcp__fx__${tool}`,
  server: "fx",
  tool,
  description: tool,
  inputSchema: { type: "object" },
  annotations,
  connection: { url, headers: {}, timeoutMs: 5_000 },
});

/** Counts the sessions the client opens, by counting `initialize` requests. */
function countingFetch() {
  let initializes = 0;
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit) => {
    if (typeof init?.body === "string" && init.body.includes('"method":"initialize"')) initializes++;
    return fetch(input, init);
  };
  return { fetchImpl, initializes: () => initializes };
}

describe("MCP sessions against the real server", () => {
  it("reuse one session; after the server restarts (404 on the old session) open a new one and send the call once", async () => {
    const first = await start();
    const port = Number(new URL(first.url).port);
    const { fetchImpl, initializes } = countingFetch();
    const sessions = McpSessions.over(fetchImpl, ["127.0.0.1"]);
    const launch = mcpTool(binding(first.url, "launch", { destructiveHint: true }), sessions);
    const run = (key: string) => launch.run({ id: key, name: launch.name, arguments: { key } }, { timeoutMs: 5_000 } as ToolContext);

    expect(await run("a")).toEqual({ ok: true, output: "launched a (#1)" });
    expect(await run("b")).toEqual({ ok: true, output: "launched b (#1)" });
    expect(initializes()).toBe(1);

    // The server restarts on the same port: every session it knew is gone. (The pause lets the
    // client's connection pool see its old connections closed, so the next request is a clean one.)
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    await new Promise((r) => setTimeout(r, 200));
    const second = await start(port);
    expect(await run("c")).toEqual({ ok: true, output: "launched c (#1)" });
    expect(initializes()).toBe(2);
    // The call refused for the expired session never ran there; the one on the new session ran once.
    expect(second.counters.launches).toEqual({ c: 1 });
    expect(second.counters.calls.launch).toBe(1);
  });

  it("a server that is down is an mcp_unreachable result; once it is back the next call connects again", async () => {
    const first = await start();
    const port = Number(new URL(first.url).port);
    await first.close();
    servers.splice(servers.indexOf(first), 1);
    const sessions = McpSessions.over(fetch, ["127.0.0.1"]);
    const lookup = mcpTool(binding(first.url, "lookup", { readOnlyHint: true }), sessions);
    const run = () => lookup.run({ id: "x", name: lookup.name, arguments: { query: "q" } }, { timeoutMs: 5_000 } as ToolContext);
    const down = await run();
    expect(down).toMatchObject({ ok: false, failure: { code: "tool_error", cause: "mcp_unreachable" } });
    await start(port);
    expect(await run()).toEqual({ ok: true, output: "found: q" });
  });
});
