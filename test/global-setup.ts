/**
 * Vitest globalSetup (runs once, in Node, not in workerd): a scriptable webhook receiver for the
 * hook tests. Its base URL is provided as "hookServerUrl", which vitest.config.ts hands to the
 * Worker as the HOOK_SERVER_URL binding.
 *
 *   POST /hook/<id>?status=&allow=&reason=&delayMs=
 *        records the request under <id> (at arrival, so a request that later times out is still
 *        seen), waits `delayMs`, then answers `status` (default 200) with the JSON body
 *        `{"allow": <allow !== "false">, "reason"?: <reason>}` when `allow` is given, else `{}`.
 *   GET  /log/<id>
 *        the JSON array of recorded requests for <id>: `{method, path, query, headers, body}`
 *        with lower-cased header names and the raw body text (to recompute signatures).
 *
 * Tests pick a fresh <id> each, so they never need to reset the log.
 *
 * A second server hosts the fake model providers of test/providers/fake-providers.ts (OpenAI Chat
 * Completions, an OpenAI-compatible server, Anthropic Messages). The Worker's provider settings
 * pointing at them are provided as "providerBindings", which vitest.config.ts passes as bindings.
 * Workers AI stays unconfigured (no AI binding), for the model_not_configured test.
 *
 * A real MCP server (test/support/mcp-server.mjs, the official SDK) is provided as "mcpServerUrl"
 * and handed to the Worker as the MCP_SERVER_URL binding; its counters are at <origin>/counters.
 */
import type { TestProject } from "vitest/node";
import { createServer, type IncomingMessage as IncomingRequest, type Server, type ServerResponse } from "node:http";
import { FAKE_KEYS, FakeProviders, fakeBaseUrls, type Exchange } from "./providers/fake-providers";
import { startMcpServer } from "./support/mcp-server.mjs";

declare module "vitest" {
  export interface ProvidedContext {
    hookServerUrl: string;
    providerBindings: Record<string, string>;
    /** The real MCP server of test/support/mcp-server.mjs: `http://127.0.0.1:<port>/mcp`. */
    mcpServerUrl: string;
  }
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = new Map<string, RecordedRequest[]>();

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.destroyed) send(res, 500, { error: String(err) });
    });
  });

  async function handle(req: IncomingRequest, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://receiver");
    const query = Object.fromEntries(url.searchParams);
    const [, route, id] = url.pathname.split("/");

    if (req.method === "GET" && route === "log" && id) return send(res, 200, log.get(id) ?? []);
    if (req.method !== "POST" || route !== "hook" || !id) return send(res, 404, { error: "not found" });

    // Decode the raw bytes once, so a multi-byte character split across chunks survives intact.
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
    const body = new TextDecoder().decode(concat(chunks));
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = String(value);
    const entries = log.get(id) ?? [];
    entries.push({ method: req.method, path: url.pathname, query, headers, body });
    log.set(id, entries);

    const delayMs = Number(query.delayMs ?? 0);
    if (delayMs > 0) {
      // Stop waiting as soon as the caller gives up (its timeout), so teardown is not held up.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        res.on("close", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      if (res.destroyed) return;
    }
    const answer = query.allow === undefined ? {} : { allow: query.allow !== "false", ...(query.reason ? { reason: query.reason } : {}) };
    send(res, Number(query.status ?? 200), answer);
  }

  function concat(chunks: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  function send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  }

  const providers = new FakeProviders();
  const providerServer = createServer((req, res) => {
    void serveProvider(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: String(err) });
      else res.destroy();
    });
  });

  async function serveProvider(req: IncomingRequest, res: ServerResponse): Promise<void> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of req) chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name] = String(value);
    let aborted = false;
    const gone = new Promise<void>((resolve) =>
      res.on("close", () => {
        aborted = !res.writableFinished;
        resolve();
      }),
    );
    const exchange: Exchange = {
      method: req.method ?? "GET",
      path: new URL(req.url ?? "/", "http://fake").pathname,
      headers,
      body: new TextDecoder().decode(concat(chunks)),
      head: (status, h) => void res.writeHead(status, h).flushHeaders(),
      write: (chunk) => void res.write(chunk),
      end: (chunk) => void res.end(chunk),
      closed: () => aborted,
      gone,
    };
    if (!(await providers.handle(exchange))) send(res, 404, { error: "not found" });
  }

  // Port 0: the OS picks a free port, so parallel runs and other local servers never collide.
  const listen = async (s: Server, name: string) => {
    await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
    const address = s.address();
    if (address === null || typeof address === "string") throw new Error(`${name} did not bind a TCP port`);
    return `http://127.0.0.1:${address.port}`;
  };
  project.provide("hookServerUrl", await listen(server, "hook server"));
  const urls = fakeBaseUrls(await listen(providerServer, "fake provider server"));
  project.provide("providerBindings", {
    OPENAI_API_KEY: FAKE_KEYS.openai,
    OPENAI_BASE_URL: urls.openai,
    OPENAI_COMPATIBLE_BASE_URL: urls["openai-compatible"],
    OPENAI_COMPATIBLE_API_KEY: FAKE_KEYS["openai-compatible"],
    ANTHROPIC_API_KEY: FAKE_KEYS.anthropic,
    ANTHROPIC_BASE_URL: urls.anthropic,
    // Low, so the timeout test is quick; the fakes answer within milliseconds otherwise.
    MODEL_TIMEOUT_MS: "2000",
  });

  const mcp = await startMcpServer({ quiet: true });
  project.provide("mcpServerUrl", mcp.url);

  const close = async (s: Server) => {
    s.closeAllConnections();
    await new Promise<void>((resolve, reject) => s.close((err) => (err ? reject(err) : resolve())));
  };
  return async () => {
    await Promise.all([close(server), close(providerServer), mcp.close()]);
  };
}
