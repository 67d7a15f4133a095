import { describe, expect, it } from "vitest";
import { AuditLog } from "../../../src/kernel/audit-log";
import { buildCatalogue, MAX_MCP_SERVERS, MAX_SCHEMA_CHARS, McpRegistry, type McpConnect } from "../../../src/kernel/mcp-registry";
import { migrate } from "../../../src/kernel/schema";
import { McpClientError, scrubSecrets, type McpListedTool, type McpSession } from "../../../src/mcp/client";
import { unknownToolPatterns } from "../../../src/agent/capabilities";
import { inheritedGrant } from "../../../src/kernel/grants";
import { AgentSpec } from "../../../src/contracts";
import { memoryStore } from "../support/sqlite";

const tool = (name: string, extra: Partial<McpListedTool> = {}): McpListedTool => ({ name, description: `${name} tool`, inputSchema: { type: "object", properties: {} }, annotations: {}, ...extra });

/** A fake server: its tools can change, and each listing can be held until released. */
function fakeServer(initial: McpListedTool[]) {
  const state = { tools: initial, fail: null as McpClientError | null, hold: null as Promise<void> | null, opened: 0, closed: 0, seen: [] as { url: string; headers: Record<string, string> }[] };
  const connect: McpConnect = async (conn) => {
    state.seen.push({ url: conn.url, headers: conn.headers });
    if (state.fail) throw state.fail;
    state.opened++;
    const hold = state.hold;
    const tools = state.tools;
    const session: McpSession = {
      serverInfo: { name: "fake", version: "9" },
      async listAllTools() {
        if (hold) await hold;
        return tools;
      },
      async callTool() {
        throw new Error("not here");
      },
      async close() {
        state.closed++;
      },
    };
    return session;
  };
  return { state, connect };
}

function registry(connect: McpConnect) {
  const store = memoryStore();
  migrate(store);
  const audit = new AuditLog(store);
  return { store, audit, mcp: new McpRegistry(store, audit, connect) };
}

const config = (extra: Partial<{ url: string; headers: Record<string, string>; tools: string[]; timeoutMs: number }> = {}) => ({ url: "https://mcp.example.com/mcp", headers: {}, tools: ["*"], timeoutMs: 1000, ...extra });

describe("buildCatalogue", () => {
  it("names tools mcp__<server>__<tool>, applies the globs and skips what providers or validators cannot take", () => {
    const out = buildCatalogue(
      "gh",
      [
        tool("search_issues", { annotations: { readOnlyHint: true, title: "Search", destructiveHint: "yes" } }),
        tool("create_issue"),
        tool("bad name"),
        tool("x".repeat(60)),
        tool("search_issues"),
        tool("weird", { inputSchema: { type: "string" } }),
        tool("huge", { inputSchema: { type: "object", description: "d".repeat(MAX_SCHEMA_CHARS) } }),
        tool("long_desc", { description: "y".repeat(5000) }),
      ],
      ["search_*", "long_desc"],
    );
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expect(out.value.tools.map((t) => [t.name, t.exposed])).toEqual([
      ["mcp__gh__search_issues", true],
      ["mcp__gh__create_issue", false],
      ["mcp__gh__long_desc", true],
    ]);
    // Only the four boolean hints are kept.
    expect(out.value.tools[0]!.annotations).toEqual({ readOnlyHint: true });
    expect(out.value.tools[2]!.description.length).toBe(4097);
    expect(out.value.skipped.map((s) => s.tool)).toEqual(["bad name", "x".repeat(60), "search_issues", "weird", "huge"]);
    expect(out.value.skipped.map((s) => s.reason)).toEqual([
      expect.stringContaining("characters other than"),
      expect.stringContaining("longer than 64"),
      "the server lists it twice",
      expect.stringContaining('type "string"'),
      expect.stringContaining("at most"),
    ]);
  });

  it("refuses a catalogue over the size cap with 422 limit_exceeded", () => {
    const big = Array.from({ length: 40 }, (_, i) => tool(`t${i}`, { inputSchema: { type: "object", description: "z".repeat(30_000) } }));
    const out = buildCatalogue("s", big, ["*"]);
    expect(out).toMatchObject({ ok: false, error: { status: 422, code: "limit_exceeded", details: { limit: "mcp_catalogue" } } });
  });
});

describe("scrubSecrets", () => {
  it("blanks header values and their words out of a message", () => {
    expect(scrubSecrets("server said: invalid token sk-123456 for Bearer sk-123456; use a Bearer token", { Authorization: "Bearer sk-123456" })).toBe("server said: invalid token *** for ***; use a Bearer token");
    expect(scrubSecrets("abc", { a: "ab" })).toBe("abc");
  });
});

