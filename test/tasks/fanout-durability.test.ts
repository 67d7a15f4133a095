import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Process } from "../../src/contracts";
import { ScriptedModel } from "../../src/models/scripted";
import { KernelObject } from "../../src/objects/kernel";
import { ProcessObject } from "../../src/objects/process";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";
import { collect, collected, delegate, registerCopilot, tasksOf } from "../support/tasks";

afterEach(() => vi.restoreAllMocks());

const crash = async (tenant: string, pid: number) => {
  await runInDurableObject(env.PROCESS.getByName(`${tenant}/${pid}`), (_i, state) => state.abort("simulated crash")).catch(() => {});
};
const workersOf = async (api: Client, pid: number) => ((await api.get(`/v1/procs?parentPid=${pid}`)).body.processes as Process[]);

describe("fan-out", () => {
  it("delegates 100 workers in one turn and collects every result", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "result {{input}}" }] });
    const n = 100;
    await registerCopilot(api, "wide", [{ toolCalls: Array.from({ length: n }, (_, i) => delegate("worker", String(i), { deliveryPolicy: "on_demand" })) }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { limits: { maxChildren: n } });
    const p = await spawn(api, "wide");
    const r = collected((await waitExit(api, p.pid, 60_000)).result);
    expect(r.completed).toHaveLength(n);
    expect(r.completed.map((t) => t.result).sort()).toEqual(Array.from({ length: n }, (_, i) => `result ${i}`).sort());
    expect(new Set(r.completed.map((t) => t.pid)).size).toBe(n);
    expect(await workersOf(api, p.pid)).toHaveLength(n);
  });
});

describe("durability of a fan-out", () => {
  it("a copilot crashed while it waits in collect loses no result and spawns no duplicate", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "worker", { script: [{ text: "done {{input}}", delayMs: 400 }] });
    await registerCopilot(api, "boss", [{ toolCalls: ["a", "b", "c", "d", "e"].map((m) => delegate("worker", m)) }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }]);
    const p = await spawn(api, "boss");
    await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
    await crash(tenant, p.pid);
    const r = collected((await waitExit(api, p.pid)).result);
    expect(r.completed.map((t) => t.result).sort()).toEqual(["done a", "done b", "done c", "done d", "done e"]);
    expect(await workersOf(api, p.pid)).toHaveLength(5);
  });

  it("a copilot crashed in the middle of its delegating turn re-runs it without duplicating workers", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "worker", { script: [{ text: "done {{input}}" }] });
    await registerCopilot(api, "boss", [{ toolCalls: ["a", "b", "c"].map((m) => delegate("worker", m)) }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { parallelToolCalls: false });
    // The kernel makes the first task and its worker, but the answer never reaches the copilot.
    const real = KernelObject.prototype.delegateMany;
    let made = 0;
    vi.spyOn(KernelObject.prototype, "delegateMany").mockImplementationOnce(async function (this: KernelObject, ...args) {
      await real.apply(this, args);
      made++;
      return new Promise<never>(() => {});
    });
    // Results are held back until the copilot has re-run its turn, so it learns of the already-ended
    // first task from the kernel's replay before the delivery arrives.
    const held = () => vi.spyOn(ProcessObject.prototype, "deliverTasks").mockRejectedValue(new Error("not yet"));
    held();
    const p = await spawn(api, "boss");
    await until(async () => made, (n) => n === 1);
    await crash(tenant, p.pid);
    await until(() => tasksOf(api, p.pid), (t) => t.length === 1 && t[0]!.status.state === "completed");
    vi.restoreAllMocks();
    held();
    expect(await runDurableObjectAlarm(env.PROCESS.getByName(`${tenant}/${p.pid}`))).toBe(true);
    await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
    vi.restoreAllMocks();
    const r = collected((await waitExit(api, p.pid)).result);
    expect(r.completed.map((t) => t.result).sort()).toEqual(["done a", "done b", "done c"]);
    expect(await workersOf(api, p.pid)).toHaveLength(3);
    expect(await tasksOf(api, p.pid)).toHaveLength(3);
  });

  it("workers crashed mid-step finish, and their results still arrive once", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "worker", { script: [{ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] }, { text: "done {{input}}", delayMs: 300 }] });
    await registerCopilot(api, "boss", [{ toolCalls: ["a", "b", "c"].map((m) => delegate("worker", m)) }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], { tools: ["list_dir"] });
    const generate = vi.spyOn(ScriptedModel.prototype, "generate");
    const p = await spawn(api, "boss");
    const workers = await until(() => workersOf(api, p.pid), (w) => w.length === 3);
    await until(async () => generate.mock.calls.length, (n) => n >= 5);
    for (const w of workers) await crash(tenant, w.pid);
    const r = collected((await waitExit(api, p.pid)).result);
    expect(r.completed.map((t) => t.result).sort()).toEqual(["done a", "done b", "done c"]);
    const events = await (await api.call("GET", `/v1/procs/${p.pid}/events`)).text();
    for (const t of r.completed) expect(events.split(`"taskId":"${t.taskId}"`).length - 1).toBeGreaterThanOrEqual(1);
    expect((await api.get("/v1/audit/verify")).body.ok).toBe(true);
  });

  it("a delivery that fails is retried until it lands, and is applied once", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "worker", { script: [{ text: "done" }] });
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("worker", "a")] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }]);
    const deliver = vi.spyOn(ProcessObject.prototype, "deliverTasks").mockRejectedValueOnce(new Error("copilot unavailable"));
    const p = await spawn(api, "boss");
    const r = collected((await waitExit(api, p.pid)).result);
    expect(r.completed.map((t) => t.result)).toEqual(["done"]);
    expect(deliver.mock.calls.length).toBeGreaterThanOrEqual(2);
    // delivering the same result again changes nothing
    await runInDurableObject(env.PROCESS.getByName(`${tenant}/${p.pid}`), async (instance: ProcessObject) => {
      await instance.deliverTask({ ...r.completed[0]!, state: "failed", result: "tampered" }, "immediate");
    });
    expect((await api.get(`/v1/tasks/${r.completed[0]!.taskId}`)).body.status.state).toBe("completed");
    const convo = (await api.get(`/v1/procs/${p.pid}/messages`)).body.messages as { content: string }[];
    expect(convo.some((m) => m.content.includes("tampered"))).toBe(false);
  });

  it("survives eviction of the kernel mid fan-out", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "worker", { script: [{ text: "done {{input}}", delayMs: 300 }] });
    await registerCopilot(api, "boss", [{ toolCalls: ["a", "b", "c", "d"].map((m) => delegate("worker", m)) }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }]);
    const p = await spawn(api, "boss");
    await until(() => workersOf(api, p.pid), (w) => w.length === 4);
    await evictDurableObject(env.KERNEL.getByName(tenant));
    const r = collected((await waitExit(api, p.pid)).result);
    expect(r.completed).toHaveLength(4);
  });
});
