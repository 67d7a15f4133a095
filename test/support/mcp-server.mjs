#!/usr/bin/env node
/**
 * A real MCP server for tests, benches and the README walk-through: the official MCP TypeScript SDK
 * (`McpServer` + the Streamable HTTP server transport, stateful sessions), plain Node, on 127.0.0.1.
 *
 *   import { startMcpServer } from "./mcp-server.mjs";
 *   const mcp = await startMcpServer({ pageSize: 4 });   // mcp.url = http://127.0.0.1:<port>/mcp
 *   ...; await mcp.close();
 *
 * or from a shell: `node test/support/mcp-server.mjs [--port 8788] [--token T]` prints its URL.
 *
 * Endpoints (one HTTP server):
 *   /mcp                 the MCP endpoint (POST / GET / DELETE, `mcp-session-id` sessions)
 *   /s/<scope>/mcp       the same server, plus the tools added to <scope> at runtime (so one test's
 *                        additions do not change another test's catalogue)
 *   /secure/mcp          the same server, but every request needs `Authorization: Bearer <secureToken>`
 *                        (401 otherwise): a server that refuses the kernel without credentials
 *   GET  /counters       the side-effect counters as JSON (readable from another process)
 *   POST /admin/tools    `{scope?, name, description?}` adds a read-only tool `name` (it answers
 *                        `<name>: <JSON of its arguments>`) to <scope> (default: the unscoped /mcp)
 *   anything else        404 text/html (a URL that answers HTTP but does not speak MCP: try /not-mcp)
 *
 * With `token`, /mcp and /s/<scope>/mcp need that bearer token too.
 *
 * Tools (each call counted in counters.calls[<tool>]):
 *   lookup    {query, delayMs?}   readOnlyHint: "found: <query>" (after delayMs)
 *   set_flag  {name, value}       idempotentHint: sets a flag, "flag <name> = <value>"
 *   launch    {key?, delayMs?}    destructiveHint: the side effect (counters.launches[key ?? "default"] += 1)
 *                                 happens when the call arrives, then it waits delayMs and answers
 *                                 "launched <key> (#<n>)"; a test can SIGKILL the caller in between
 *   explode   {}                  answers isError: true, "boom: the explode tool always fails"
 *   hang      {}                  never answers (until the caller gives up or the server closes)
 *   strict    {mode, count, label} inputSchema: all required, mode ∈ fast|slow, 1 ≤ count ≤ 10 integer,
 *                                 no other properties; "strict ok: <mode> x<count> <label>"
 *   snapshot  {}                  an image/png (SNAPSHOT_PNG_BYTES decoded bytes) then a text "snapshot taken"
 *   echo      {text}              readOnlyHint: the text
 *   note_1..note_4 {}             readOnlyHint fillers, so tools/list has several pages
 *   bad.name, and one name too long for the kernel's 64-character limit: tools the kernel skips
 *
 * The SDK's McpServer answers tools/list in one page; this server replaces that handler with one that
 * pages (`pageSize`, default 4) with an opaque `nextCursor`, so a client has to follow every page.
 */
import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ListToolsRequestSchema, McpError, ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import * as z from "zod";

/** Decoded size of the `snapshot` tool's image, so tests can expect `[image/png, 2311 bytes]`. */
export const SNAPSHOT_PNG_BYTES = 2311;
export const LONG_TOOL_NAME = "a_tool_name_far_too_long_for_the_sixty_four_character_limit_of_providers";
export const DEFAULT_SECURE_TOKEN = "fixture-secret-token";

function snapshotPng() {
  const bytes = new Uint8Array(SNAPSHOT_PNG_BYTES);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  for (let i = 8; i < bytes.length; i++) bytes[i] = (i * 31) & 0xff;
  return Buffer.from(bytes).toString("base64");
}

/**
 * @param {{port?: number, host?: string, token?: string, secureToken?: string, pageSize?: number, quiet?: boolean}} [options]
 */
