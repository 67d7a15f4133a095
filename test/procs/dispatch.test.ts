import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEntry, Process, ToolResult } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until } from "../support/agents";

describe("POST /v1/procs/:pid/dispatch", () => {
  it("runs one tool as the process: its tools, its fs scopes and the dispatch hooks apply", async () => {
    const api = client(freshTenant());
    await api.call("PUT", "/v1/fs/docs/readme.md", "hello", { "content-type": "text/plain" });
    await register(api, "reader", { mode: "interactive", tools: ["read_file", "write_file"], fs: [{ path: "/docs/**", mode: "r" }], script: [{ text: "ready" }] });
    const p = await spawn(api, "reader");
    await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");

    const read = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "read_file", arguments: { path: "/docs/readme.md" } });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ name: "read_file", output: "hello", error: null, success: true });
    expect(read.body.toolCallId).toMatch(/^dispatch_/);
    expect(typeof read.body.durationMs).toBe("number");

    const write = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "write_file", arguments: { path: "/docs/readme.md", content: "defaced" } });
    expect(write.body).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied/) });
    const notGranted = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "delete_file", arguments: { path: "/docs/readme.md" } });
    expect(notGranted.body).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied: the tool delete_file/) });
    expect(await (await api.call("GET", "/v1/fs/docs/readme.md")).text()).toBe("hello");

    await api.put("/v1/hooks/no-secrets", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "read_*", path: "/docs/secret*" }, action: "deny", reason: "not for agents" }] });
    const vetoed = await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "read_file", arguments: { path: "/docs/secret.md" } });
    expect(vetoed.body).toMatchObject({ success: false, error: "vetoed by hook no-secrets: not for agents" });

    const receiver = `${env.HOOK_SERVER_URL}/hook/${crypto.randomUUID()}?status=500`;
    await api.put("/v1/hooks/observer", { kind: "webhook", url: receiver, events: ["post_dispatch"], secret: "k" });
    const observed = await api.post<ToolResult & { warnings?: unknown[] }>(`/v1/procs/${p.pid}/dispatch`, { tool: "read_file", arguments: { path: "/docs/readme.md" } });
    expect(observed.body).toMatchObject({ success: true, warnings: [{ severity: "degraded", component: "observer" }] });

    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as AuditEntry[];
    expect(audit.filter((e) => e.event === "dispatch_denied").map((e) => e.data.tool).sort()).toEqual(["delete_file", "write_file"]);
    expect(audit.some((e) => e.event === "dispatch_vetoed" && e.data.hook === "no-secrets")).toBe(true);
    expect(audit.some((e) => e.event === "hook_warning" && e.data.hookEvent === "post_dispatch")).toBe(true);
    // every dispatch counts as a tool call of the process
    expect(((await api.get(`/v1/procs/${p.pid}`)).body as Process).usage.toolCalls).toBe(5);

    await api.post(`/v1/procs/${p.pid}/kill`);
    const late = await api.post(`/v1/procs/${p.pid}/dispatch`, { tool: "read_file", arguments: { path: "/docs/readme.md" } });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("process_not_running");
    expect((await api.post(`/v1/procs/${p.pid}/dispatch`, { tool: "read_file", arguments: "nope" })).status).toBe(400);
    expect((await client(freshTenant(), "viewer").post(`/v1/procs/${p.pid}/dispatch`, { tool: "read_file", arguments: {} })).status).toBe(403);
  });
});
