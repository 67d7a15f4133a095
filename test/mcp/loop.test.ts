/**
 * MCP tools in the agent loop (SPEC §10), over the public HTTP API, against the real MCP server of
 * test/support/mcp-server.mjs (official SDK, Streamable HTTP) that test/global-setup.ts starts.
 * Scripted agents call each fixture tool through the whole path: grant, schema validation, the
 * kernel's hooks and budget, the call, its rendering, its audit entry.
 *
 * The fixture's counters are shared by every test file: each test counts its own side effects with
 * a `launch` key of its own.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEntry, Message, Process, ToolResult } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";
import { collect, collected, delegate, registerCopilot } from "../support/tasks";

const origin = new URL(env.MCP_SERVER_URL).origin;
const counters = async () => (await (await fetch(`${origin}/counters`)).json()) as { calls: Record<string, number>; launches: Record<string, number> };
const launches = async (key: string) => (await counters()).launches[key] ?? 0;
const uniqueKey = () => `k-${crypto.randomUUID()}`;
const SECRET = "sk-live-do-not-leak-7c1e";

/** Registers the fixture as server `name` for the tenant (with a header whose value must never show). */
async function registerServer(api: Client, name = "fx", body: Record<string, unknown> = {}) {
  const res = await api.put(`/v1/mcp/${name}`, { url: env.MCP_SERVER_URL, headers: { "x-api-key": SECRET }, ...body });
  if (res.status !== 200 && res.status !== 201) throw new Error(`register mcp ${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const toolMessages = async (api: Client, pid: number) =>
  ((await api.get(`/v1/procs/${pid}/messages?limit=200`)).body.messages as Message[]).filter((m): m is Extract<Message, { role: "tool" }> => m.role === "tool");
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;
const stateOf = async (api: Client, pid: number) => ((await api.get(`/v1/procs/${pid}`)).body as Process).state;
const sleeping = (api: Client, pid: number) => until(() => stateOf(api, pid), (s) => s === "sleeping");
const call = (tool: string, args: Record<string, unknown> = {}) => ({ name: `mcp__fx__${tool}`, arguments: args });

describe("MCP tools in the loop", () => {
  it("an agent calls each kind of fixture tool: text, idempotent, destructive, isError, image, strict schema", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const key = uniqueKey();
    await register(api, "operator", {
      tools: ["mcp__fx__*"],
      script: [
        {
          toolCalls: [
            call("lookup", { query: "ada" }),
            call("set_flag", { name: "ready", value: true }),
            call("launch", { key }),
            call("explode"),
            call("snapshot"),
            call("strict", { mode: "fast", count: 3, label: "go" }),
          ],
        },
        { text: "{{lastToolResult}}" },
      ],
    });
    const p = await spawn(api, "operator");
    // The grant names each exposed tool of the server, expanded from the glob at spawn.
    expect(p.tools).toEqual(expect.arrayContaining(["mcp__fx__lookup", "mcp__fx__launch", "mcp__fx__strict", "mcp__fx__snapshot"]));
    expect(p.tools.every((t) => t.startsWith("mcp__fx__"))).toBe(true);
    const st = await waitExit(api, p.pid);
    expect(st).toMatchObject({ code: 0 });
    const results = await toolMessages(api, p.pid);
    const byName = Object.fromEntries(results.map((m) => [m.name, m]));
    expect(byName.mcp__fx__lookup).toMatchObject({ content: "found: ada", isError: false });
    expect(byName.mcp__fx__set_flag).toMatchObject({ content: "flag ready = true", isError: false });
    expect(byName.mcp__fx__launch).toMatchObject({ content: `launched ${key} (#1)`, isError: false });
    expect(byName.mcp__fx__explode).toMatchObject({ content: "Error: boom: the explode tool always fails", isError: true });
    expect(byName.mcp__fx__snapshot).toMatchObject({ content: "[image/png, 2311 bytes]\nsnapshot taken", isError: false });
    expect(byName.mcp__fx__strict).toMatchObject({ content: "strict ok: fast x3 go", isError: false });
    expect(await launches(key)).toBe(1);
  });

  it("a call that hangs past toolTimeoutMs is a timeout error the model sees, and the loop goes on", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    await register(api, "waiter", { tools: ["mcp__fx__hang", "mcp__fx__lookup"], toolTimeoutMs: 400, script: [{ toolCalls: [call("hang")] }, { toolCalls: [call("lookup", { query: "after" })] }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "waiter");
    const st = await waitExit(api, p.pid);
    expect(st).toMatchObject({ code: 0, result: "found: after" });
    const [hang] = await toolMessages(api, p.pid);
    expect(hang).toMatchObject({ name: "mcp__fx__hang", isError: true, content: "Error: tool mcp__fx__hang timed out after 400 ms" });
  });

  it("arguments that break the server's schema are an invalid_arguments error and the server is not called", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const key = uniqueKey();
    await register(api, "sloppy", {
      tools: ["mcp__fx__*"],
      script: [
        {
          toolCalls: [
            call("strict", { mode: "warp", count: 11, label: "x", extra: true }),
            call("strict", { mode: "fast" }),
            // launch's schema wants a number: the side effect must not happen
            call("launch", { key, delayMs: "soon" }),
          ],
        },
        { text: "done" },
      ],
    });
    const p = await spawn(api, "sloppy");
    await waitExit(api, p.pid);
    const [wide, missing, launch] = await toolMessages(api, p.pid);
    expect(wide!.isError).toBe(true);
    expect(wide!.content).toMatch(/^Error: invalid_arguments: /);
    expect(wide!.content).toMatch(/\/mode/);
    expect(wide!.content).toMatch(/\/count/);
    expect(missing!.content).toMatch(/^Error: invalid_arguments: .*(count|label)/);
    expect(launch!.content).toMatch(/^Error: invalid_arguments: \/delayMs/);
    expect(await launches(key)).toBe(0);
    // Nothing went out, so nothing is audited as a call.
    expect((await auditOf(api)).filter((e) => e.event === "mcp_call")).toEqual([]);
  });

  it("after the server is removed, a granted tool is tool_unavailable: in the loop and over HTTP dispatch", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const key = uniqueKey();
    await register(api, "chatty", { mode: "interactive", tools: ["mcp__fx__launch", "read_file"], script: [{ text: "ready" }, { toolCalls: [call("launch", { key })] }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "chatty");
    await sleeping(api, p.pid);
    expect((await api.del("/v1/mcp/fx")).status).toBeLessThan(300);
    expect((await api.post(`/v1/procs/${p.pid}/messages`, { content: "launch it" })).status).toBeLessThan(300);
    await until(() => toolMessages(api, p.pid), (m) => m.length === 1);
    const [result] = await toolMessages(api, p.pid);
    expect(result).toMatchObject({ name: "mcp__fx__launch", isError: true, content: expect.stringMatching(/^Error: tool_unavailable: /) });
    await sleeping(api, p.pid);
    const http = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "mcp__fx__launch", arguments: { key } });
    expect(http.status).toBe(200);
    expect(http.body).toMatchObject({ success: false, error: expect.stringMatching(/^tool_unavailable: /) });
    expect(await launches(key)).toBe(0);
  });

  it("a policy hook matching mcp__* vetoes the call; the server is not called", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    await api.put("/v1/hooks/no-launch", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "mcp__*__launch" }, action: "deny", reason: "launches need a person" }] });
    const key = uniqueKey();
    await register(api, "eager", { tools: ["mcp__fx__*"], script: [{ toolCalls: [call("launch", { key }), call("lookup", { query: "allowed" })] }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "eager");
    await waitExit(api, p.pid);
    const [launch, lookup] = await toolMessages(api, p.pid);
    expect(launch).toMatchObject({ isError: true, content: "Error: vetoed by hook no-launch: launches need a person" });
    expect(lookup).toMatchObject({ isError: false, content: "found: allowed" });
    expect(await launches(key)).toBe(0);
    const vetoes = (await auditOf(api)).filter((e) => e.event === "dispatch_vetoed");
    expect(vetoes).toEqual([expect.objectContaining({ pid: p.pid, data: expect.objectContaining({ tool: "mcp__fx__launch", hook: "no-launch" }) })]);
  });

  it("pre_dispatch and post_dispatch webhooks see the MCP call; a webhook veto stops it", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const id = crypto.randomUUID();
    await api.put("/v1/hooks/watch", { kind: "webhook", url: `${env.HOOK_SERVER_URL}/hook/${id}`, events: ["pre_dispatch", "post_dispatch"], secret: "s" });
    const deny = crypto.randomUUID();
    await api.put("/v1/hooks/gate", { kind: "webhook", url: `${env.HOOK_SERVER_URL}/hook/${deny}?allow=false&reason=not%20today`, events: ["pre_dispatch"], secret: "s" });
    await register(api, "watched", { tools: ["mcp__fx__lookup"], script: [{ toolCalls: [call("lookup", { query: "seen" })] }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "watched");
    const st = await waitExit(api, p.pid);
    expect(st.result).toBe("Error: vetoed by hook gate: not today");
    const log = (await (await fetch(`${env.HOOK_SERVER_URL}/log/${id}`)).json()) as { body: string }[];
    const events = log.map((r) => JSON.parse(r.body));
    expect(events).toContainEqual(expect.objectContaining({ event: "pre_dispatch", pid: p.pid, tool: "mcp__fx__lookup", arguments: { query: "seen" } }));
    expect(events).toContainEqual(expect.objectContaining({ event: "post_dispatch", pid: p.pid, tool: "mcp__fx__lookup", arguments: expect.objectContaining({ success: false }) }));
    // The hooks never see the server's header values.
    expect(JSON.stringify(log)).not.toContain(SECRET);
  });

  it("the toolCalls budget counts MCP calls: calls past it are refused without reaching the server", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const key = uniqueKey();
    await register(api, "thrifty", { tools: ["mcp__fx__launch"], budget: { toolCalls: 1 }, script: [{ toolCalls: [call("launch", { key }), call("launch", { key })] }, { text: "best effort" }] });
    const p = await spawn(api, "thrifty");
    const st = await waitExit(api, p.pid);
    expect(st.code).toBe(3);
    const results = await toolMessages(api, p.pid);
    expect(results.map((m) => m.content).sort()).toEqual([`launched ${key} (#1)`, "Error: budget exhausted: no tool calls remain in this process's budget"].sort());
    expect(await launches(key)).toBe(1);
  });

  it("POST /v1/procs/:pid/dispatch runs an MCP tool as the process; a bad argument is a result, not a call", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const key = uniqueKey();
    await register(api, "idle", { mode: "interactive", tools: ["mcp__fx__launch", "mcp__fx__snapshot"], budget: { toolCalls: 3 }, script: [{ text: "ready" }] });
    const p = await spawn(api, "idle");
    await sleeping(api, p.pid);
    const ok = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "mcp__fx__launch", arguments: { key } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ name: "mcp__fx__launch", success: true, output: `launched ${key} (#1)`, error: null });
    const bad = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "mcp__fx__launch", arguments: { key: 7 } });
    expect(bad.body).toMatchObject({ success: false, error: expect.stringMatching(/^invalid_arguments: \/key/) });
    expect(await launches(key)).toBe(1);
    // Not granted: refused before anything is asked.
    const other = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "mcp__fx__lookup", arguments: { query: "x" } });
    expect(other.body).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied/) });
    // The budget (3 tool calls) is spent: every dispatch counts, refused or not.
    const over = await api.post(`/v1/procs/${p.pid}/dispatch`, { tool: "mcp__fx__launch", arguments: { key } });
    expect(over.status).toBe(422);
    expect(await launches(key)).toBe(1);
  });

  it("every call is audited as mcp_call (pid, tool, duration, ok) with no arguments, result or header values", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const marker = `private-query-${crypto.randomUUID()}`;
    await register(api, "audited", { tools: ["mcp__fx__*"], script: [{ toolCalls: [call("lookup", { query: marker }), call("explode")] }, { text: "done" }] });
    const p = await spawn(api, "audited");
    await waitExit(api, p.pid);
    const audit = await auditOf(api);
    const calls = audit.filter((e) => e.event === "mcp_call");
    expect(calls.map((e) => [e.pid, e.data.tool, e.data.ok]).sort()).toEqual([
      [p.pid, "mcp__fx__explode", false],
      [p.pid, "mcp__fx__lookup", true],
    ]);
    for (const e of calls) {
      expect(Object.keys(e.data).sort()).toEqual(["durationMs", "ok", "tool", "toolCallId"]);
      expect(e.data.durationMs).toEqual(expect.any(Number));
    }
    const everything = JSON.stringify(audit) + JSON.stringify((await api.get(`/v1/procs/${p.pid}/messages?limit=200`)).body);
    expect(JSON.stringify(audit)).not.toContain(marker);
    expect(JSON.stringify(audit)).not.toContain("found:");
    expect(everything).not.toContain(SECRET);
    expect((await (await api.call("GET", `/v1/procs/${p.pid}/events`)).text())).not.toContain(SECRET);
    expect((await api.get("/v1/audit/verify")).body.ok).toBe(true);
  });
});

