/**
 * People in the loop across a crash (SPEC §11 "Durable"): approvals and questions are pending when
 * `wrangler dev` is killed with SIGKILL; on a new server over the same persisted state they are all
 * still there, and the decisions and replies given over HTTP then finish every process correctly,
 * with no call run twice (an approved edit appends a line to a ledger: a second run would show twice).
 *
 *   node --test test/e2e/people-restart.test.mjs        (part of npm run test:e2e)
 *   E2E_DEBUG=1 ...                                       also prints wrangler's log on failure
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DevServer, freePort, installCleanup, releaseScratchDir, scratchConfig, scratchDir } from "../../scripts/lib/dev-server.mjs";
import { mintToken, randomSecret } from "../../scripts/lib/jwt.mjs";
import { apiFor, eventsOf, until } from "./support/api.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BOOT_TIMEOUT_MS = 60_000;

installCleanup("e2e-people");

/** Reads a live process's event stream until `seen(text)` holds (or the deadline passes): true when it did. */
async function streamUntil(server, token, pid, seen, timeoutMs = 20_000) {
  const res = await fetch(`${server().url}/v1/procs/${pid}/events`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) });
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (!seen(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // the deadline: answered below
  } finally {
    await reader.cancel().catch(() => {});
  }
  return seen(text);
}

/** An edit that appends `line` to the ledger: the visible side effect of an approved call. */
const append = (line) => ({ name: "edit_file", arguments: { path: "/ledger.txt", oldText: "<end>", newText: `${line}\n<end>` } });
const ask = (question) => ({ name: "request_input", arguments: { question } });

