/**
 * The MCP server registry over HTTP (SPEC §10), against the real MCP server of
 * test/support/mcp-server.mjs (official SDK, Streamable HTTP, tools/list in pages of 4).
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEntry, McpServer } from "../../src/contracts";
import { createClient, KernelApiError } from "../../src/client";
import { client, freshTenant, tokenFor } from "../support/http";
import { register, spawn, until, type Client } from "../support/agents";

const origin = new URL(env.MCP_SERVER_URL).origin;
const SECRET = "fixture-secret-token";
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;
/** A scope of the fixture of our own, so tools added at runtime do not reach other tests. */
const scoped = () => {
  const scope = crypto.randomUUID().slice(0, 8);
  return {
    url: `${origin}/s/${scope}/mcp`,
    addTool: async (name: string) => expect((await fetch(`${origin}/admin/tools`, { method: "POST", body: JSON.stringify({ scope, name }) })).status).toBe(200),
  };
};
const FIXTURE_TOOLS = ["lookup", "set_flag", "launch", "explode", "hang", "strict", "snapshot", "echo", "note_1", "note_2", "note_3", "note_4"];

describe("MCP server registry", () => {
  it("registers a server: initialize, every page of tools/list, tool names, schemas, annotations, skipped tools", async () => {
    const api = client(freshTenant());
    const put = await api.put<McpServer>("/v1/mcp/fixture", { url: env.MCP_SERVER_URL });
    expect(put.status).toBe(200);
    const server = put.body;
    expect(server).toMatchObject({ name: "fixture", url: env.MCP_SERVER_URL, headerNames: [], tools: ["*"], timeoutMs: 30000, serverInfo: { name: "agent-kernel-fixture", version: "1.0.0" }, unexposed: [] });
    // 14 tools in 4 pages: all twelve usable ones (so every page was followed), two skipped.
    expect(server.exposed.map((t) => t.tool)).toEqual(FIXTURE_TOOLS);
    expect(server.exposed.map((t) => t.name)).toEqual(FIXTURE_TOOLS.map((t) => `mcp__fixture__${t}`));
    expect(server.skipped.map((s) => s.tool)).toEqual(["bad.name", "a_tool_name_far_too_long_for_the_sixty_four_character_limit_of_providers"]);
    expect(server.skipped[0]!.reason).toContain("letters, digits, _ and -");
    expect(server.skipped[1]!.reason).toContain("longer than 64");
    const byTool = Object.fromEntries(server.exposed.map((t) => [t.tool, t]));
    expect(byTool.lookup!.annotations).toEqual({ readOnlyHint: true });
    expect(byTool.set_flag!.annotations).toMatchObject({ idempotentHint: true });
    expect(byTool.launch!.annotations).toMatchObject({ destructiveHint: true, idempotentHint: false, readOnlyHint: false });
    expect(byTool.strict!.inputSchema).toMatchObject({ type: "object", required: ["mode", "count", "label"], additionalProperties: false, properties: { mode: { enum: ["fast", "slow"] } } });
    expect(byTool.lookup!.description).toBe("Look a query up (read-only).");

    expect((await api.get("/v1/mcp/fixture")).body).toEqual(server);
    const audit = (await auditOf(api)).filter((e) => e.event === "mcp_registered");
    expect(audit).toHaveLength(1);
    expect(audit[0]!.data).toMatchObject({ server: "fixture", url: env.MCP_SERVER_URL, headerNames: [], tools: ["*"], exposed: 12, skipped: 2, replaced: false });
  });

  it("exposes only the tools the globs choose, and replaces a server registered again", async () => {
    const api = client(freshTenant());
    const put = await api.put<McpServer>("/v1/mcp/fx", { url: env.MCP_SERVER_URL, tools: ["note_*", "lookup"], timeoutMs: 5000 });
    expect(put.status).toBe(200);
    expect(put.body.exposed.map((t) => t.tool)).toEqual(["lookup", "note_1", "note_2", "note_3", "note_4"]);
    expect(put.body.unexposed).toEqual(["set_flag", "launch", "explode", "hang", "strict", "snapshot", "echo"]);
    expect(put.body.timeoutMs).toBe(5000);
    const again = await api.put<McpServer>("/v1/mcp/fx", { url: env.MCP_SERVER_URL, tools: ["echo"] });
    expect(again.body.exposed.map((t) => t.name)).toEqual(["mcp__fx__echo"]);
    expect((await auditOf(api)).filter((e) => e.event === "mcp_registered").map((e) => e.data.replaced)).toEqual([false, true]);
  });

  it("never returns, audits or echoes header values; lists only their names", async () => {
    const api = client(freshTenant());
    const put = await api.put<McpServer>("/v1/mcp/secure", { url: `${origin}/secure/mcp`, headers: { Authorization: `Bearer ${SECRET}`, "X-Extra": "another-secret-value" } });
    expect(put.status).toBe(200);
    expect(put.body.headerNames).toEqual(["Authorization", "X-Extra"]);
    expect(put.body.exposed.length).toBe(12);
    const everything = JSON.stringify([put.body, (await api.get("/v1/mcp/secure")).body, (await api.get("/v1/mcp")).body, await auditOf(api), (await api.post("/v1/mcp/secure/refresh")).body]);
    expect(everything).toContain("Authorization");
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain("another-secret-value");
    // Nor in an error: a wrong credential is refused without being repeated.
    const wrong = await api.put("/v1/mcp/secure2", { url: `${origin}/secure/mcp`, headers: { Authorization: "Bearer wrong-credential-123" } });
    expect(wrong.status).toBe(422);
    expect(JSON.stringify(wrong.body)).not.toContain("wrong-credential-123");
  });

  it("401 from the server → 422 mcp_unreachable with the cause; nothing stored or audited", async () => {
    const api = client(freshTenant());
    const res = await api.put("/v1/mcp/locked", { url: `${origin}/secure/mcp` });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("mcp_unreachable");
    expect(res.body.error.details).toMatchObject({ kind: "unauthorized", code: 401 });
    expect(res.body.error.details.cause).toContain("401");
    expect((await api.get("/v1/mcp/locked")).status).toBe(404);
    expect((await api.get("/v1/mcp")).body).toEqual({ servers: [], nextCursor: null });
    expect((await auditOf(api)).some((e) => e.event.startsWith("mcp_"))).toBe(false);
  });

  it("a URL that is not MCP, or where nothing listens → 422 mcp_unreachable naming why", async () => {
    const api = client(freshTenant());
    const html = await api.put("/v1/mcp/web", { url: `${origin}/not-mcp` });
    expect(html.status).toBe(422);
    expect(html.body.error).toMatchObject({ code: "mcp_unreachable", details: { kind: "not_mcp", code: 404 } });
    const nothing = await api.put("/v1/mcp/void", { url: "http://127.0.0.1:9/mcp", timeoutMs: 3000 });
    expect(nothing.status).toBe(422);
    expect(nothing.body.error.details.kind).toBe("unreachable");
    expect((await api.get("/v1/mcp")).body.servers).toEqual([]);
  });

  it("refuses private hosts not in ALLOW_PRIVATE_HOSTS, like webhooks (400, details on url)", async () => {
    const api = client(freshTenant());
    for (const url of ["http://10.0.0.5/mcp", "http://169.254.169.254/mcp", "http://[::1]:8080/mcp", "http://metadata.google.internal/mcp"]) {
      const res = await api.put("/v1/mcp/inside", { url });
      expect(res.status, url).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
      expect(res.body.error.details[0]).toMatchObject({ path: ["url"], code: "url_not_allowed" });
    }
    expect((await api.put("/v1/mcp/ftp", { url: "ftp://example.com/mcp" })).status).toBe(400);
  });

  it("bad names and bodies → 400; only admins write, viewers read", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    for (const name of ["Upper", "under_score", "-dash", "a".repeat(33), "dots.x"]) {
      const res = await api.put(`/v1/mcp/${name}`, { url: env.MCP_SERVER_URL });
      expect(res.status, name).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    for (const body of [{}, { url: "not a url" }, { url: env.MCP_SERVER_URL, extra: 1 }, { url: env.MCP_SERVER_URL, headers: { "bad header": "x" } }, { url: env.MCP_SERVER_URL, headers: { a: "x\r\ny" } }, { url: env.MCP_SERVER_URL, headers: { "Mcp-Session-Id": "x" } }, { url: env.MCP_SERVER_URL, headers: { a: "1", A: "2" } }, { url: env.MCP_SERVER_URL, timeoutMs: 0 }, { url: env.MCP_SERVER_URL, tools: [] }]) {
      const res = await api.put("/v1/mcp/ok", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(JSON.stringify(res.body)).not.toContain("x\\r\\ny");
    }
    expect((await api.call("PUT", "/v1/mcp/ok", "{not json")).status).toBe(400);
    expect((await api.put("/v1/mcp/fx", { url: env.MCP_SERVER_URL, tools: ["echo"] })).status).toBe(200);
    for (const role of ["viewer", "operator"] as const) {
      const low = client(tenant, role);
      expect((await low.put("/v1/mcp/fx2", { url: env.MCP_SERVER_URL })).status).toBe(403);
      expect((await low.post("/v1/mcp/fx/refresh")).status).toBe(403);
      expect((await low.del("/v1/mcp/fx")).status).toBe(403);
      expect((await low.get("/v1/mcp/fx")).status).toBe(200);
      expect((await low.get("/v1/mcp")).body.servers.map((s: McpServer) => s.name)).toEqual(["fx"]);
    }
    // Another tenant sees none of it.
    expect((await client(freshTenant()).get("/v1/mcp/fx")).status).toBe(404);
  });

  it("pages the list of servers", async () => {
    const api = client(freshTenant());
    for (const n of ["a", "b", "c"]) expect((await api.put(`/v1/mcp/${n}`, { url: env.MCP_SERVER_URL, tools: ["echo"] })).status).toBe(200);
    const first = await api.get("/v1/mcp?limit=2");
    expect(first.body.servers.map((s: McpServer) => s.name)).toEqual(["a", "b"]);
    expect(first.body.nextCursor).toBe("b");
    const second = await api.get(`/v1/mcp?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body).toMatchObject({ nextCursor: null });
    expect(second.body.servers.map((s: McpServer) => s.name)).toEqual(["c"]);
    expect((await api.get("/v1/mcp?limit=0")).status).toBe(400);
  });

  it("refresh picks up a changed catalogue; remove takes the tools away", async () => {
    const api = client(freshTenant());
    const fx = scoped();
    expect((await api.put("/v1/mcp/live", { url: fx.url })).status).toBe(200);
    await fx.addTool("weather");
    // Not seen until refreshed.
    expect((await api.get<McpServer>("/v1/mcp/live")).body.exposed.map((t) => t.tool)).not.toContain("weather");
    const refreshed = await api.post("/v1/mcp/live/refresh");
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.changes).toEqual({ added: ["mcp__live__weather"], removed: [], changed: [] });
    expect(refreshed.body.exposed.map((t: { tool: string }) => t.tool)).toContain("weather");
    expect((await api.get<McpServer>("/v1/mcp/live")).body.exposed.map((t) => t.name)).toContain("mcp__live__weather");
    expect((await api.post("/v1/mcp/nothing/refresh")).status).toBe(404);

    expect((await api.del("/v1/mcp/live")).body).toEqual({ deleted: "live" });
    expect((await api.get("/v1/mcp/live")).status).toBe(404);
    expect((await api.del("/v1/mcp/live")).status).toBe(404);
    const events = (await auditOf(api)).filter((e) => e.event.startsWith("mcp_"));
    expect(events.map((e) => e.event)).toEqual(["mcp_registered", "mcp_refreshed", "mcp_removed"]);
    expect(events[1]!.data).toMatchObject({ server: "live", added: ["mcp__live__weather"], removed: [], changed: [] });
    expect(events[2]!.data).toEqual({ server: "live" });
  });

  it("a refresh that cannot reach the server → 422 and the catalogue stays as it was", async () => {
    const api = client(freshTenant());
    expect((await api.put("/v1/mcp/sec", { url: `${origin}/secure/mcp`, headers: { Authorization: `Bearer ${SECRET}` }, tools: ["echo"] })).status).toBe(200);
    // Re-registering with a wrong credential fails, and the stored server keeps working.
    expect((await api.put("/v1/mcp/sec", { url: `${origin}/secure/mcp`, headers: { Authorization: "Bearer nope-nope" } })).status).toBe(422);
    const after = await api.get<McpServer>("/v1/mcp/sec");
    expect(after.body.exposed.map((t) => t.name)).toEqual(["mcp__sec__echo"]);
    expect((await api.post("/v1/mcp/sec/refresh")).status).toBe(200);
  });
});

describe("MCP tool names at spawn", () => {
  it("mcp__ globs expand to the catalogue's names at spawn; the default tools grant none; unknown mcp__ patterns are accepted", async () => {
    const api = client(freshTenant());
    // Registered before the server exists: accepted, and it grants nothing yet.
    expect((await register(api, "early", { tools: ["read_file", "mcp__later__*"], script: [{ text: "ok" }] })).tools).toEqual(["read_file", "mcp__later__*"]);
    const before = await spawn(api, "early");
    expect(before.tools).toEqual(["read_file"]);

    expect((await api.put("/v1/mcp/later", { url: env.MCP_SERVER_URL, tools: ["echo", "lookup"] })).status).toBe(200);
    const after = await spawn(api, "early");
    expect(after.tools).toEqual(["read_file", "mcp__later__echo", "mcp__later__lookup"]);
    // The process that was spawned before keeps what it had.
    expect((await api.get(`/v1/procs/${before.pid}`)).body.tools).toEqual(["read_file"]);

    await register(api, "plain", { script: [{ text: "ok" }] });
    expect((await spawn(api, "plain")).tools).not.toContainEqual(expect.stringMatching(/^mcp__/));
    await register(api, "exact", { tools: ["mcp__later__lookup"], script: [{ text: "ok" }] });
    expect((await spawn(api, "exact")).tools).toEqual(["mcp__later__lookup"]);
    // A server tool the globs do not expose is not a tool at all.
    await register(api, "hidden", { tools: ["mcp__later__launch"], script: [{ text: "ok" }] });
    expect((await spawn(api, "hidden")).tools).toEqual([]);

    // Other unknown patterns keep their 422.
    const typo = await api.put("/v1/agents/typo", { model: "scripted", tools: ["mcp_later_echo"], script: [{ text: "ok" }] });
    expect(typo.status).toBe(422);
    expect(typo.body.error.code).toBe("unknown_tool");
    // The known list in the message includes the MCP tools of the tenant.
    expect(typo.body.error.details.known).toContain("mcp__later__echo");
  });

  it("a restore expands against the catalogue at restore time, within the saved rights", async () => {
    const api = client(freshTenant());
    expect((await api.put("/v1/mcp/gh", { url: env.MCP_SERVER_URL, tools: ["echo", "lookup"] })).status).toBe(200);
    await register(api, "chat", { mode: "interactive", tools: ["read_file", "mcp__gh__*"], script: [{ text: "hi" }, { text: "again" }] });
    const p = await spawn(api, "chat");
    expect(p.tools).toEqual(["read_file", "mcp__gh__echo", "mcp__gh__lookup"]);
    await until(() => api.get(`/v1/procs/${p.pid}`), (r) => r.body.state === "sleeping");
    const { checkpointId } = (await api.post(`/v1/procs/${p.pid}/checkpoint`)).body;
    // The server now exposes more; the restored process still gets no more than the saved rights.
    expect((await api.put("/v1/mcp/gh", { url: env.MCP_SERVER_URL, tools: ["echo", "lookup", "launch"] })).status).toBe(200);
    const wider = await api.post("/v1/procs/restore", { checkpointId });
    expect(wider.status).toBe(201);
    expect(wider.body.tools).toEqual(["read_file", "mcp__gh__echo", "mcp__gh__lookup"]);
    // The server is gone: its tools are not names the tenant has any more.
    expect((await api.del("/v1/mcp/gh")).status).toBe(200);
    const narrower = await api.post("/v1/procs/restore", { checkpointId });
    expect(narrower.body.tools).toEqual(["read_file"]);
  });

  it("delegation inherits and restricts MCP tools like built-in ones", async () => {
    const api = client(freshTenant());
    expect((await api.put("/v1/mcp/gh", { url: env.MCP_SERVER_URL, tools: ["echo", "lookup", "launch"] })).status).toBe(200);
    await register(api, "boss", { mode: "interactive", tools: ["delegate", "collect", "mcp__gh__echo", "mcp__gh__lookup"], script: [{ text: "ready" }, { text: "ready" }] });
    await register(api, "worker", { tools: ["mcp__gh__*"], script: [{ text: "done" }] });
    const boss = await spawn(api, "boss");
    expect(boss.tools).toEqual(["delegate", "collect", "mcp__gh__echo", "mcp__gh__lookup"]);
    const all = await api.post(`/v1/procs/${boss.pid}/delegate`, { agent: "worker", message: "go" });
    expect(all.status).toBe(201);
    // The worker asks for every gh tool; launch is outside the copilot's grant, so it is not given.
    expect((await api.get(`/v1/procs/${all.body.pid}`)).body.tools).toEqual(["mcp__gh__echo", "mcp__gh__lookup"]);
    const narrow = await api.post(`/v1/procs/${boss.pid}/delegate`, { agent: "worker", message: "go", tools: ["mcp__gh__lookup"] });
    expect((await api.get(`/v1/procs/${narrow.body.pid}`)).body.tools).toEqual(["mcp__gh__lookup"]);
    // An mcp__ pattern that matches nothing yet narrows to nothing rather than failing.
    const none = await api.post(`/v1/procs/${boss.pid}/delegate`, { agent: "worker", message: "go", tools: ["mcp__other__*"] });
    expect(none.status).toBe(201);
    expect((await api.get(`/v1/procs/${none.body.pid}`)).body.tools).toEqual([]);
  });
});

describe("the API description", () => {
  it("documents the MCP routes and their schemas", async () => {
    const doc = (await (await exports.default.fetch(new Request("http://kernel.test/openapi.json"))).json()) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>>; components: { schemas: Record<string, unknown> } };
    expect(Object.keys(doc.paths["/v1/mcp/{name}"]!).sort()).toEqual(["delete", "get", "put"]);
    expect(Object.keys(doc.paths["/v1/mcp/{name}/refresh"]!)).toEqual(["post"]);
    expect(Object.keys(doc.paths["/v1/mcp"]!)).toEqual(["get"]);
    expect(Object.keys(doc.paths["/v1/mcp/{name}"]!.put!.responses)).toContain("422");
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(["McpServer", "McpServerInput", "McpServerList", "McpRefreshResult"]));
  });
});

describe("the typed client's mcp methods", () => {
  it("put, list, all, get, refresh, delete; errors as KernelApiError", async () => {
    const ak = createClient({ baseUrl: "http://kernel.test", token: await tokenFor(freshTenant("cl")), fetch: (r) => exports.default.fetch(r) });
    const put = await ak.mcp.put("one", { url: env.MCP_SERVER_URL, tools: ["echo"] });
    expect(put.exposed.map((t) => t.name)).toEqual(["mcp__one__echo"]);
    await ak.mcp.put("two", { url: env.MCP_SERVER_URL, tools: ["lookup"] });
    expect((await ak.mcp.list({ limit: 1 })).nextCursor).toBe("one");
    const all: string[] = [];
    for await (const s of ak.mcp.all()) all.push(s.name);
    expect(all).toEqual(["one", "two"]);
    expect((await ak.mcp.get("two")).exposed[0]!.annotations).toEqual({ readOnlyHint: true });
    expect((await ak.mcp.refresh("one")).changes).toEqual({ added: [], removed: [], changed: [] });
    expect(await ak.mcp.delete("one")).toEqual({ deleted: "one" });
    const err = await ak.mcp.put("bad", { url: `${origin}/secure/mcp` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelApiError);
    expect(err).toMatchObject({ status: 422, code: "mcp_unreachable" });
  });
});
