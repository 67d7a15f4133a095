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
 */
import type { TestProject } from "vitest/node";
import { createServer, type IncomingMessage as IncomingRequest, type ServerResponse } from "node:http";

declare module "vitest" {
  export interface ProvidedContext {
    hookServerUrl: string;
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

  // Port 0: the OS picks a free port, so parallel runs and other local servers never collide.
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("hook server did not bind a TCP port");
  project.provide("hookServerUrl", `http://127.0.0.1:${address.port}`);

  return async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  };
}
