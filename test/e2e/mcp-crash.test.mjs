/**
 * End-to-end crash semantics of MCP calls (SPEC §10): a real `wrangler dev` on workerd calls the
 * real MCP server of test/support/mcp-server.mjs (official SDK) and is killed with SIGKILL while
 * calls are in flight, then restarted on the same persisted state.
 *
 *   - a destructive call (`launch`, no readOnly/idempotent hint) in flight at the kill is NOT sent
 *     again: the model reads `Error: interrupted: the call to mcp__fx__launch may or may not have
 *     taken effect`, and the server's counter shows the side effect happened exactly once;
 *   - a read-only call (`lookup`) in flight at the kill IS sent again and completes with its answer.
 *
 *   node --test test/e2e/mcp-crash.test.mjs      (E2E_DEBUG=1 prints the events and wrangler's log)
 *
 * About 20 s: two wrangler boots and the 5 s deadman alarm that resumes the interrupted step.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DevServer, freePort, installCleanup, releaseScratchDir, scratchConfig, scratchDir } from "../../scripts/lib/dev-server.mjs";
import { mintToken, randomSecret } from "../../scripts/lib/jwt.mjs";
import { apiFor, eventsOf, sleep, until } from "./support/api.mjs";
import { startMcpServer } from "../support/mcp-server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BOOT_TIMEOUT_MS = 60_000;
const RESUME_TIMEOUT_MS = 45_000;
/** How long the in-flight calls take on the server: long enough to kill wrangler in the middle. */
const CALL_DELAY_MS = 6_000;

installCleanup("e2e-mcp");

describe("MCP calls across a wrangler dev SIGKILL", { timeout: 180_000 }, () => {
  const scratch = scratchDir("agent-kernel-e2e-mcp-");
  const persistTo = join(scratch, "state");
  const registry = join(scratch, "registry");
  const config = scratchConfig(root, scratch);
  const secret = randomSecret();
  const token = mintToken({ tenant: "e2e-mcp", role: "admin", ttlSeconds: 600, secret });
  let port;
  let inspectorPort;
  let server = null;
  let mcp = null;
  const api = apiFor(() => server, token);

  async function boot() {
    server = await new DevServer({ root, label: "e2e-mcp", port, inspectorPort, config, persistTo, registry, vars: { AUTH_SECRET: secret }, logLevel: process.env.E2E_DEBUG ? "debug" : "log" }).start();
    await server.ready("/healthz", BOOT_TIMEOUT_MS);
  }

  before(async () => {
    mcp = await startMcpServer({ quiet: true });
    port = await freePort();
    inspectorPort = await freePort();
    await boot();
  });

  after(async () => {
    try {
      if (server) await server.crash();
      await mcp?.close();
    } finally {
      releaseScratchDir(scratch);
    }
  });

  test("a destructive call in flight is interrupted and made exactly once; a read-only one is sent again", async () => {
    try {
      await api.expect(200, "PUT", "/v1/mcp/fx", { url: mcp.url, headers: { "x-api-key": "e2e-secret-value" } });
      const key = `e2e-${Date.now()}`;
      await api.expect(200, "PUT", "/v1/agents/launcher", {
        model: "scripted",
        tools: ["mcp__fx__launch"],
        script: [{ toolCalls: [{ name: "mcp__fx__launch", arguments: { key, delayMs: CALL_DELAY_MS } }] }, { text: "{{lastToolResult}}" }],
      });
      await api.expect(200, "PUT", "/v1/agents/reader", {
        model: "scripted",
        tools: ["mcp__fx__lookup"],
        script: [{ toolCalls: [{ name: "mcp__fx__lookup", arguments: { query: "survivor", delayMs: CALL_DELAY_MS } }] }, { text: "{{lastToolResult}}" }],
      });
      const lookupsBefore = mcp.counters.calls.lookup ?? 0;
      const launcher = await api.expect(201, "POST", "/v1/procs", { agent: "launcher", input: "launch" });
      const reader = await api.expect(201, "POST", "/v1/procs", { agent: "reader", input: "read" });

      // Both calls have reached the server (launch's side effect is taken on arrival) and are waiting.
      await until(() => Promise.resolve(mcp.counters), (c) => c.launches[key] === 1 && (c.calls.lookup ?? 0) === lookupsBefore + 1, 20_000, "both calls in flight");
      await sleep(300);
      const crashAt = Date.now();
      await server.crash();
      await boot();

      const wait = (pid) => api.expect(200, "GET", `/v1/procs/${pid}/wait?timeoutMs=${RESUME_TIMEOUT_MS}`, undefined, { timeoutMs: RESUME_TIMEOUT_MS + 10_000 });
      const [launched, read] = await Promise.all([wait(launcher.pid), wait(reader.pid)]);

      // The destructive call: the model saw `interrupted`, and the side effect happened once.
      const interrupted = "Error: interrupted: the call to mcp__fx__launch may or may not have taken effect";
      assert.equal(launched.exited, true, JSON.stringify(launched));
      assert.equal(launched.code, 0);
      assert.equal(launched.result, interrupted);
      assert.ok(Date.parse(launched.at) > crashAt, "the launcher was still in its call at the kill");
      const { messages } = await api.expect(200, "GET", `/v1/procs/${launcher.pid}/messages`);
      const tool = messages.filter((m) => m.role === "tool");
      assert.deepEqual(tool.map((m) => [m.name, m.content, m.isError]), [["mcp__fx__launch", interrupted, true]]);
      // Long enough for a second launch to have arrived, had one been sent.
      await sleep(1000);
      assert.equal(mcp.counters.launches[key], 1, "the destructive call reached the server exactly once");

      // The read-only call: sent again after the restart, and it completed with the server's answer.
      assert.equal(read.exited, true, JSON.stringify(read));
      assert.equal(read.code, 0);
      assert.equal(read.result, "found: survivor");
      assert.equal(mcp.counters.calls.lookup, lookupsBefore + 2, "the read-only call was sent again");
      const events = await eventsOf(api, reader.pid);
      const dispatched = events.filter((e) => e.type === "tool_call").map((e) => e.data.id);
      assert.equal(dispatched.length, 2, `the lookup was dispatched before and after the kill: ${JSON.stringify(dispatched)}`);
      assert.equal(new Set(dispatched).size, 1, "the same call id both times");
      assert.equal(events.filter((e) => e.type === "tool_result").length, 1, "one result recorded");

      // The audit: the interrupted call and the re-sent read, without the header's value.
      const { entries } = await api.expect(200, "GET", "/v1/audit?limit=1000");
      const calls = entries.filter((e) => e.event === "mcp_call");
      assert.deepEqual(
        calls.map((e) => [e.pid, e.data.tool, e.data.ok, e.data.interrupted ?? false]).sort(),
        [
          [launcher.pid, "mcp__fx__launch", false, true],
          [reader.pid, "mcp__fx__lookup", true, false],
        ].sort(),
      );
      assert.ok(!JSON.stringify(entries).includes("e2e-secret-value"), "no header value in the audit log");
      assert.equal((await api.expect(200, "GET", "/v1/audit/verify")).ok, true);
      if (process.env.E2E_DEBUG) console.log(JSON.stringify(events, null, 1), server.log(200));
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- wrangler's last output ---\n${server?.log(80) ?? "(none)"}`;
      throw err;
    }
  });
});