export async function startMcpServer(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const pageSize = options.pageSize ?? 4;
  const secureToken = options.secureToken ?? DEFAULT_SECURE_TOKEN;
  const counters = { calls: /** @type {Record<string, number>} */ ({}), launches: /** @type {Record<string, number>} */ ({}), flags: /** @type {Record<string, boolean>} */ ({}) };
  /** scope → extra tools added at runtime: name → description */
  const extras = new Map();
  /** session id → {transport, server} */
  const sessions = new Map();
  /** Calls still waiting (hang, launch's delay): resolved when the server closes. */
  const pending = new Set();

  const count = (tool) => (counters.calls[tool] = (counters.calls[tool] ?? 0) + 1);
  const text = (t) => ({ content: [{ type: "text", text: t }] });
  const wait = (ms, signal) =>
    new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        pending.delete(done);
        resolve();
      };
      const timer = ms === Infinity ? undefined : setTimeout(done, ms);
      signal?.addEventListener("abort", done);
      pending.add(done);
    });

  function buildServer(scope) {
    const mcp = new McpServer({ name: "agent-kernel-fixture", version: "1.0.0" });
    mcp.registerTool(
      "lookup",
      {
        description: "Look a query up (read-only).",
        inputSchema: { query: z.string().describe("what to look up"), delayMs: z.number().int().min(0).max(600_000).optional() },
        annotations: { readOnlyHint: true },
      },
      async ({ query, delayMs }, extra) => {
        count("lookup");
        // A slow read, so a test can SIGKILL the caller while it is in flight.
        if (delayMs) await wait(delayMs, extra.signal);
        return text(`found: ${query}`);
      },
    );
    mcp.registerTool(
      "set_flag",
      { description: "Set a named flag (idempotent).", inputSchema: { name: z.string(), value: z.boolean() }, annotations: { idempotentHint: true, readOnlyHint: false, destructiveHint: false } },
      async ({ name, value }) => {
        count("set_flag");
        counters.flags[name] = value;
        return text(`flag ${name} = ${value}`);
      },
    );
    mcp.registerTool(
      "launch",
      {
        description: "Launch something (destructive: not idempotent, not read-only).",
        inputSchema: { key: z.string().optional(), delayMs: z.number().int().min(0).max(600_000).optional() },
        annotations: { destructiveHint: true, readOnlyHint: false, idempotentHint: false },
      },
      async ({ key, delayMs }, extra) => {
        count("launch");
        const k = key ?? "default";
        const n = (counters.launches[k] = (counters.launches[k] ?? 0) + 1);
        if (delayMs) await wait(delayMs, extra.signal);
        return text(`launched ${k} (#${n})`);
      },
    );
    mcp.registerTool("explode", { description: "Always fails (isError).", inputSchema: {} }, async () => {
      count("explode");
      return { content: [{ type: "text", text: "boom: the explode tool always fails" }], isError: true };
    });
    mcp.registerTool("hang", { description: "Never answers.", inputSchema: {}, annotations: { readOnlyHint: true } }, async (_args, extra) => {
      count("hang");
      await wait(Infinity, extra.signal);
      return text("hang gave up");
    });
    mcp.registerTool(
      "strict",
      {
        description: "A tool with a strict input schema.",
        inputSchema: z.strictObject({ mode: z.enum(["fast", "slow"]), count: z.number().int().min(1).max(10), label: z.string().min(1) }),
      },
      async ({ mode, count: n, label }) => (count("strict"), text(`strict ok: ${mode} x${n} ${label}`)),
    );
    mcp.registerTool("snapshot", { description: "Take a snapshot (an image and a caption).", inputSchema: {}, annotations: { readOnlyHint: true } }, async () => {
      count("snapshot");
      return { content: [{ type: "image", data: snapshotPng(), mimeType: "image/png" }, { type: "text", text: "snapshot taken" }] };
    });
    mcp.registerTool("echo", { description: "Echo a text.", inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } }, async ({ text: t }) => (count("echo"), text(t)));
    for (let i = 1; i <= 4; i++) {
      mcp.registerTool(`note_${i}`, { description: `Filler tool ${i}.`, inputSchema: {}, annotations: { readOnlyHint: true } }, async () => (count(`note_${i}`), text(`note ${i}`)));
    }
    mcp.registerTool("bad.name", { description: "A name with a dot, which the kernel skips.", inputSchema: {} }, async () => text("bad"));
    mcp.registerTool(LONG_TOOL_NAME, { description: "A name too long once prefixed.", inputSchema: {} }, async () => text("long"));
    for (const [name, description] of extras.get(scope) ?? []) addRuntimeTool(mcp, name, description);

    // Page tools/list: keep the SDK's own handler (it renders the JSON Schemas) and slice its answer.
    const handlers = mcp.server._requestHandlers;
    const full = handlers?.get("tools/list");
    if (typeof full !== "function") throw new Error("the MCP SDK no longer keeps request handlers where this fixture expects them");
    mcp.server.setRequestHandler(ListToolsRequestSchema, async (request, extra) => {
      const { tools } = await full(request, extra);
      const cursor = request.params?.cursor;
      let start = 0;
      if (cursor !== undefined) {
        start = Number(Buffer.from(cursor, "base64url").toString());
        if (!Number.isInteger(start) || start < 0 || start >= tools.length) throw new McpError(ErrorCode.InvalidParams, `invalid cursor ${cursor}`);
      }
      const end = start + pageSize;
      return { tools: tools.slice(start, end), ...(end < tools.length ? { nextCursor: Buffer.from(String(end)).toString("base64url") } : {}) };
    });
    return mcp;
  }

  function addRuntimeTool(mcp, name, description) {
    mcp.registerTool(name, { description, inputSchema: z.looseObject({}), annotations: { readOnlyHint: true } }, async (args) => (count(name), text(`${name}: ${JSON.stringify(args)}`)));
  }

  /** Adds a read-only tool to <scope>: new sessions list it, live ones get it (and tools/list_changed) at once. */
  function addTool(name, description = `Runtime tool ${name}.`, scope = "") {
    const list = extras.get(scope) ?? [];
    list.push([name, description]);
    extras.set(scope, list);
    for (const session of sessions.values()) if (session.scope === scope) addRuntimeTool(session.server, name, description);
  }

  async function readBody(req) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const raw = Buffer.concat(chunks).toString("utf8");
    return raw ? JSON.parse(raw) : undefined;
  }

  function send(res, status, body, type = "application/json") {
    res.writeHead(status, { "content-type": type }).end(type === "application/json" ? JSON.stringify(body) : body);
  }

  async function handleMcp(req, res, scope, requiredToken) {
    if (requiredToken !== undefined && req.headers.authorization !== `Bearer ${requiredToken}`) {
      res.writeHead(401, { "content-type": "application/json", "www-authenticate": 'Bearer realm="fixture"' });
      return void res.end(JSON.stringify({ error: "unauthorized", error_description: "a bearer token is required" }));
    }
    const body = req.method === "POST" ? await readBody(req) : undefined;
    const sessionId = req.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      if (!session) return send(res, 404, { jsonrpc: "2.0", error: { code: -32001, message: "Session not found" }, id: null });
      return session.transport.handleRequest(req, res, body);
    }
    const isInitialize = body && !Array.isArray(body) && body.method === "initialize";
    if (!isInitialize) return send(res, 400, { jsonrpc: "2.0", error: { code: -32000, message: "Bad Request: no session; initialize first" }, id: null });
    const server = buildServer(scope);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, { transport, server, scope }),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function handle(req, res) {
    const url = new URL(req.url ?? "/", "http://fixture");
    const path = url.pathname;
    if (req.method === "GET" && path === "/counters") return send(res, 200, counters);
    if (req.method === "POST" && path === "/admin/tools") {
      const { scope = "", name, description = `Runtime tool ${name}.` } = (await readBody(req)) ?? {};
      if (typeof name !== "string" || !name) return send(res, 400, { error: "name required" });
      addTool(name, description, scope);
      return send(res, 200, { scope, name });
    }
    if (path === "/mcp") return handleMcp(req, res, "", options.token);
    if (path === "/secure/mcp") return handleMcp(req, res, "", secureToken);
    const scoped = /^\/s\/([A-Za-z0-9_-]{1,64})\/mcp$/.exec(path);
    if (scoped) return handleMcp(req, res, scoped[1], options.token);
    send(res, 404, "<!doctype html><title>Not here</title><p>This is not an MCP endpoint.</p>", "text/html");
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!options.quiet) console.error("mcp fixture:", err);
      if (!res.headersSent) send(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  await new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, host, resolve);
  });
  const address = http.address();
  if (address === null || typeof address === "string") throw new Error("the MCP fixture did not bind a TCP port");
  const origin = `http://${host}:${address.port}`;

  return {
    url: `${origin}/mcp`,
    origin,
    secureUrl: `${origin}/secure/mcp`,
    secureToken,
    scopedUrl: (scope) => `${origin}/s/${scope}/mcp`,
    counters,
    addTool,
    async close() {
      for (const done of [...pending]) done();
      await Promise.allSettled([...sessions.values()].map(({ transport }) => transport.close()));
      sessions.clear();
      http.closeAllConnections();
      await new Promise((resolve) => http.close(() => resolve(undefined)));
    },
  };
}

// CLI: print the URL, serve until interrupted.
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const port = arg("port") ? Number(arg("port")) : 0;
  const server = await startMcpServer({ port, ...(arg("token") ? { token: arg("token") } : {}) });
  console.log(server.url);
  const stop = () => void server.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
