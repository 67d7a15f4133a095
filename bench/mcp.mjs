#!/usr/bin/env node
/**
 * `npm run bench:mcp` (node bench/mcp.mjs): what one MCP tool call costs through the kernel, over
 * the raw HTTP round trip to the same MCP server (SPEC §10).
 *
 *   node bench/mcp.mjs                 300 calls of each kind (~1 min)
 *   node bench/mcp.mjs --calls 1000    more
 *   node bench/mcp.mjs --json out.json also write the numbers as one JSON object
 *
 * Starts the real MCP server of test/support/mcp-server.mjs (official SDK, Streamable HTTP, in this
 * Node process) and the kernel with `wrangler dev --local` on a bundle made once (bench/lib/server.mjs,
 * trace store off), registers the server, spawns one interactive agent granted `mcp__fx__echo` and
 * `list_dir`, and then times, interleaved so that all see the same machine:
 *
 *   raw       a JSON-RPC `tools/call` of `echo` POSTed straight to the MCP server, on a session
 *             initialized beforehand (what any MCP client pays at the least)
 *   mcp       `POST /v1/procs/:pid/dispatch {tool: "mcp__fx__echo"}` to the kernel: auth, the process
 *             object, the catalogue (kernel RPC), the budget check and charge, argument validation
 *             against the server's schema, the kernel's session to the server, the `mcp_call` audit
 *             entry, the progress reports
 *   builtin   the same dispatch of the built-in `list_dir` (the kernel's own dispatch path, no MCP)
 *   healthz   GET /healthz (wrangler's proxy and the Worker, nothing else)
 *
 * and prints medians and p90s, the added latency (mcp − raw), and its ratio. Client wall time, one
 * request at a time, after a warm-up. Asserts nothing about timings.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mintToken, randomSecret } from "../scripts/lib/jwt.mjs";
import { startMcpServer } from "../test/support/mcp-server.mjs";
import { DevServer, freezeWorker, installCleanup } from "./lib/server.mjs";
import { median, mono, percentile, round } from "./lib/stats.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const CALLS = Number(arg("--calls") ?? 300);
const WARMUP = 30;
const jsonOut = arg("--json");

installCleanup();

const mcp = await startMcpServer({ quiet: true });
const frozen = freezeWorker({ root, label: "mcp" });
const secret = randomSecret();
const server = await new DevServer({ root, label: "bench-mcp", ...(frozen ? { config: frozen } : {}), vars: { AUTH_SECRET: secret } }).start();
await server.ready("/healthz", 90_000);
const token = mintToken({ tenant: "bench-mcp", role: "admin", ttlSeconds: 3600, secret });

async function kernel(method, path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

// ---------------------------------------------------------------- the raw round trip

/** A bare Streamable HTTP client: initialize once, then one POST per call (answers may come as SSE). */
async function rawSession(url) {
  const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
  let id = 0;
  const post = async (message, session) => {
    const res = await fetch(url, { method: "POST", headers: { ...headers, ...(session ? { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" } : {}) }, body: JSON.stringify(message) });
    const text = await res.text();
    if (!res.ok && res.status !== 202) throw new Error(`raw MCP POST → ${res.status} ${text.slice(0, 200)}`);
    const data = res.headers.get("content-type")?.includes("text/event-stream") ? /^data: (.*)$/m.exec(text)?.[1] : text;
    return { res, body: data ? JSON.parse(data) : null };
  };
  const init = await post({ jsonrpc: "2.0", id: ++id, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "bench", version: "1" } } });
  const session = init.res.headers.get("mcp-session-id");
  await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session);
  return {
    async call(name, args) {
      const { body } = await post({ jsonrpc: "2.0", id: ++id, method: "tools/call", params: { name, arguments: args } }, session);
      if (body?.result?.content?.[0]?.text !== args.text) throw new Error(`raw call answered ${JSON.stringify(body)}`);
    },
  };
}

// ---------------------------------------------------------------- setup

await kernel("PUT", "/v1/mcp/fx", { url: mcp.url, tools: ["echo"] });
await kernel("PUT", "/v1/agents/bencher", { model: "scripted", mode: "interactive", tools: ["mcp__fx__echo", "list_dir"], script: [{ text: "ready" }] });
const proc = await kernel("POST", "/v1/procs", { agent: "bencher", input: "go" });
for (let i = 0; ; i++) {
  if ((await kernel("GET", `/v1/procs/${proc.pid}`)).state === "sleeping") break;
  if (i > 200) throw new Error("the process did not go to sleep");
  await new Promise((r) => setTimeout(r, 25));
}
const raw = await rawSession(mcp.url);

const kinds = {
  raw: () => raw.call("echo", { text: "ping" }),
  mcp: async () => {
    const r = await kernel("POST", `/v1/procs/${proc.pid}/dispatch`, { tool: "mcp__fx__echo", arguments: { text: "ping" } });
    if (!r.success || r.output !== "ping") throw new Error(`dispatch answered ${JSON.stringify(r)}`);
  },
  builtin: async () => {
    const r = await kernel("POST", `/v1/procs/${proc.pid}/dispatch`, { tool: "list_dir", arguments: { path: "/" } });
    if (!r.success) throw new Error(`dispatch answered ${JSON.stringify(r)}`);
  },
  healthz: async () => {
    const res = await fetch(`${server.url}/healthz`);
    await res.text();
  },
};

// ---------------------------------------------------------------- measure

const samples = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
try {
  for (let i = 0; i < WARMUP; i++) for (const run of Object.values(kinds)) await run();
  for (let i = 0; i < CALLS; i++) {
    for (const [kind, run] of Object.entries(kinds)) {
      const t0 = mono();
      await run();
      samples[kind].push(mono() - t0);
    }
  }
} finally {
  await server.stop();
  await mcp.close();
}

const stats = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, { medianMs: round(median(v), 2), p90Ms: round(percentile(v, 90), 2) }]));
const added = stats.mcp.medianMs - stats.raw.medianMs;
const result = {
  calls: CALLS,
  ...stats,
  addedMedianMs: round(added, 2),
  ratio: round(stats.mcp.medianMs / stats.raw.medianMs, 1),
  mcpOverBuiltinMs: round(stats.mcp.medianMs - stats.builtin.medianMs, 2),
  calledOnServer: mcp.counters.calls.echo,
};

console.log(`\n  one MCP tool call: kernel dispatch vs the raw round trip (${CALLS} calls each, interleaved, after ${WARMUP} warm-up rounds)\n`);
console.log(`    ${"".padEnd(44)} ${"median".padStart(8)} ${"p90".padStart(8)}`);
const row = (label, s) => console.log(`    ${label.padEnd(44)} ${`${s.medianMs} ms`.padStart(8)} ${`${s.p90Ms} ms`.padStart(8)}`);
row("raw tools/call to the MCP server", stats.raw);
row("POST /v1/procs/:pid/dispatch mcp__fx__echo", stats.mcp);
row("POST /v1/procs/:pid/dispatch list_dir", stats.builtin);
row("GET /healthz", stats.healthz);
console.log(`\n    added by the kernel: ${result.addedMedianMs} ms median (${result.ratio}× the raw round trip); ${result.mcpOverBuiltinMs} ms over a built-in tool's dispatch`);
console.log(`    the server saw ${result.calledOnServer} echo calls (${CALLS + WARMUP} raw + ${CALLS + WARMUP} through the kernel)\n`);
if (jsonOut) writeFileSync(jsonOut, `${JSON.stringify(result, null, 2)}\n`);
process.exit(0);
