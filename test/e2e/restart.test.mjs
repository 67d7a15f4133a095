/**
 * End-to-end crash recovery (SPEC §5 "Durability"): a real `wrangler dev` on workerd, killed with
 * SIGKILL mid-run and restarted on the same persisted state. A process must resume from its last
 * persisted step: no persisted tool call runs again, no persisted model response is requested
 * again, and the audit chain still verifies. Three kill points: between tool steps, during a slow
 * model call, and in the middle of a turn's tool calls.
 *
 *   npm run test:e2e                 (node --test, with the Node 22 that package.json pins)
 *   E2E_DEBUG=1 npm run test:e2e     also prints each process's event timeline and wrangler's log
 *
 * About 25 s: four wrangler boots (~1.5 s each) and, after each restart, up to the 5 s deadman
 * alarm before the interrupted step is retried.
 *
 * The server gets a scratch directory (a copy of wrangler.toml, --persist-to state, wrangler's
 * bundles, a private dev registry), a free port and its own AUTH_SECRET through `--var`: the
 * repo's .dev.vars and .wrangler/ are never touched, and the scratch directory is removed after.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DevServer, freePort, installCleanup, releaseScratchDir, scratchConfig, scratchDir } from "../../scripts/lib/dev-server.mjs";
import { mintToken, randomSecret } from "../../scripts/lib/jwt.mjs";
import { apiFor, eventsOf, sleep, until } from "./support/api.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BOOT_TIMEOUT_MS = 60_000;
/** After a restart the process resumes on its deadman alarm (5 s after the interrupted step began). */
const RESUME_TIMEOUT_MS = 45_000;

// Servers and scratch directories are cleaned up on any way out, not only by the after() hook.
installCleanup("e2e");

/** E2E_DEBUG=1 prints each test's event timeline and the restarted server's log. */
function debug(title, events, server) {
  if (!process.env.E2E_DEBUG) return;
  const lines = events.map((e) => `  ${e.data.at} ${e.type} ${JSON.stringify(e.data).slice(0, 160)}`);
  console.log(`${title}:\n${lines.join("\n")}\n--- server log ---\n${server.log(400)}`);
}

// ---------- the API ----------

/** The conversation must be exactly `script`'s steps, in order, each once, each call with one result. */
function assertConversation(messages, input, script, finalText) {
  assert.deepEqual(messages[0], { role: "user", content: input }, "the first message is the input");
  const assistants = messages.filter((m) => m.role === "assistant");
  const expected = script.map((step, i) =>
    "toolCalls" in step ? step.toolCalls.map((c, j) => ({ id: `call_${i}_${j}`, name: c.name })) : null,
  );
  assert.equal(assistants.length, script.length, `one assistant message per script step, got ${JSON.stringify(assistants)}`);
  assistants.forEach((m, i) => {
    if (expected[i] === null) {
      assert.equal(m.content, finalText);
      assert.ok(!m.toolCalls?.length, "the final answer has no tool calls");
    } else {
      assert.deepEqual(m.toolCalls.map((c) => ({ id: c.id, name: c.name })), expected[i], `assistant message ${i} is script step ${i}`);
    }
  });

  const callIds = assistants.flatMap((m) => (m.toolCalls ?? []).map((c) => c.id));
  assert.equal(new Set(callIds).size, callIds.length, `no tool call appears twice: ${callIds}`);
  const resultIds = messages.filter((m) => m.role === "tool").map((m) => m.toolCallId);
  assert.deepEqual([...resultIds].sort(), [...callIds].sort(), "exactly one result per tool call id");
  for (const m of messages.filter((m) => m.role === "tool")) assert.equal(m.isError, false, `tool result ${m.toolCallId} succeeded: ${m.content}`);

  // Every result follows its call, and the next model step comes only after the turn's results.
  let open = new Set();
  for (const m of messages.slice(1)) {
    if (m.role === "assistant") {
      assert.equal(open.size, 0, `a model step ran before results of ${[...open]}`);
      open = new Set((m.toolCalls ?? []).map((c) => c.id));
    } else if (m.role === "tool") {
      assert.ok(open.delete(m.toolCallId), `result ${m.toolCallId} answers a call of the current turn`);
    }
  }
}

