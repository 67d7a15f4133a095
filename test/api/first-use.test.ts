/**
 * Issue 14 part 7, "first use without surprises": tool names that exist nowhere are refused
 * (`422 unknown_tool`, naming them and the known tools), a process that starts with no tools says
 * so and why, and the process stream speaks the table's words for states (`zombie` at exit).
 */
import { describe, expect, it } from "vitest";
import { ALL_TOOL_NAMES } from "../../src/contracts/tools";
import { emptyToolsReason, unknownToolPatterns, unknownToolsFailure } from "../../src/agent/capabilities";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";
import { delegate, registerCopilot } from "../support/tasks";

describe("unknown tool names (pure)", () => {
  it("finds names and patterns that match no known tool, against the list it is given", () => {
    expect(unknownToolPatterns(["read_file", "write_fiel", "wirte_*", "write_*", "*"])).toEqual(["write_fiel", "wirte_*"]);
    expect(unknownToolPatterns(["mcp_search"], [...ALL_TOOL_NAMES, "mcp_search"])).toEqual([]);
    expect(unknownToolsFailure([], "x")).toBeNull();
    const f = unknownToolsFailure(["write_fiel"], "agent a's tools")!;
    expect(f).toMatchObject({ status: 422, code: "unknown_tool", details: { unknown: ["write_fiel"], known: ALL_TOOL_NAMES } });
    expect(f.message).toMatch(/^Unknown tool "write_fiel" in agent a's tools\. Known tools: read_file, /);
    for (const name of ALL_TOOL_NAMES) expect(f.message).toContain(name);
  });

  it("says why effective tools came out empty", () => {
    expect(emptyToolsReason([], null)).toBeNull();
    expect(emptyToolsReason(["read_file"], { label: "p", tools: ["read_file"] })).toBeNull();
    expect(emptyToolsReason(["read_file"], { label: "its copilot (process 2)", tools: ["delegate"] })).toMatch(/its copilot \(process 2\) holds none of the tools the agent lists \(read_file\)/);
    expect(emptyToolsReason(["read_file"], { label: "p", tools: ["read_file"] }, ["write_*"])).toMatch(/the delegation asked only for write_\*/);
  });
});

describe("PUT /v1/agents/:name with unknown tools", () => {
  it("refuses a misspelt tool with 422 unknown_tool naming it and the known tools", async () => {
    const api = client(freshTenant());
    const res = await api.put("/v1/agents/typo", { model: "scripted", tools: ["read_file", "write_fiel"], script: [{ text: "x" }] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("unknown_tool");
    expect(res.body.error.message).toContain("write_fiel");
    expect(res.body.error.message).toContain("write_file");
    expect(res.body.error.details).toMatchObject({ unknown: ["write_fiel"] });
    expect((await api.get("/v1/agents/typo")).status).toBe(404);
  });

  it("refuses a glob that matches no tool, and accepts one that does", async () => {
    const api = client(freshTenant());
    const res = await api.put("/v1/agents/globby", { model: "scripted", tools: ["wirte_*"], script: [{ text: "x" }] });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "unknown_tool", details: { unknown: ["wirte_*"] } });
    expect(res.body.error.message).toContain("wirte_*");
    expect((await api.put("/v1/agents/globby", { model: "scripted", tools: ["write_*", "*_dir"], script: [{ text: "x" }] })).status).toBe(200);
    // no tools at all is a choice, not a typo
    expect((await api.put("/v1/agents/mute", { model: "scripted", tools: [], script: [{ text: "x" }] })).status).toBe(200);
  });
});

describe("delegations with unknown tools", () => {
  it("POST /v1/procs/:pid/delegate answers 422 unknown_tool and makes no task", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "ok" }] });
    await register(api, "hub", { mode: "interactive", tools: ["delegate", "collect", "write_file"], script: [{ text: "ready" }] });
    const hub = await spawn(api, "hub", "start");
    const res = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "worker", message: "go", tools: ["write_fiel"] });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("unknown_tool");
    expect(res.body.error.message).toContain("write_fiel");
    const glob = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "worker", message: "go", tools: ["wirte_*"] });
    expect(glob.status).toBe(422);
    expect(glob.body.error.code).toBe("unknown_tool");
    expect((await api.get(`/v1/tasks?copilotPid=${hub.pid}`)).body.tasks).toEqual([]);
    await api.post(`/v1/procs/${hub.pid}/kill`, {});
  });

  it("the delegate tool turns it into an error tool result the model reads", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "ok" }] });
    await registerCopilot(api, "lead", [{ toolCalls: [delegate("worker", "go", { tools: ["write_fiel"] })] }, { text: "{{lastToolResult}}" }], { tools: ["write_file"] });
    const lead = await spawn(api, "lead");
    const status = await waitExit(api, lead.pid);
    expect(status.code).toBe(0);
    expect(status.result).toMatch(/^Error: unknown_tool: Unknown tool "write_fiel" in the delegation's tools\. Known tools: .*write_file/);
    expect((await api.get(`/v1/tasks?copilotPid=${lead.pid}`)).body.tasks).toEqual([]);
  });
});