describe("inherit-and-restrict for MCP tools", () => {
  it("a copilot without an MCP tool cannot give it to a worker: not by delegation, dispatch or restore", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    const key = uniqueKey();
    // The worker's own spec grants every MCP tool and asks for launch.
    await register(api, "rogue", {
      mode: "interactive",
      tools: ["*"],
      script: [{ toolCalls: [call("launch", { key }), call("lookup", { query: "x" })] }, { text: "{{lastToolResult}}" }, { text: "again" }, { text: "again" }],
    });
    // The copilot may read files and look things up, nothing else of the server.
    await registerCopilot(api, "careful", [{ toolCalls: [delegate("rogue", "go", { tools: ["*"], deliveryPolicy: "on_demand" })] }, { toolCalls: [collect({ timeoutMs: 20_000 })] }, { text: "{{lastToolResult}}" }], {
      tools: ["read_file", "mcp__fx__lookup"],
      mode: "interactive",
    });
    const copilot = await spawn(api, "careful");
    const answer = await until(
      () => api.get(`/v1/tasks?copilotPid=${copilot.pid}`),
      (r) => r.body.tasks?.length === 1 && r.body.tasks[0].metadata.workerPid !== undefined,
    );
    const workerPid = answer.body.tasks[0].metadata.workerPid as number;
    const worker = (await api.get(`/v1/procs/${workerPid}`)).body as Process;
    // granted: its own tools ∩ the copilot's ∩ the request: of the server, only lookup
    expect(worker.tools.filter((t) => t.startsWith("mcp__"))).toEqual(["mcp__fx__lookup"]);
    await sleeping(api, workerPid);
    const [launch, lookup] = await toolMessages(api, workerPid);
    expect(launch).toMatchObject({ name: "mcp__fx__launch", isError: true, content: expect.stringMatching(/^Error: permission_denied/) });
    expect(lookup).toMatchObject({ isError: false, content: "found: x" });

    // HTTP dispatch as the worker: refused the same way.
    const http = await api.post<ToolResult>(`/v1/procs/${workerPid}/dispatch`, { tool: "mcp__fx__launch", arguments: { key } });
    expect(http.body).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied/) });

    // Checkpoint and restore: the restored process keeps the worker's narrowed rights,
    // even after its agent's spec is widened.
    const cp = await api.post(`/v1/procs/${workerPid}/checkpoint`);
    expect(cp.status).toBe(200);
    const restored = await api.post<Process>("/v1/procs/restore", { checkpointId: cp.body.checkpointId });
    expect(restored.status).toBe(201);
    expect(restored.body.tools.filter((t) => t.startsWith("mcp__"))).toEqual(["mcp__fx__lookup"]);
    await sleeping(api, restored.body.pid);
    const again = await api.post<ToolResult>(`/v1/procs/${restored.body.pid}/dispatch`, { tool: "mcp__fx__launch", arguments: { key } });
    expect(again.body).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied/) });

    expect(await launches(key)).toBe(0);
    const denied = (await auditOf(api)).filter((e) => e.event === "dispatch_denied" && e.data.tool === "mcp__fx__launch");
    expect(denied.map((e) => e.pid)).toEqual([workerPid, workerPid, restored.body.pid]);
  });

  it("a delegation's tools narrow MCP grants further, and a copilot with no MCP grant passes none on", async () => {
    const api = client(freshTenant());
    await registerServer(api);
    await register(api, "helper", { tools: ["mcp__fx__*", "read_file"], script: [{ text: "ok" }] });
    await registerCopilot(
      api,
      "boss",
      [{ toolCalls: [delegate("helper", "a", { tools: ["mcp__fx__set_*", "read_file"] }), delegate("helper", "b")] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }],
      { tools: ["read_file", "mcp__fx__*"] },
    );
    await registerCopilot(api, "plain", [{ toolCalls: [delegate("helper", "c", { tools: ["mcp__fx__*", "read_file"] })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { tools: ["read_file"] });
    const boss = await spawn(api, "boss");
    const done = collected((await waitExit(api, boss.pid)).result).completed;
    const tools = await Promise.all(done.map(async (t) => ((await api.get(`/v1/procs/${t.pid}`)).body as Process).tools.filter((n) => n.startsWith("mcp__")).sort()));
    const all = tools.find((t) => t.length > 1)!;
    expect(tools).toContainEqual(["mcp__fx__set_flag"]);
    expect(all).toContain("mcp__fx__launch");
    const plain = await spawn(api, "plain");
    const [only] = collected((await waitExit(api, plain.pid)).result).completed;
    expect(((await api.get(`/v1/procs/${only!.pid}`)).body as Process).tools).toEqual(["read_file"]);
  });
});