/**
 * Each persisted model response appears once and in order; each tool result once; and no tool call
 * was dispatched again after its result was persisted (a `tool_call` event is written before each
 * dispatch, the `tool_result` event in the same transaction as the result message).
 */
function assertEvents(events, script) {
  const modelCalls = events.filter((e) => e.type === "model" && !("error" in e.data)).map((e) => e.data.call);
  assert.deepEqual(modelCalls, script.map((_, i) => i), "every model step was persisted once, in order");
  const results = events.filter((e) => e.type === "tool_result").map((e) => e.data.toolCallId);
  assert.equal(new Set(results).size, results.length, `no tool result was recorded twice: ${results}`);
  const resultSeq = new Map(events.filter((e) => e.type === "tool_result").map((e) => [e.data.toolCallId, e.data.seq]));
  for (const e of events.filter((e) => e.type === "tool_call")) {
    const persistedAt = resultSeq.get(e.data.id);
    assert.ok(persistedAt !== undefined && e.data.seq < persistedAt, `tool call ${e.data.id} was dispatched (event ${e.data.seq}) after its result was persisted (event ${persistedAt})`);
  }
  assert.equal(events.filter((e) => e.type === "exit").length, 1, "one exit event");
}

/** Call ids dispatched more than once (before and after the crash), in dispatch order. */
const redispatched = (events) => {
  const seen = new Map();
  for (const e of events.filter((e) => e.type === "tool_call")) seen.set(e.data.id, (seen.get(e.data.id) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([id]) => id);
};

async function assertAudit(api, pids) {
  const verify = await api.expect(200, "GET", "/v1/audit/verify");
  assert.equal(verify.ok, true, `audit chain verifies: ${JSON.stringify(verify)}`);
  const { entries } = await api.expect(200, "GET", "/v1/audit?limit=1000");
  for (const pid of pids) {
    assert.equal(entries.filter((e) => e.event === "spawn" && e.pid === pid).length, 1, `one spawn entry for pid ${pid}`);
    assert.equal(entries.filter((e) => e.event === "terminate" && e.pid === pid).length, 1, `one terminate entry for pid ${pid}`);
  }
}

// ---------- the tests ----------

describe("crash recovery across a wrangler dev restart (SIGKILL)", { timeout: 170_000 }, () => {
  const scratch = scratchDir("agent-kernel-e2e-");
  const persistTo = join(scratch, "state");
  const registry = join(scratch, "registry");
  const config = scratchConfig(root, scratch);
  const secret = randomSecret();
  const token = mintToken({ tenant: "e2e-restart", role: "admin", ttlSeconds: 600, secret });
  let port;
  let inspectorPort;
  let server = null;
  const api = apiFor(() => server, token);
  const timings = [];

  async function boot() {
    server = await new DevServer({
      root,
      label: "e2e",
      port,
      inspectorPort,
      config,
      persistTo,
      registry,
      vars: { AUTH_SECRET: secret },
      logLevel: process.env.E2E_DEBUG ? "debug" : "log",
    }).start();
    const ms = await server.ready("/healthz", BOOT_TIMEOUT_MS);
    timings.push(`boot ${ms} ms`);
  }

  /** Crash the server, boot a new one on the same state and port; returns when it answers. */
  async function crashAndRestart() {
    await server.crash();
    await boot();
  }

  /** A test body whose failure message carries the server's recent output (why it died, if it did). */
  const withServerLog = (body) => async () => {
    try {
      await body();
    } catch (err) {
      const state = server?.exited ? "wrangler had exited" : "wrangler was running";
      if (err instanceof Error) err.message += `\n--- ${state}; its last output ---\n${server?.log(80) ?? "(none)"}`;
      throw err;
    }
  };

  before(async () => {
    port = await freePort();
    inspectorPort = await freePort();
    await boot();
    // The server must use our secret.
    const probe = await api.call("GET", "/v1/procs");
    assert.equal(probe.status, 200, `the test's AUTH_SECRET is in effect (GET /v1/procs → ${probe.status} ${probe.text})`);
  });

  after(async () => {
    try {
      if (server) await server.crash();
    } finally {
      releaseScratchDir(scratch);
      if (timings.length) console.log(`e2e timings: ${timings.join("; ")}`);
    }
  });

  test("a SIGKILL between tool steps: every tool and model step runs exactly once, then it completes", withServerLog(async () => {
    const STEPS = 6;
    const input = "crash-test";
    const script = [
      ...Array.from({ length: STEPS }, (_, i) => ({
        delayMs: 400,
        toolCalls: [
          { name: "write_file", arguments: { path: `/steps/step-${i}.txt`, content: `step ${i} of {{input}}` } },
          // The ledger makes a repeated tool call visible: a second run would add its line twice.
          { name: "edit_file", arguments: { path: "/steps/ledger.txt", oldText: "<end>", newText: `step ${i}\n<end>` } },
        ],
      })),
      { text: "all done: {{lastToolResult}}" },
    ];
    await api.expect(200, "PUT", "/v1/agents/stepper", { model: "scripted", maxTurns: 20, script });
    await api.expect(200, "PUT", "/v1/fs/steps/ledger.txt", "<end>");
    const proc = await api.expect(201, "POST", "/v1/procs", { agent: "stepper", input });

    // Half-way: the results of turn 3 are persisted, so the process is between tool steps (inside the
    // next 400 ms model call) and no tool is in flight: every tool must run exactly once.
    const half = STEPS / 2 - 1;
    await until(
      () => api.expect(200, "GET", `/v1/procs/${proc.pid}/messages`),
      ({ messages }) => messages.filter((m) => m.role === "tool" && m.toolCallId.startsWith(`call_${half}_`)).length === 2,
      20_000,
      "half the steps",
    );
    const crashAt = Date.now();
    await crashAndRestart();

    const status = await api.expect(200, "GET", `/v1/procs/${proc.pid}/wait?timeoutMs=${RESUME_TIMEOUT_MS}`, undefined, { timeoutMs: RESUME_TIMEOUT_MS + 10_000 });
    timings.push(`test 1: exited ${Date.now() - crashAt} ms after the kill`);
    assert.equal(status.exited, true, `the process exited after the restart: ${JSON.stringify(status)}`);
    assert.equal(status.code, 0, `exit 0: ${JSON.stringify(status)}`);
    assert.ok(Date.parse(status.at) > crashAt, `the process was still running at the kill (exited ${status.at})`);

    // Files: each written once, with the right content; the ledger has each step exactly once.
    const listed = await api.expect(200, "GET", "/v1/fs?glob=/steps/**");
    assert.deepEqual([...listed].sort(), [...Array.from({ length: STEPS }, (_, i) => `/steps/step-${i}.txt`), "/steps/ledger.txt"].sort());
    for (let i = 0; i < STEPS; i++) {
      const file = await api.call("GET", `/v1/fs/steps/step-${i}.txt`);
      assert.equal(file.status, 200);
      assert.equal(file.text, `step ${i} of ${input}`);
    }
    const ledger = await api.call("GET", "/v1/fs/steps/ledger.txt");
    assert.equal(ledger.text, `${Array.from({ length: STEPS }, (_, i) => `step ${i}\n`).join("")}<end>`, "every edit ran exactly once, in order");

    // The conversation: the script, in order, once; one result per call id.
    const { messages } = await api.expect(200, "GET", `/v1/procs/${proc.pid}/messages`);
    const finalText = messages.at(-1)?.content;
    assert.equal(status.result, finalText);
    assert.match(finalText, /^all done: /);
    assertConversation(messages, input, script, finalText);
    const events = await eventsOf(api, proc.pid);
    debug(`test 1 (crash at ${new Date(crashAt).toISOString()}) events`, events, server);
    assertEvents(events, script);

    const row = await api.expect(200, "GET", `/v1/procs/${proc.pid}`);
    assert.equal(row.state, "stopped");
    assert.equal(row.turnCount, STEPS);
    assert.equal(row.usage.toolCalls, STEPS * 2);
    await assertAudit(api, [proc.pid]);
  }));

  test("a SIGKILL while the process sleeps on a slow model call: it resumes and completes", withServerLog(async () => {
    const input = "slow-model";
    const script = [
      { toolCalls: [{ name: "write_file", arguments: { path: "/slow/before.txt", content: "written before the crash" } }] },
      { delayMs: 3000, text: "survived: {{lastToolResult}}" },
    ];
    await api.expect(200, "PUT", "/v1/agents/slowpoke", { model: "scripted", script });
    const proc = await api.expect(201, "POST", "/v1/procs", { agent: "slowpoke", input });

    // Turn 1 (the write) is done and reported; the process is now inside the 3 s model call.
    await until(
      () => api.expect(200, "GET", `/v1/procs/${proc.pid}`),
      (p) => p.turnCount >= 1 || p.exit !== null,
      20_000,
      "the first turn",
    );
    await until(
      () => api.call("GET", "/v1/fs/slow/before.txt"),
      (r) => r.status === 200,
      10_000,
      "the file of the first turn",
    );
    await sleep(1000);
    const atKill = await api.expect(200, "GET", `/v1/procs/${proc.pid}`);
    assert.equal(atKill.exit, null, "still inside the slow model call when killed");
    const crashAt = Date.now();
    await crashAndRestart();

    const status = await api.expect(200, "GET", `/v1/procs/${proc.pid}/wait?timeoutMs=${RESUME_TIMEOUT_MS}`, undefined, { timeoutMs: RESUME_TIMEOUT_MS + 10_000 });
    timings.push(`test 2: exited ${Date.now() - crashAt} ms after the kill`);
    assert.equal(status.exited, true, `the process exited after the restart: ${JSON.stringify(status)}`);
    assert.equal(status.code, 0, `exit 0: ${JSON.stringify(status)}`);
    assert.ok(Date.parse(status.at) > crashAt, `the process was still running at the kill (exited ${status.at})`);
    assert.equal(status.result, "survived: wrote 24 bytes to /slow/before.txt");

    const { messages } = await api.expect(200, "GET", `/v1/procs/${proc.pid}/messages`);
    assertConversation(messages, input, script, status.result);
    const events = await eventsOf(api, proc.pid);
    debug(`test 2 (crash at ${new Date(crashAt).toISOString()}) events`, events, server);
    assertEvents(events, script);
    assert.equal((await api.call("GET", "/v1/fs/slow/before.txt")).text, "written before the crash");
    await assertAudit(api, [proc.pid]);
  }));

  test("a SIGKILL in the middle of a turn's tool calls: every file edit takes effect exactly once", withServerLog(async () => {
    // 10 turns of 64 sequential edits (~3 ms each): nearly all of the run is spent in tool calls.
    // The call in flight at the kill may be dispatched again after the restart (its result was not
    // persisted), but the workspace remembers each call's outcome by pid and call id, in the same
    // transaction as the edit: a re-dispatched call answers its first outcome and edits nothing.
    const TURNS = 10;
    const CALLS = 64;
    const line = (t, c) => `t${t}c${c}`;
    const script = [
      ...Array.from({ length: TURNS }, (_, t) => ({
        toolCalls: Array.from({ length: CALLS }, (_, c) => ({ name: "edit_file", arguments: { path: "/burst/ledger.txt", oldText: "<end>", newText: `${line(t, c)}\n<end>` } })),
      })),
      { text: "burst done" },
    ];
    await api.expect(200, "PUT", "/v1/agents/burst", { model: "scripted", parallelToolCalls: false, script });
    await api.expect(200, "PUT", "/v1/fs/burst/ledger.txt", "<end>");
    const proc = await api.expect(201, "POST", "/v1/procs", { agent: "burst", input: "go" });

    // Under wrangler dev a burst of tool calls holds up other requests (the objects share one
    // runtime): the ledger read below is answered only once turn 2's calls are done, and the live
    // event stream lags as much. So aim: turn 3's ~170 ms of tool calls start a few ms after the
    // read answers; kill 50 ms into them.
    await until(
      () => api.call("GET", "/v1/fs/burst/ledger.txt"),
      (r) => r.status === 200 && r.text.split("\n").length > CALLS + 8,
      20_000,
      "turn 2 under way",
    );
    await sleep(50);
    const crashAt = Date.now();
    await crashAndRestart();

    const status = await api.expect(200, "GET", `/v1/procs/${proc.pid}/wait?timeoutMs=${RESUME_TIMEOUT_MS}`, undefined, { timeoutMs: RESUME_TIMEOUT_MS + 10_000 });
    assert.equal(status.exited, true, `the process exited after the restart: ${JSON.stringify(status)}`);
    assert.equal(status.code, 0, `exit 0: ${JSON.stringify(status)}`);
    assert.ok(Date.parse(status.at) > crashAt, `the process was still running at the kill (exited ${status.at})`);
    assert.equal(status.result, "burst done");

    const { messages } = await api.expect(200, "GET", `/v1/procs/${proc.pid}/messages`);
    assertConversation(messages, "go", script, "burst done");
    const events = await eventsOf(api, proc.pid);
    debug(`test 3 (crash at ${new Date(crashAt).toISOString()}) events`, events, server);
    assertEvents(events, script);

    // The ledger: every call's line, exactly once, in order, re-dispatched calls included.
    const ledger = (await api.call("GET", "/v1/fs/burst/ledger.txt")).text.split("\n");
    assert.equal(ledger.pop(), "<end>");
    assert.deepEqual(ledger, Array.from({ length: TURNS * CALLS }, (_, i) => line(Math.floor(i / CALLS), i % CALLS)), "every call took effect once, in order");
    const again = redispatched(events);
    timings.push(`test 3: ${again.length} calls re-dispatched after the kill, each answered from the workspace's memory; exited ${Date.now() - crashAt} ms after the kill`);
  }));

  test("a SIGKILL in the middle of a fan-out: every worker's result is collected, no worker is spawned twice", withServerLog(async () => {
    const WORKERS = 20;
    await api.expect(200, "PUT", "/v1/agents/fan-worker", {
      model: "scripted",
      tools: ["write_file"],
      script: [
        { toolCalls: [{ name: "write_file", arguments: { path: "/fan/{{input}}.txt", content: "worked on {{input}}" } }], delayMs: 300 },
        { text: "result {{input}}", delayMs: 1200 },
      ],
    });
    await api.expect(200, "PUT", "/v1/agents/fan-copilot", {
      model: "scripted",
      tools: ["delegate", "collect", "write_file"],
      limits: { maxChildren: WORKERS },
      script: [
        { toolCalls: Array.from({ length: WORKERS }, (_, i) => ({ name: "delegate", arguments: { agent: "fan-worker", message: `w${i}` } })) },
        { toolCalls: [{ name: "collect", arguments: { mode: "all", timeoutMs: 120000 } }] },
        { text: "{{lastToolResult}}" },
      ],
    });
    const copilot = await api.expect(201, "POST", "/v1/procs", { agent: "fan-copilot", input: "fan out" });
    // Kill once every worker has written its file and sleeps on its last model call.
    await until(
      () => api.call("GET", "/v1/fs?glob=/fan/*"),
      (r) => r.status === 200 && JSON.parse(r.text).length === WORKERS,
      30_000,
      "all workers past their first step",
    );
    const crashAt = Date.now();
    await crashAndRestart();

    const status = await api.expect(200, "GET", `/v1/procs/${copilot.pid}/wait?timeoutMs=${RESUME_TIMEOUT_MS}`, undefined, { timeoutMs: RESUME_TIMEOUT_MS + 10_000 });
    assert.equal(status.code, 0, `the copilot completed: ${JSON.stringify(status)}`);
    assert.ok(Date.parse(status.at) > crashAt, "the copilot was still running at the kill");
    const collected = JSON.parse(status.result);
    assert.deepEqual(collected.completed.map((t) => t.result).sort(), Array.from({ length: WORKERS }, (_, i) => `result w${i}`).sort(), "every result collected");
    assert.deepEqual(collected.pending, []);
    const { processes } = await api.expect(200, "GET", `/v1/procs?parentPid=${copilot.pid}`);
    assert.equal(processes.length, WORKERS, "no worker was spawned twice");
    const { tasks } = await api.expect(200, "GET", `/v1/tasks?copilotPid=${copilot.pid}`);
    assert.equal(tasks.length, WORKERS);
    assert.ok(tasks.every((t) => t.status.state === "completed"));
    for (let i = 0; i < WORKERS; i++) assert.equal((await api.call("GET", `/v1/fs/fan/w${i}.txt`)).text, `worked on w${i}`);
    await assertAudit(api, [copilot.pid, ...processes.map((p) => p.pid)]);
    timings.push(`test 4: fan-out of ${WORKERS} finished ${Date.now() - crashAt} ms after the kill`);
  }));
});