describe("empty effective tools", () => {
  const warning = { severity: "degraded", component: "capabilities", message: expect.stringMatching(/effective tools are empty because/) };

  it("a delegation whose worker gets no tools answers normally, with a degraded warning on the answer and the worker's row", async () => {
    const api = client(freshTenant());
    await register(api, "reader", { tools: ["read_file", "grep"], script: [{ text: "nothing to read with" }] });
    await register(api, "hub", { mode: "interactive", tools: ["delegate", "collect", "write_file"], script: [{ text: "ready" }] });
    const hub = await spawn(api, "hub", "start");
    const res = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "reader", message: "go" });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([warning]);
    expect(res.body.warnings[0].message).toMatch(/its copilot \(process \d+\) holds none of the tools the agent lists \(read_file, grep\)/);
    const worker = await api.get(`/v1/procs/${res.body.pid}`);
    expect(worker.body.tools).toEqual([]);
    const status = await waitExit(api, res.body.pid);
    expect(status).toMatchObject({ code: 0, warnings: [warning] });
    // a worker that keeps some tools carries no such warning
    await register(api, "writer", { tools: ["write_file"], script: [{ text: "w" }] });
    const fine = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "writer", message: "go" });
    expect(fine.status).toBe(201);
    expect(fine.body.warnings).toBeUndefined();
    await api.post(`/v1/procs/${hub.pid}/kill`, {});
  });

  it("a spawn under a parent that lacks them all carries the warning on the process it answers", async () => {
    const api = client(freshTenant());
    await register(api, "reader", { tools: ["read_file"], script: [{ text: "x" }] });
    await register(api, "parent", { mode: "interactive", tools: ["write_file"], script: [{ text: "ready" }] });
    const parent = await spawn(api, "parent", "start");
    const child = await api.post("/v1/procs", { agent: "reader", input: "go", parentPid: parent.pid });
    expect(child.status).toBe(201);
    expect(child.body.tools).toEqual([]);
    expect(child.body.warnings).toEqual([warning]);
    expect(child.body.warnings[0].message).toContain(`its parent (process ${parent.pid})`);
    // not a hook's warning: no hook_warning audit entry
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries.map((e: { event: string }) => e.event);
    expect(audit).not.toContain("hook_warning");
    await api.post(`/v1/procs/${parent.pid}/kill`, {});
  });
});

describe("the process stream's state words", () => {
  it("emits state zombie at exit, as the table says", async () => {
    const api = client(freshTenant());
    await register(api, "brief", { script: [{ text: "done" }] });
    const p = await spawn(api, "brief");
    await waitExit(api, p.pid);
    const text = await (await api.call("GET", `/v1/procs/${p.pid}/events`)).text();
    const states = [...text.matchAll(/event: state\ndata: (.+)\n/g)].map((m) => JSON.parse(m[1]!).state);
    expect(states.at(-1)).toBe("zombie");
    expect(states).not.toContain("exited");
    for (const s of states) expect(["running", "sleeping", "paused", "zombie"]).toContain(s);
  });
});
