import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Process } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until } from "../support/agents";
import { TASK_TOOLS } from "../support/tasks";

const sleeping = (api: ReturnType<typeof client>, pid: number) => until(async () => (await api.get(`/v1/procs/${pid}`)).body.state, (s) => s === "sleeping");

describe("HTTP dispatch obeys the budget and the loop's tool rules (hardening part 4)", () => {
  it("counts dispatches against budget.toolCalls and refuses past it, also under concurrency", async () => {
    const api = client(freshTenant());
    await register(api, "frugal", { mode: "interactive", tools: ["list_dir"], budget: { toolCalls: 5 }, script: [{ text: "ready" }] });
    const p = await spawn(api, "frugal");
    await sleeping(api, p.pid);
    const attempts = await Promise.all(Array.from({ length: 8 }, () => api.post(`/v1/procs/${p.pid}/dispatch`, { tool: "list_dir", arguments: { path: "/" } })));
    expect(attempts.filter((r) => r.status === 200)).toHaveLength(5);
    const refused = attempts.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(3);
    for (const r of refused) {
      expect(r.status).toBe(422);
      expect(r.body.error).toMatchObject({ code: "limit_exceeded", details: { limit: "budget", dimension: "toolCalls" } });
    }
    const after = (await api.get(`/v1/procs/${p.pid}`)).body as Process;
    expect(after.usage.toolCalls).toBe(5);
    expect(after.budget.used.toolCalls).toBe(5);
  });

  it("a worker's dispatches stop when its copilot's tree budget is spent", async () => {
    const api = client(freshTenant());
    await register(api, "helper", { mode: "interactive", tools: ["list_dir"], script: [{ text: "ready" }] });
    await register(api, "boss", { mode: "interactive", tools: [...TASK_TOOLS, "list_dir"], budget: { toolCalls: 2 }, script: [{ text: "ready" }] });
    const boss = await spawn(api, "boss");
    await sleeping(api, boss.pid);
    const task = await api.post(`/v1/procs/${boss.pid}/delegate`, { agent: "helper", message: "wait", deliveryPolicy: "on_demand" });
    expect(task.status).toBe(201);
    await sleeping(api, task.body.pid);
    const dispatch = () => api.post(`/v1/procs/${task.body.pid}/dispatch`, { tool: "list_dir", arguments: { path: "/" } });
    expect((await dispatch()).status).toBe(200);
    expect((await dispatch()).status).toBe(200);
    const third = await dispatch();
    expect(third.status).toBe(422);
    expect(third.body.error.code).toBe("limit_exceeded");
    expect(((await api.get(`/v1/procs/${boss.pid}`)).body as Process).budget.used.toolCalls).toBe(2);
  });

  it("refuses collect over dispatch and stores nothing the loop cannot finish", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, script: [{ text: "ready" }, { text: "still here" }] });
    const p = await spawn(api, "hub");
    await sleeping(api, p.pid);
    const res = await api.post(`/v1/procs/${p.pid}/dispatch`, { tool: "collect", arguments: { timeoutMs: 1000 } });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("tool_not_dispatchable");
    expect(res.body.error.message).toMatch(/collect/);
    // nothing is left waiting: no alarm is armed for a sleeping process, and it still answers messages
    const alarm = await runInDurableObject(env.PROCESS.getByName(`${tenant}/${p.pid}`), (_i, state) => state.storage.getAlarm());
    expect(alarm).toBeNull();
    expect(((await api.get(`/v1/procs/${p.pid}`)).body as Process).usage.toolCalls).toBe(0);
    expect((await api.post(`/v1/procs/${p.pid}/messages`, { content: "hello?" })).status).toBe(202);
    await until(async () => (await api.get(`/v1/procs/${p.pid}/messages`)).body.messages.at(-1)?.content, (c) => c === "still here");
  });
});