describe("approvals and questions survive a wrangler dev SIGKILL", { timeout: 170_000 }, () => {
  const scratch = scratchDir("agent-kernel-e2e-people-");
  const persistTo = join(scratch, "state");
  const registry = join(scratch, "registry");
  const config = scratchConfig(root, scratch);
  const secret = randomSecret();
  const admin = mintToken({ tenant: "e2e-people", role: "admin", ttlSeconds: 600, secret });
  const operatorToken = mintToken({ tenant: "e2e-people", role: "operator", ttlSeconds: 600, secret });
  let port;
  let inspectorPort;
  let server = null;
  const api = apiFor(() => server, admin);
  const operator = apiFor(() => server, operatorToken);

  async function boot() {
    server = await new DevServer({ root, label: "e2e-people", port, inspectorPort, config, persistTo, registry, vars: { AUTH_SECRET: secret }, logLevel: process.env.E2E_DEBUG ? "debug" : "log" }).start();
    await server.ready("/healthz", BOOT_TIMEOUT_MS);
  }

  const withServerLog = (body) => async () => {
    try {
      await body();
    } catch (err) {
      if (err instanceof Error) err.message += `\n--- ${server?.exited ? "wrangler had exited" : "wrangler was running"}; its last output ---\n${server?.log(120) ?? "(none)"}`;
      throw err;
    }
  };

  before(async () => {
    port = await freePort();
    inspectorPort = await freePort();
    await boot();
  });

  after(async () => {
    try {
      if (server) await server.crash();
    } finally {
      releaseScratchDir(scratch);
    }
  });

  test("pending approvals and questions, SIGKILL, restart: decisions and replies over HTTP finish every process, no call twice", withServerLog(async () => {
    await api.expect(200, "PUT", "/v1/hooks/ledger-gate", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "edit_file" }, action: "ask", reason: "the ledger needs a person" }] });
    await api.expect(200, "PUT", "/v1/fs/ledger.txt", "<end>");
    await api.expect(200, "PUT", "/v1/agents/clerk", {
      model: "scripted",
      tools: ["edit_file", "write_file"],
      script: [{ toolCalls: [append("{{input}}"), { name: "write_file", arguments: { path: "/free/{{input}}.txt", content: "no approval needed" } }] }, { text: "{{input}}: {{lastToolResult}}" }],
    });
    await api.expect(200, "PUT", "/v1/agents/greeter", { model: "scripted", tools: ["request_input"], script: [{ toolCalls: [ask("What is your name?")] }, { text: "hello {{lastToolResult}}" }] });
    await api.expect(200, "PUT", "/v1/agents/painter", { model: "scripted", tools: ["request_input"], script: [{ toolCalls: [ask("Which colour?")] }, { text: "painted {{lastToolResult}}" }] });
    await api.expect(200, "PUT", "/v1/agents/builder", { model: "scripted", tools: ["edit_file"], script: [{ toolCalls: [append("built")] }, { text: "built: {{lastToolResult}}" }] });
    // The copilot delegates, then asks a person whether to collect: when the answer comes, its workers are settled.
    await api.expect(200, "PUT", "/v1/agents/foreman", {
      model: "scripted",
      tools: ["delegate", "collect", "reply_task", "request_input", "edit_file"],
      script: [
        { toolCalls: [{ name: "delegate", arguments: { agent: "painter", message: "paint", deliveryPolicy: "on_demand" } }, { name: "delegate", arguments: { agent: "builder", message: "build", deliveryPolicy: "on_demand" } }] },
        { toolCalls: [ask("Shall I collect?")] },
        { toolCalls: [{ name: "collect", arguments: { timeoutMs: 120000 } }] },
        { text: "{{lastToolResult}}" },
      ],
    });

    const approved = await api.expect(201, "POST", "/v1/procs", { agent: "clerk", input: "approved-line" });
    const rejected = await api.expect(201, "POST", "/v1/procs", { agent: "clerk", input: "rejected-line" });
    const greeter = await api.expect(201, "POST", "/v1/procs", { agent: "greeter", input: "hi" });
    const foreman = await api.expect(201, "POST", "/v1/procs", { agent: "foreman", input: "work" });

    // Everything is pending: three approvals (two clerks, the builder), three questions (greeter, painter, foreman).
    const pending = await until(() => api.expect(200, "GET", "/v1/approvals?state=pending"), (r) => r.approvals.length === 3, 30_000, "three pending approvals");
    const [tasksBefore] = await Promise.all([
      until(() => api.expect(200, "GET", `/v1/tasks?copilotPid=${foreman.pid}`), (r) => r.tasks.length === 2 && r.tasks.some((t) => t.status.state === "input-required" && t.status.message === "Which colour?"), 30_000, "the painter's question"),
      until(() => api.expect(200, "GET", `/v1/procs/${greeter.pid}`), (p) => p.pendingInput?.question === "What is your name?" && p.state === "sleeping", 30_000, "the greeter's question"),
      until(() => api.expect(200, "GET", `/v1/procs/${foreman.pid}`), (p) => p.pendingInput?.question === "Shall I collect?" && p.state === "sleeping", 30_000, "the foreman's question"),
      until(() => api.call("GET", "/v1/fs/free/approved-line.txt"), (r) => r.status === 200, 30_000, "the clerk's unasked write"),
    ]);
    assert.equal((await api.call("GET", "/v1/fs/ledger.txt")).text, "<end>", "no asked call ran before its decision");

    await server.crash();
    await boot();

    // After the restart: the same approvals, tasks and questions are pending.
    const after = await api.expect(200, "GET", "/v1/approvals?state=pending");
    assert.deepEqual(after.approvals.map((a) => a.id).sort(), pending.approvals.map((a) => a.id).sort());
    const painterTask = tasksBefore.tasks.find((t) => t.metadata.agent === "painter");
    const builderTask = tasksBefore.tasks.find((t) => t.metadata.agent === "builder");
    assert.equal((await api.expect(200, "GET", `/v1/tasks/${painterTask.id}`)).status.state, "input-required");
    assert.equal((await api.expect(200, "GET", `/v1/procs/${greeter.pid}`)).pendingInput.question, "What is your name?");
    const byPid = Object.fromEntries(after.approvals.map((a) => [a.pid, a]));
    assert.equal(byPid[builderTask.metadata.workerPid].rootPid, foreman.pid);

    // Decide and reply over HTTP.
    await operator.expect(200, "POST", `/v1/approvals/${byPid[approved.pid].id}`, { decision: "approve" });
    await operator.expect(200, "POST", `/v1/approvals/${byPid[rejected.pid].id}`, { decision: "reject", message: "not this one" });
    await operator.expect(200, "POST", `/v1/approvals/${byPid[builderTask.metadata.workerPid].id}`, { decision: "approve" });
    await operator.expect(200, "POST", `/v1/tasks/${painterTask.id}/reply`, { message: "blue" });
    await operator.expect(202, "POST", `/v1/procs/${greeter.pid}/messages`, { content: "Ada" });
    // Once its workers have their answers, the foreman is told to collect.
    await until(() => api.expect(200, "GET", `/v1/tasks?copilotPid=${foreman.pid}`), (r) => r.tasks.every((t) => t.status.state === "completed"), 30_000, "both workers done");
    await operator.expect(202, "POST", `/v1/procs/${foreman.pid}/messages`, { content: "yes" });

    const wait = (pid) => api.expect(200, "GET", `/v1/procs/${pid}/wait?timeoutMs=45000`, undefined, { timeoutMs: 55_000 });
    const [a, r, g, f] = await Promise.all([approved, rejected, greeter, foreman].map((p) => wait(p.pid)));
    for (const s of [a, r, g, f]) assert.equal(s.exited && s.code, 0, `exit 0: ${JSON.stringify(s)}`);
    assert.match(a.result, /^approved-line: /);
    assert.match(r.result, /^rejected-line: Error: rejected by api:operator: not this one\n/);
    assert.equal(g.result, "hello Ada");
    const collected = JSON.parse(f.result);
    assert.deepEqual(collected.completed.map((t) => [t.agent, t.result.split(":")[0]]).sort(), [["builder", "built"], ["painter", "painted blue"]]);
    assert.deepEqual(collected.inputRequired, []);

    // Each approved edit ran exactly once; the rejected one never.
    const ledger = (await api.call("GET", "/v1/fs/ledger.txt")).text;
    assert.deepEqual(ledger.split("\n").sort(), ["<end>", "approved-line", "built"].sort(), `ledger: ${JSON.stringify(ledger)}`);
    for (const pid of [approved.pid, rejected.pid, builderTask.metadata.workerPid]) {
      const events = await eventsOf(api, pid);
      const calls = events.filter((e) => e.type === "tool_call").map((e) => e.data.id);
      assert.equal(new Set(calls).size, calls.length, `no call of pid ${pid} dispatched twice: ${calls}`);
      const results = events.filter((e) => e.type === "tool_result").map((e) => e.data.toolCallId);
      assert.equal(new Set(results).size, results.length, `no result of pid ${pid} recorded twice`);
    }
    // The answers are the request_input results, once each.
    for (const [pid, answer] of [[greeter.pid, "Ada"], [painterTask.metadata.workerPid, "blue"]]) {
      const { messages } = await api.expect(200, "GET", `/v1/procs/${pid}/messages`);
      assert.deepEqual(messages.filter((m) => m.role === "tool").map((m) => m.content), [answer]);
    }
    const verify = await api.expect(200, "GET", "/v1/audit/verify");
    assert.equal(verify.ok, true, `audit chain verifies: ${JSON.stringify(verify)}`);
    const { entries } = await api.expect(200, "GET", "/v1/audit?limit=1000");
    assert.deepEqual(entries.filter((e) => e.event === "approval_decided").map((e) => e.actor), ["api:operator", "api:operator", "api:operator"]);
    assert.equal(entries.filter((e) => e.event === "input_provided").length, 3);
  }));

  test("a decision and a reply given just before the SIGKILL are applied after the restart, once", withServerLog(async () => {
    const late = await api.expect(201, "POST", "/v1/procs", { agent: "clerk", input: "late-line" });
    const held = await api.expect(201, "POST", "/v1/procs", { agent: "clerk", input: "held-line" });
    const asker = await api.expect(201, "POST", "/v1/procs", { agent: "greeter", input: "hi" });
    const pendingOf = (pid) => until(() => api.expect(200, "GET", `/v1/approvals?pid=${pid}&state=pending`), (r) => r.approvals.length === 1, 30_000, `the approval of ${pid}`);
    const [lateApproval, heldApproval] = [await pendingOf(late.pid), await pendingOf(held.pid)];
    await until(() => api.expect(200, "GET", `/v1/procs/${asker.pid}`), (p) => p.pendingInput !== null, 30_000, "the greeter's question");
    // One process is paused: its decision is delivered and stored in it, but applied only on resume, after the restart.
    await operator.expect(200, "POST", `/v1/procs/${held.pid}/pause`);
    await operator.expect(200, "POST", `/v1/approvals/${heldApproval.approvals[0].id}`, { decision: "approve" });
    assert.ok(await streamUntil(() => server, admin, held.pid, (text) => /event: approval\ndata: [^\n]*"state":"approved"/.test(text)), "the held process recorded its decision");
    // Decided and answered, then killed at once: whatever was not yet applied is applied after the restart.
    await operator.expect(200, "POST", `/v1/approvals/${lateApproval.approvals[0].id}`, { decision: "approve" });
    await operator.expect(202, "POST", `/v1/procs/${asker.pid}/messages`, { content: "Grace" });
    await server.crash();
    await boot();
    assert.equal((await api.call("GET", "/v1/fs/ledger.txt")).text.includes("held-line"), false, "the paused process did not run its approved call");
    await operator.expect(200, "POST", `/v1/procs/${held.pid}/resume`);
    const wait = (pid) => api.expect(200, "GET", `/v1/procs/${pid}/wait?timeoutMs=45000`, undefined, { timeoutMs: 55_000 });
    const [l, g, h] = await Promise.all([wait(late.pid), wait(asker.pid), wait(held.pid)]);
    assert.equal(h.code, 0, JSON.stringify(h));
    assert.equal(l.code, 0, JSON.stringify(l));
    assert.equal(g.result, "hello Grace");
    const ledger = (await api.call("GET", "/v1/fs/ledger.txt")).text;
    assert.equal(ledger.split("\n").filter((line) => line === "late-line").length, 1, `late-line once: ${JSON.stringify(ledger)}`);
    assert.equal(ledger.split("\n").filter((line) => line === "held-line").length, 1, `held-line once: ${JSON.stringify(ledger)}`);
    assert.equal((await api.expect(200, "GET", `/v1/procs/${asker.pid}`)).pendingInput, null);
  }));
});
