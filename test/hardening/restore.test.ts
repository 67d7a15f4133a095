import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditEntry, Process, ToolResult } from "../../src/contracts";
import type { KernelObject } from "../../src/objects/kernel";
import { client, freshTenant } from "../support/http";
import { register, spawn, until } from "../support/agents";
import { TASK_TOOLS } from "../support/tasks";

type Api = ReturnType<typeof client>;
const stateOf = async (api: Api, pid: number) => ((await api.get(`/v1/procs/${pid}`)).body as Process).state;
const sleeping = (api: Api, pid: number) => until(() => stateOf(api, pid), (s) => s === "sleeping");

describe("restore never widens rights (hardening part 3)", () => {
  it("a restored worker keeps its effective tools, fs scopes, limits, depth and budget remainder", async () => {
    const api = client(freshTenant());
    await register(api, "scribe", { mode: "interactive", limits: { maxChildren: 7, maxDepth: 5 }, script: Array.from({ length: 5 }, () => ({ text: "noted", usage: { inputTokens: 40, outputTokens: 0 } })) });
    await register(api, "lead", {
      mode: "interactive",
      tools: [...TASK_TOOLS, "read_file", "write_file"],
      fs: [{ path: "/notes/**", mode: "rw" }],
      budget: { tokens: 1000 },
      limits: { maxChildren: 3, maxDepth: 2 },
      script: [{ text: "ready", usage: { inputTokens: 10, outputTokens: 0 } }],
    });
    await api.call("PUT", "/v1/fs/notes/a.md", "alpha");
    const lead = await spawn(api, "lead");
    await sleeping(api, lead.pid);
    const task = await api.post(`/v1/procs/${lead.pid}/delegate`, { agent: "scribe", message: "hi", tools: ["read_file"], fs: [{ path: "/notes/**", mode: "r" }], budget: { tokens: 500 } });
    expect(task.status).toBe(201);
    await sleeping(api, task.body.pid);
    const worker = (await api.get(`/v1/procs/${task.body.pid}`)).body as Process;
    expect(worker.tools).toEqual(["read_file"]);

    const cp = await api.post(`/v1/procs/${worker.pid}/checkpoint`);
    expect(cp.status).toBe(200);
    const restored = await api.post<Process>("/v1/procs/restore", { checkpointId: cp.body.checkpointId });
    expect(restored.status).toBe(201);
    const r = restored.body;
    expect(r.parentPid).toBeNull();
    expect(r.tools).toEqual(["read_file"]);
    expect(r.fs).toEqual([{ path: "/notes/**", mode: "r" }]);
    expect(r.depth).toBe(worker.depth);
    // the worker's reservation (500) less what it used (40)
    expect(r.budget.limit).toEqual({ tokens: 460 });
    const row = (await api.get(`/v1/procs/${r.pid}`)).body as Process;
    expect(row.tools).toEqual(["read_file"]);

    // and it really cannot do more than the worker could
    await sleeping(api, r.pid);
    const write = await api.post<ToolResult>(`/v1/procs/${r.pid}/dispatch`, { tool: "write_file", arguments: { path: "/notes/a.md", content: "defaced" } });
    expect(write.body).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied/) });
    const outside = await api.post<ToolResult>(`/v1/procs/${r.pid}/dispatch`, { tool: "read_file", arguments: { path: "/etc/passwd" } });
    expect(outside.body).toMatchObject({ success: false });
    expect(await (await api.call("GET", "/v1/fs/notes/a.md")).text()).toBe("alpha");

    // the restore's audit entry comes with the new process's spawn entry
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as AuditEntry[];
    const spawnEntry = audit.find((e) => e.event === "spawn" && e.pid === r.pid)!;
    const restoreEntry = audit.find((e) => e.event === "restore" && e.pid === r.pid)!;
    expect(restoreEntry.data).toEqual({ checkpointId: cp.body.checkpointId, fromPid: worker.pid });
    expect(restoreEntry.seq).toBe(spawnEntry.seq + 1);
  });

  it("a restore of a process whose budget is spent is refused", async () => {
    const api = client(freshTenant());
    await register(api, "tight", { mode: "interactive", tools: ["list_dir"], budget: { toolCalls: 1 }, script: [{ text: "ready" }] });
    const p = await spawn(api, "tight");
    await sleeping(api, p.pid);
    expect((await api.post(`/v1/procs/${p.pid}/dispatch`, { tool: "list_dir", arguments: {} })).status).toBe(200);
    const cp = await api.post(`/v1/procs/${p.pid}/checkpoint`);
    const restored = await api.post("/v1/procs/restore", { checkpointId: cp.body.checkpointId });
    expect(restored.status).toBe(422);
    expect(restored.body.error).toMatchObject({ code: "limit_exceeded", details: { dimension: "toolCalls" } });
    const procs = (await api.get("/v1/procs")).body.processes as Process[];
    expect(procs.map((x) => x.pid)).toEqual([p.pid]);
  });

  it("a checkpoint that fails to save leaves the process as it was", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "chatty", { mode: "interactive", script: [{ text: "ready" }, { text: "still going" }] });
    const p = await spawn(api, "chatty");
    await sleeping(api, p.pid);
    await runInDurableObject(env.KERNEL.getByName(tenant), (instance: KernelObject) => {
      const store = (instance as unknown as { checkpoints: { save: () => void } }).checkpoints;
      store.save = () => {
        throw new Error("disk full");
      };
    });
    const cp = await api.post(`/v1/procs/${p.pid}/checkpoint`);
    expect(cp.status).toBe(500);
    expect(cp.body.error.code).toBe("internal");
    expect(await stateOf(api, p.pid)).toBe("sleeping");
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as AuditEntry[];
    expect(audit.some((e) => e.event === "checkpoint")).toBe(false);
    // not left paused: a message runs the next step
    expect((await api.post(`/v1/procs/${p.pid}/messages`, { content: "more" })).status).toBe(202);
    await until(async () => (await api.get(`/v1/procs/${p.pid}/messages`)).body.messages.at(-1)?.content, (c) => c === "still going");
  });
});
