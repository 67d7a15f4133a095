/**
 * The `agent-kernel` CLI (bin/agent-kernel.mjs → bin/cli.ts, SPEC §13) against a real `wrangler dev`:
 * each command runs as a subprocess, as an operator would run it, with AK_URL/AK_TOKEN pointing at the
 * server. About 15 s: one wrangler boot and ~25 CLI runs.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DevServer, installCleanup, scratchConfig, scratchDir } from "../../scripts/lib/dev-server.mjs";
import { randomSecret } from "../../scripts/lib/jwt.mjs";
import { startMcpServer } from "../support/mcp-server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(root, "bin", "agent-kernel.mjs");
installCleanup("e2e-cli");

describe("agent-kernel CLI", { timeout: 120_000 }, () => {
  const scratch = scratchDir("agent-kernel-cli-");
  const secret = randomSecret();
  let server;
  let token;
  let mcpServer;

  /** Runs the CLI; resolves with its exit code and output (never rejects on a non-zero exit). */
  const cli = (args, { env = {}, input } = {}) =>
    new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        [BIN, ...args],
        { cwd: root, timeout: 30_000, env: { ...process.env, NO_COLOR: "1", AK_URL: server?.url ?? "", AK_TOKEN: token ?? "", AUTH_SECRET: secret, ...env } },
        (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin.end(input);
    });
  const ok = async (args, opts) => {
    const res = await cli(args, opts);
    assert.equal(res.code, 0, `agent-kernel ${args.join(" ")} → ${res.code}\n${res.stderr}${res.stdout}`);
    return res.stdout;
  };
  const file = (name, content) => {
    const path = join(scratch, name);
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content, null, 2));
    return path;
  };

  before(async () => {
    server = await new DevServer({ root, label: "e2e-cli", config: scratchConfig(root, scratch), vars: { AUTH_SECRET: secret } }).start();
    mcpServer = await startMcpServer({ quiet: true });
    await server.ready("/healthz", 60_000);
  });
  after(async () => {
    await server?.stop();
    await mcpServer?.close();
  });

  test("--help on the program and on each command", async () => {
    const top = await ok(["--help"]);
    for (const cmd of ["agents", "ps", "spawn", "wait", "kill", "logs", "tasks", "fs", "audit", "token", "approvals", "reply", "mcp"]) assert.match(top, new RegExp(`\\b${cmd}\\b`));
    assert.match(await ok(["ps", "--help"]), /--tree[\s\S]*--state[\s\S]*-w, --watch[\s\S]*\/v1\/events/);
    assert.match(await ok(["spawn", "--help"]), /--wait/);
    assert.match(await ok(["kill", "--help"]), /--no-cascade|cascade/);
    assert.match(await ok(["fs", "put", "--help"]), /PATH[\s\S]*FILE/i);
  });

  test("token mints a token the server accepts", async () => {
    token = (await ok(["token", "e2e-cli", "admin", "--ttl", "10m"])).trim();
    assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
    assert.equal(claims.sub, "e2e-cli");
    assert.equal(claims.exp - claims.iat, 600);
    const bad = await cli(["token", "Not-A-Tenant"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid tenant/);
  });

  test("agents put/ls/get, spawn --wait, ps, logs", async () => {
    const greeter = file("greeter.json", {
      model: "scripted",
      script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/hello.txt", content: "Hello, {{input}}!" } }] }, { text: "Done: {{lastToolResult}}" }],
    });
    assert.match(await ok(["agents", "put", greeter]), /registered greeter \(scripted\)/);
    const agents = JSON.parse(await ok(["agents", "ls", "--json"]));
    assert.deepEqual(agents.map((a) => a.name), ["greeter"]);
    assert.match(await ok(["agents", "ls"]), /^NAME\s+MODEL[\s\S]*greeter\s+scripted\s+task/m);
    assert.equal(JSON.parse(await ok(["agents", "get", "greeter"])).maxTurns, 50);

    const run = await cli(["spawn", "greeter", "world", "--wait"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "Done: wrote 13 bytes to /hello.txt\n");
    assert.match(run.stderr, /pid 1 exited 0: /);

    const ps = JSON.parse(await ok(["ps", "--json"]));
    assert.equal(ps.length, 1);
    assert.equal(ps[0].pid, 1);
    assert.equal(ps[0].state, "stopped");
    assert.match(await ok(["ps"]), /^PID\s+PPID\s+AGENT\s+STATE[\s\S]*^1\s+-\s+greeter\s+stopped/m);

    const logs = await ok(["logs", "1"]);
    assert.match(logs, /tool_call/);
    assert.match(logs, /\bexit\b/);
    const events = (await ok(["logs", "1", "--json"])).trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(events.at(-1).event, "exit");
    const resumed = (await ok(["logs", "1", "--json", "--after", events[1].id])).trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(resumed.map((e) => e.id), events.slice(2).map((e) => e.id));
  });

  test("a copilot's tree and tasks", async () => {
    await ok(["agents", "put", file("worker.json", { model: "scripted", script: [{ text: "summary of {{input}}" }] })]);
    await ok([
      "agents",
      "put",
      file("lead.json", {
        model: "scripted",
        tools: ["delegate", "collect"],
        script: [
          { toolCalls: [{ name: "delegate", arguments: { agent: "worker", message: "alpha" } }, { name: "delegate", arguments: { agent: "worker", message: "beta" } }] },
          { toolCalls: [{ name: "collect", arguments: { mode: "all", timeoutMs: 20000 } }] },
          { text: "{{lastToolResult}}" },
        ],
      }),
    ]);
    const pid = Number((await ok(["spawn", "lead", "go"])).trim());
    assert.ok(pid > 1);
    const waited = JSON.parse(await ok(["wait", String(pid), "--json"]));
    assert.equal(waited.exited, true);
    assert.equal(waited.code, 0);
    const tree = await ok(["ps", "--tree"]);
    assert.match(tree, new RegExp(`^${pid} lead \\[stopped exit 0\\]`, "m"));
    assert.match(tree, /^├─ \d+ worker \[/m);
    assert.match(tree, /^└─ \d+ worker \[/m);
    const tasks = await ok(["tasks", String(pid)]);
    assert.match(tasks, /^TASK\s+WORKER\s+AGENT\s+STATE/m);
    assert.equal((tasks.match(/worker\s+completed\s+immediate\s+summary of/g) ?? []).length, 2);
    assert.equal(JSON.parse(await ok(["tasks", String(pid), "--json"])).length, 2);
    const children = JSON.parse(await ok(["ps", "--json", "--parent", String(pid)]));
    assert.equal(children.length, 2);
  });

  test("ps -w --json follows the tenant's event stream: a spawn shows up as a proc event", async () => {
    const child = spawn(process.execPath, [BIN, "ps", "-w", "--json"], { cwd: root, env: { ...process.env, NO_COLOR: "1", AK_URL: server.url, AK_TOKEN: token } });
    try {
      let out = "";
      const seen = (pid) => out.split("\n").slice(0, -1).map((l) => JSON.parse(l)).find((e) => e.event === "proc" && e.data.process.pid === pid);
      const lines = new Promise((resolve, reject) => {
        child.stdout.on("data", (chunk) => {
          out += chunk;
          resolve();
        });
        child.once("exit", (code) => reject(new Error(`ps -w exited ${code}: ${out}`)));
      });
      await lines; // connected: the backlog of the earlier tests has arrived
      const pid = Number((await ok(["spawn", "greeter", "watch"])).trim());
      const deadline = Date.now() + 15_000;
      while (!seen(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const event = seen(pid);
      assert.ok(event, `no proc event for pid ${pid} in:\n${out}`);
      assert.equal(event.data.process.agent, "greeter");
      assert.match(event.id, /^\d+$/);
      assert.equal(child.exitCode, null, "ps -w keeps following");
    } finally {
      child.kill("SIGKILL");
    }
  });

  test("fs put/get/ls/rm", async () => {
    const local = file("notes.md", "# notes\nünïcode ✓\n");
    assert.match(await ok(["fs", "put", "/notes/a.md", local]), /wrote \d+ bytes to \/notes\/a.md/);
    await ok(["fs", "put", "/notes/b.md", "-"], { input: "from stdin" });
    assert.equal(await ok(["fs", "get", "/notes/a.md"]), "# notes\nünïcode ✓\n");
    assert.equal(await ok(["fs", "get", "/notes/b.md"]), "from stdin");
    assert.deepEqual(JSON.parse(await ok(["fs", "ls", "/notes/**", "--json"])), ["/notes/a.md", "/notes/b.md"]);
    assert.match(await ok(["fs", "ls"]), /\/hello.txt/);
    await ok(["fs", "rm", "/notes/b.md"]);
    const gone = await cli(["fs", "get", "/notes/b.md"]);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /404 file_not_found/);
  });

  test("approvals ls/approve/reject and reply, against a real agent loop", async () => {
    const api = (method, path, body) =>
      fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const put = await api("PUT", "/v1/hooks/prod-gate", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file", path: "/prod/**" }, action: "ask", reason: "production needs a person" }] });
    assert.equal(put.status, 200);
    const write = (content) => ({ name: "write_file", arguments: { path: "/prod/config.txt", content } });
    await ok(["agents", "put", file("careful.json", { model: "scripted", tools: ["write_file"], script: [{ toolCalls: [write("draft")] }, { toolCalls: [write("second")] }, { text: "done: {{lastToolResult}}" }] })]);
    const pid = Number((await ok(["spawn", "careful", "go"])).trim());
    const pendingOf = async () => JSON.parse(await ok(["approvals", "--json", "--pid", String(pid)]));
    let pending = [];
    for (const deadline = Date.now() + 15_000; pending.length === 0 && Date.now() < deadline; ) pending = await pendingOf();
    assert.equal(pending.length, 1);
    assert.match(await ok(["approvals"]), new RegExp(`^ID\\s+PID\\s+ROOT[\\s\\S]*${pending[0].id}\\s+${pid}\\s+${pid}\\s+careful\\s+write_file\\s+pending`, "m"));
    const viewer = (await ok(["token", "e2e-cli", "viewer"])).trim();
    const refused = await cli(["approvals", "approve", pending[0].id], { env: { AK_TOKEN: viewer } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /403 forbidden/);
    const approved = await ok(["approvals", "approve", pending[0].id, "--args", '{"path": "/prod/config.txt", "content": "edited"}']);
    assert.equal(approved, `approved ${pending[0].id} (write_file of process ${pid}) by api:admin\n`);
    const twice = await cli(["approvals", "reject", pending[0].id]);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /409 approval_decided/);
    // The second write asks again: rejected with a reason the model sees.
    pending = [];
    for (const deadline = Date.now() + 15_000; pending.length === 0 && Date.now() < deadline; ) pending = await pendingOf();
    assert.equal(pending.length, 1);
    assert.match(await ok(["approvals", "reject", pending[0].id, "-m", "one edit is enough"]), /^rejected /);
    const waited = await cli(["wait", String(pid)]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, "done: Error: rejected by api:admin: one edit is enough\n");
    assert.equal(await ok(["fs", "get", "/prod/config.txt"]), "edited");
    const all = JSON.parse(await ok(["approvals", "--state", "all", "--json", "--root", String(pid)]));
    assert.deepEqual(all.map((a) => a.state), ["approved", "rejected"]);
    assert.equal((await api("DELETE", "/v1/hooks/prod-gate")).status, 200);

    // A worker asks its copilot; a person answers with `reply`.
    await ok(["agents", "put", file("asker.json", { model: "scripted", tools: ["request_input"], script: [{ toolCalls: [{ name: "request_input", arguments: { question: "Which colour?" } }] }, { text: "painted {{lastToolResult}}" }] })]);
    await ok([
      "agents",
      "put",
      file("foreman.json", { model: "scripted", mode: "interactive", tools: ["delegate", "request_input"], script: [{ toolCalls: [{ name: "delegate", arguments: { agent: "asker", message: "paint", deliveryPolicy: "on_demand" } }] }, { text: "delegated" }, { text: "noted" }] }),
    ]);
    const foreman = Number((await ok(["spawn", "foreman", "go"])).trim());
    let task;
    for (const deadline = Date.now() + 15_000; task?.status.state !== "input-required" && Date.now() < deadline; ) task = JSON.parse(await ok(["tasks", String(foreman), "--json"]))[0];
    assert.equal(task?.status.state, "input-required");
    assert.match(await ok(["tasks", String(foreman)]), /asker\s+input-required\s+on_demand\s+Which colour\?/);
    assert.equal(await ok(["reply", task.id, "-"], { input: "blue" }), `replied to ${task.id}: working\n`);
    const worker = await cli(["wait", String(task.metadata.workerPid)]);
    assert.equal(worker.stdout, "painted blue\n");
    const again = await cli(["reply", task.id, "red"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /409 task_not_waiting/);
  });

  test("audit and audit verify", async () => {
    assert.match(await ok(["audit", "verify"]), /^ok: \d+ entries, head [0-9a-f]{64}$/m);
    const verify = JSON.parse(await ok(["audit", "verify", "--full", "--json"]));
    assert.equal(verify.ok, true);
    const entries = JSON.parse(await ok(["audit", "--json"]));
    assert.equal(entries.length, verify.entries);
    assert.match(await ok(["audit", "--limit", "3"]), /agent_registered/);
  });

  test("mcp add/list/get/refresh/rm against a real MCP server; header values never printed", async () => {
    const added = await ok(["mcp", "add", "fx", mcpServer.secureUrl, "--header", `Authorization: Bearer ${mcpServer.secureToken}`, "-H", "X-Team: blue-team-value", "--tools", "echo,lookup,launch"]);
    assert.match(added, /registered fx: 3 tools/);
    assert.match(added, /mcp__fx__lookup\s+readOnly/);
    assert.match(added, /headers: Authorization, X-Team/);
    const list = await ok(["mcp", "list"]);
    assert.match(list, /^fx\s+http:\/\/127\.0\.0\.1:\d+\/secure\/mcp\s+3\s+Authorization,X-Team/m);
    const json = JSON.parse(await ok(["mcp", "get", "fx", "--json"]));
    assert.deepEqual(json.exposed.map((t) => t.name), ["mcp__fx__lookup", "mcp__fx__launch", "mcp__fx__echo"]);
    const everything = added + list + JSON.stringify(json) + (await ok(["mcp", "get", "fx"])) + (await ok(["audit", "--json"]));
    assert.doesNotMatch(everything, new RegExp(mcpServer.secureToken));
    assert.doesNotMatch(everything, /blue-team-value/);
    mcpServer.addTool("extra_tool");
    // Tools are exposed by the stored globs: the new one is listed but not exposed.
    assert.match(await ok(["mcp", "refresh", "fx"]), /refreshed fx: 3 tools \(added: -; removed: -; changed: -\)/);
    assert.match(await ok(["mcp", "get", "fx"]), /not exposed: .*extra_tool/);
    const refused = await cli(["mcp", "add", "locked", mcpServer.secureUrl]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /\(422 mcp_unreachable\)/);
    assert.match(refused.stderr, /"kind": "unauthorized"/);
    const badHeader = await cli(["mcp", "add", "x", mcpServer.url, "--header", "no-colon"]);
    assert.equal(badHeader.code, 1);
    assert.match(badHeader.stderr, /--header needs "Name: value"/);
    assert.match(await ok(["mcp", "rm", "fx"]), /removed fx/);
    assert.match(await ok(["mcp", "list"]), /no MCP servers/);
  });

  test("errors: the API's message and a non-zero exit", async () => {
    const res = await fetch(`${server.url}/v1/procs/999`, { headers: { authorization: `Bearer ${token}` } });
    const { error } = await res.json();
    const missing = await cli(["wait", "999"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, new RegExp(`error: ${error.message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} \\(404 process_not_found\\)`));
    const kill = await cli(["kill", "abc"]);
    assert.notEqual(kill.code, 0);
    const anonymous = await cli(["ps"], { env: { AK_TOKEN: "" } });
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /A bearer token is required\. \(401 unauthorized\)/);
    const invalid = await cli(["agents", "put", file("bad.json", { model: "scripted" })]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /script_required/);
    const noTask = await cli(["reply", "00000000-0000-4000-8000-000000000000", "yes"]);
    assert.equal(noTask.code, 1);
    assert.match(noTask.stderr, /\(404 task_not_found\)/);
    const badState = await cli(["approvals", "--state", "maybe"]);
    assert.equal(badState.code, 1);
    assert.match(badState.stderr, /--state must be one of/);
    const unreachable = await cli(["ps", "--url", "http://127.0.0.1:9"]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach/);
  });
});
