import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Budget, BudgetUse, Process } from "../../src/contracts";
import { LEASE_SLICES } from "../../src/kernel/leases";
import { KernelObject } from "../../src/objects/kernel";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit } from "../support/agents";
import { collect, collected, delegate, registerCopilot, TASK_TOOLS } from "../support/tasks";

afterEach(() => vi.restoreAllMocks());

/** `n` steps of one tool call each, `tokens` a model call, then a final answer. */
const steps = (n: number, tokens: number) => [
  ...Array.from({ length: n }, () => ({ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }], usage: { inputTokens: tokens, outputTokens: 0 } })),
  { text: "worker done", usage: { inputTokens: tokens, outputTokens: 0 } },
];

/** A process's lease and its subtree's running sum of leases, as the kernel's table holds them. */
async function leases(tenant: string, pid: number): Promise<{ lease: Budget | null; leased: BudgetUse | null }> {
  return runInDurableObject(env.KERNEL.getByName(tenant), (_instance, state) => {
    const row = state.storage.sql.exec<{ lease: string | null; leased: string | null }>("SELECT lease, leased FROM procs WHERE pid = ?", pid).one();
    return { lease: row.lease ? JSON.parse(row.lease) : null, leased: row.leased ? JSON.parse(row.leased) : null };
  });
}

describe("budget leases", () => {
  it("keeps a tree of workers running in parallel within its budget, by one call per process at most, and stops them with exit 3", async () => {
    const api = client(freshTenant());
    const CALL = 10;
    const LIMIT = 1600;
    const WORKERS = 20;
    // More workers than slices: the budget's headroom is all leased out at times, and those without a lease wait for one.
    await register(api, "spender", { script: steps(90, CALL), maxTurns: 100 });
    await registerCopilot(
      api,
      "thrifty",
      [
        { toolCalls: Array.from({ length: WORKERS }, (_, i) => delegate("spender", String(i), { deliveryPolicy: "on_demand" })), usage: { inputTokens: CALL, outputTokens: 0 } },
        { toolCalls: [collect()], usage: { inputTokens: CALL, outputTokens: 0 } },
        { text: "{{lastToolResult}}", usage: { inputTokens: CALL, outputTokens: 0 } },
      ],
      { budget: { tokens: LIMIT }, limits: { maxChildren: WORKERS } },
    );
    const copilot = await spawn(api, "thrifty");
    const status = await waitExit(api, copilot.pid, 60_000);
    const r = collected(status.result);
    // a worker needs 910 tokens, 20 of them far more than 1600: every worker stops with its last call, none finishes
    expect(r.completed).toEqual([]);
    expect(r.failed.map((t) => t.reason)).toEqual(Array.from({ length: WORKERS }, () => "budget exhausted"));
    const tree = ((await api.get(`/v1/procs/${copilot.pid}`)).body as Process).budget.used.tokens;
    // stopped only once the budget was spent, never early for what others held leased
    expect(tree).toBeGreaterThanOrEqual(LIMIT);
    // each process may overshoot by its in-flight call and its last call
    expect(tree).toBeLessThanOrEqual(LIMIT + (WORKERS + 1) * 2 * CALL);
  }, 60_000);

  it("asks the kernel about once per lease, not once per step", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    const STEPS = 90;
    // a slice of 16_000 is 1000 tokens: 91 calls of 10 fit in one lease
    await register(api, "worker", { script: steps(STEPS, 10), maxTurns: 100 });
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("worker", "x", { deliveryPolicy: "on_demand" })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { budget: { tokens: 16_000 } });
    const report = vi.spyOn(KernelObject.prototype, "report");
    const copilot = await spawn(api, "boss");
    const r = collected((await waitExit(api, copilot.pid)).result);
    const worker = r.completed[0]!;
    expect(worker.result).toBe("worker done");
    const reports = report.mock.calls.filter(([pid]) => pid === worker.pid).length;
    // its first report of the incarnation brings its lease; the rest are at most one a REPORT_INTERVAL_MS for the table's view
    expect(reports).toBeGreaterThanOrEqual(1);
    expect(reports).toBeLessThan(STEPS / 3);
    // its usage is exact once it exited
    expect(((await api.get(`/v1/procs/${worker.pid}`)).body as Process).budget.used.tokens).toBe((STEPS + 1) * 10);
  });

  it("reports when its lease is spent: a small budget's worker reports about once a slice", async () => {
    const api = client(freshTenant());
    const STEPS = 40;
    // a slice of 1600 is 100 tokens: 10 calls of 10
    await register(api, "worker", { script: steps(STEPS, 10) });
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("worker", "x", { deliveryPolicy: "on_demand" })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { budget: { tokens: 1600 } });
    const report = vi.spyOn(KernelObject.prototype, "report");
    const copilot = await spawn(api, "boss");
    const worker = collected((await waitExit(api, copilot.pid)).result).completed[0]!;
    const reports = report.mock.calls.filter(([pid]) => pid === worker.pid).length;
    // 410 tokens at 100 a lease: at least 4 renewals, far fewer than 41 steps
    expect(reports).toBeGreaterThanOrEqual(Math.floor(((STEPS + 1) * 10) / (1600 / LEASE_SLICES)));
    expect(reports).toBeLessThan(STEPS / 2);
  });

  it("gives back the unused lease at exit: the ancestors' sums return to zero and the next worker gets a full slice", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    const LIMIT = 1600;
    await register(api, "quick", { script: steps(2, 10) });
    await register(api, "slow", { script: [{ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }], usage: { inputTokens: 10, outputTokens: 0 } }, { text: "late", delayMs: 60_000 }] });
    await register(api, "hub", { mode: "interactive", tools: TASK_TOOLS, budget: { tokens: LIMIT }, script: Array.from({ length: 5 }, () => ({ text: "ok", usage: { inputTokens: 10, outputTokens: 0 } })) });
    const hub = await spawn(api, "hub");
    await until(async () => (await api.get(`/v1/procs/${hub.pid}`)).body.state, (s) => s === "sleeping");
    const a = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "quick", message: "a", deliveryPolicy: "on_demand" });
    await waitExit(api, a.body.pid);
    // the worker's lease went back at its exit; the hub sleeps, so it holds none either
    expect(await leases(tenant, a.body.pid)).toEqual({ lease: null, leased: { tokens: 0, toolCalls: 0, wallMs: 0 } });
    expect((await leases(tenant, hub.pid)).leased).toEqual({ tokens: 0, toolCalls: 0, wallMs: 0 });
    expect(((await api.get(`/v1/procs/${hub.pid}`)).body as Process).budget.used.tokens).toBe(10 + 30);
    // the next worker's lease is a full slice of the limit
    const b = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "slow", message: "b", deliveryPolicy: "on_demand" });
    const slice = Math.ceil(LIMIT / LEASE_SLICES);
    expect((await until(() => leases(tenant, b.body.pid), (l) => l.lease !== null)).lease).toEqual({ tokens: slice });
    expect((await leases(tenant, hub.pid)).leased).toEqual({ tokens: slice, toolCalls: 0, wallMs: 0 });
    await api.post(`/v1/procs/${b.body.pid}/kill`, {});
    await waitExit(api, b.body.pid);
    expect((await leases(tenant, hub.pid)).leased).toEqual({ tokens: 0, toolCalls: 0, wallMs: 0 });
  });
});