describe("McpRegistry", () => {
  it("stores nothing when the server cannot be reached, and the cause is free of header values", async () => {
    const fake = fakeServer([tool("a")]);
    fake.state.fail = new McpClientError("unauthorized", "The server refused connecting: HTTP 401 (bad key s3cr3t-value).", 401);
    const { mcp, audit } = registry(fake.connect);
    const out = await mcp.register("x", config({ headers: { "X-Key": "s3cr3t-value" } }), "test");
    expect(out).toMatchObject({ ok: false, error: { status: 422, code: "mcp_unreachable", details: { kind: "unauthorized", code: 401 } } });
    expect(JSON.stringify(out)).not.toContain("s3cr3t-value");
    expect(mcp.find("x").ok).toBe(false);
    expect(audit.page(0, 10)).toEqual([]);
    fake.state.fail = new McpClientError("too_large", "The server lists more than 256 tools.");
    expect(await mcp.register("x", config(), "test")).toMatchObject({ ok: false, error: { status: 422, code: "limit_exceeded", details: { limit: "mcp_tools" } } });
  });

  it("closes every session it opens", async () => {
    const fake = fakeServer([tool("a")]);
    const { mcp } = registry(fake.connect);
    await mcp.register("x", config(), "t");
    await mcp.refresh("x", "t");
    expect([fake.state.opened, fake.state.closed]).toEqual([2, 2]);
  });

  it("binds exposed tools with their connection; others are absent; removal empties them", async () => {
    const fake = fakeServer([tool("a", { annotations: { idempotentHint: true } }), tool("b")]);
    const { mcp } = registry(fake.connect);
    expect((await mcp.register("srv", config({ headers: { Authorization: "Bearer k" }, tools: ["a"] }), "t")).ok).toBe(true);
    expect(mcp.exposedNames()).toEqual(["mcp__srv__a"]);
    expect(mcp.bindings(["mcp__srv__a", "mcp__srv__b", "mcp__nope__a", "read_file"])).toEqual([
      {
        name: "mcp__srv__a",
        server: "srv",
        tool: "a",
        description: "a tool",
        inputSchema: { type: "object", properties: {} },
        annotations: { idempotentHint: true },
        connection: { url: "https://mcp.example.com/mcp", headers: { Authorization: "Bearer k" }, timeoutMs: 1000 },
      },
    ]);
    // Many names at once (more than SQLite binds in one statement).
    expect(mcp.bindings(Array.from({ length: 500 }, (_, i) => (i === 250 ? "mcp__srv__a" : `mcp__x__${i}`))).map((b) => b.name)).toEqual(["mcp__srv__a"]);
    expect(mcp.remove("srv", "t").ok).toBe(true);
    expect(mcp.bindings(["mcp__srv__a"])).toEqual([]);
    expect(mcp.exposedNames()).toEqual([]);
  });

  it("a refresh overtaken by a new registration is refused (409), not written over it", async () => {
    const fake = fakeServer([tool("a")]);
    const { mcp } = registry(fake.connect);
    await mcp.register("srv", config(), "t");
    let release!: () => void;
    fake.state.hold = new Promise<void>((r) => (release = r));
    const refreshing = mcp.refresh("srv", "t");
    fake.state.hold = null;
    fake.state.tools = [tool("b")];
    expect((await mcp.register("srv", config({ url: "https://other.example.com/mcp" }), "t")).ok).toBe(true);
    release();
    expect(await refreshing).toMatchObject({ ok: false, error: { status: 409, code: "conflict" } });
    expect(mcp.exposedNames()).toEqual(["mcp__srv__b"]);
  });

  it("a refresh of a server removed meanwhile answers 404 and writes nothing", async () => {
    const fake = fakeServer([tool("a")]);
    const { mcp } = registry(fake.connect);
    await mcp.register("srv", config(), "t");
    let release!: () => void;
    fake.state.hold = new Promise<void>((r) => (release = r));
    const refreshing = mcp.refresh("srv", "t");
    mcp.remove("srv", "t");
    release();
    expect(await refreshing).toMatchObject({ ok: false, error: { status: 404 } });
    expect(mcp.exposedNames()).toEqual([]);
  });

  it("caps the number of servers per tenant", async () => {
    const fake = fakeServer([tool("a")]);
    const { mcp } = registry(fake.connect);
    for (let i = 0; i < MAX_MCP_SERVERS; i++) expect((await mcp.register(`s${i}`, config(), "t")).ok).toBe(true);
    expect(await mcp.register("one-more", config(), "t")).toMatchObject({ ok: false, error: { status: 422, code: "limit_exceeded", details: { limit: "mcp_servers" } } });
    // Replacing one that exists is not a new one.
    expect((await mcp.register("s0", config(), "t")).ok).toBe(true);
  });

  it("refresh reports added, removed and changed tools", async () => {
    const fake = fakeServer([tool("a"), tool("b"), tool("c")]);
    const { mcp } = registry(fake.connect);
    await mcp.register("srv", config(), "t");
    fake.state.tools = [tool("a"), tool("b", { description: "new words" }), tool("d")];
    const out = await mcp.refresh("srv", "t");
    expect(out.ok && out.value.changes).toEqual({ added: ["mcp__srv__d"], removed: ["mcp__srv__c"], changed: ["mcp__srv__b"] });
  });
});

describe("spawn-time names", () => {
  it("mcp__ patterns are never unknown; others still are", () => {
    expect(unknownToolPatterns(["mcp__gh__*", "mcp__x__y", "mcp_typo", "read_file"])).toEqual(["mcp_typo"]);
  });

  it("globs expand to the names known at spawn", () => {
    const spec = AgentSpec.parse({ name: "a", model: "scripted", script: [], tools: ["read_file", "mcp__gh__*"] });
    const known = ["read_file", "write_file", "mcp__gh__a", "mcp__gh__b", "mcp__other__a"];
    const top = inheritedGrant(spec, null, undefined, known);
    expect(top.ok && top.value.tools).toEqual(["read_file", "mcp__gh__a", "mcp__gh__b"]);
    const child = inheritedGrant(spec, { pid: 1, tools: ["mcp__gh__b", "read_file"], fs: [{ path: "/**", mode: "rw" }], limits: { maxChildren: 5, maxDepth: 5 }, headroom: { spent: null, left: {} } }, { tools: ["mcp__*"] }, known);
    expect(child.ok && child.value.tools).toEqual(["mcp__gh__b"]);
  });
});
