import { describe, expect, it } from "vitest";
import type { Process } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit } from "../support/agents";
import { collect, collected, delegate, registerCopilot, TASK_TOOLS } from "../support/tasks";

const costly = (n: number, tokens: number) => [
  ...Array.from({ length: n }, () => ({ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }], usage: { inputTokens: tokens, outputTokens: 0 } })),
  { text: "worker best effort", usage: { inputTokens: tokens, outputTokens: 0 } },
];

describe("tree-wide budgets", () => {
  it("reserves from the parent's remainder, refuses when nothing is left, and returns the unused part on exit", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "cheap", usage: { inputTokens: 50, outputTokens: 0 } }] });
    await register(api, "sleeper", { script: [{ text: "late", delayMs: 60_000 }] });
    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, budget: { tokens: 1000 }, script: Array.from({ length: 20 }, () => ({ text: "ok", usage: { inputTokens: 10, outputTokens: 0 } })) });
    const hub = await spawn(api, "hub");
    await until(async () => (await api.get(`/v1/procs/${hub.pid}`)).body.state, (s) => s === "sleeping");
    const a = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "sleeper", message: "a", budget: { tokens: 600 }, deliveryPolicy: "on_demand" });
    expect((await api.get(`/v1/procs/${a.body.pid}`)).body.budget.limit).toEqual({ tokens: 600 });
    const b = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "sleeper", message: "b", budget: { tokens: 600 }, deliveryPolicy: "on_demand" });
    // clamped to what remains: 1000 - own usage (10) - 600 reserved
    expect((await api.get(`/v1/procs/${b.body.pid}`)).body.budget.limit).toEqual({ tokens: 390 });
    const c = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "sleeper", message: "c", budget: { tokens: 100 }, deliveryPolicy: "on_demand" });
    expect(c.status).toBe(422);
    expect(c.body.error).toMatchObject({ code: "limit_exceeded", details: { limit: "budget", dimension: "tokens" } });
    // a canceled worker used nothing: its whole reservation returns
    await api.post(`/v1/tasks/${a.body.taskId}/cancel`);
    const d = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "worker", message: "d", budget: { tokens: 500 }, deliveryPolicy: "on_demand" });
    expect((await api.get(`/v1/procs/${d.body.pid}`)).body.budget.limit).toEqual({ tokens: 500 });
    await waitExit(api, d.body.pid);
    // the worker's usage counts against the copilot
    expect(((await api.get(`/v1/procs/${hub.pid}`)).body as Process).budget.used.tokens).toBe(10 + 50);
  });

  it("exits 3 across the tree when the copilot's budget runs out, overshooting by at most one call per process", async () => {
    const api = client(freshTenant());
    const CALL = 100;
    const LIMIT = 1000;
    await register(api, "spender", { script: costly(20, CALL) });
    await registerCopilot(api, "thrifty", [{ toolCalls: [delegate("spender", "a"), delegate("spender", "b")], usage: { inputTokens: CALL, outputTokens: 0 } }, { toolCalls: [collect()], usage: { inputTokens: CALL, outputTokens: 0 } }, { text: "{{lastToolResult}}", usage: { inputTokens: CALL, outputTokens: 0 } }], {
      budget: { tokens: LIMIT },
    });
    const copilot = await spawn(api, "thrifty");
    const status = await waitExit(api, copilot.pid);
    const r = collected(status.result);
    // both workers stop with exit 3 once the copilot's budget is spent, after one last call without tools
    expect(r.failed.map((t) => t.reason)).toEqual(["budget exhausted", "budget exhausted"]);
    for (const t of r.failed) expect(((await api.get(`/v1/procs/${t.pid}`)).body as Process).budget.limit).toEqual({});
    const tree = ((await api.get(`/v1/procs/${copilot.pid}`)).body as Process).budget.used.tokens;
    expect(tree).toBeGreaterThanOrEqual(LIMIT);
    // three processes; each may overshoot by its in-flight call and its last call
    expect(tree).toBeLessThanOrEqual(LIMIT + 3 * 2 * CALL);
    expect(status.code === 0 || status.code === 3).toBe(true);
  });

  it("a worker's explicit budget caps it alone: exit 3 with its best answer, the copilot goes on", async () => {
    const api = client(freshTenant());
    await register(api, "spender", { script: costly(20, 100) });
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("spender", "x", { budget: { tokens: 300 } })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { budget: { tokens: 100_000 } });
    const copilot = await spawn(api, "boss");
    const status = await waitExit(api, copilot.pid);
    expect(status.code).toBe(0);
    const failed = collected(status.result).failed[0]!;
    expect(failed).toMatchObject({ state: "failed", reason: "budget exhausted" });
    const worker = (await api.get(`/v1/procs/${failed.pid}`)).body as Process;
    expect(worker.exit?.code).toBe(3);
    expect(worker.budget.used.tokens).toBeLessThanOrEqual(300 + 2 * 100);
  });
});
