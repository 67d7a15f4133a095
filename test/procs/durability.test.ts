import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Message } from "../../src/contracts";
import { ScriptedModel } from "../../src/models/scripted";
import { KernelObject } from "../../src/objects/kernel";
import { WorkspaceObject } from "../../src/objects/workspace";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";

/** A promise that never settles: a step held at a chosen point until its object is evicted. */
const forever = () => new Promise<never>(() => {});
type RunTool = WorkspaceObject["runTool"];
/** runTool is synchronous in the object, but over RPC a pending promise holds the caller just the same. */
const asRunTool = (impl: (this: WorkspaceObject, ...args: Parameters<RunTool>) => unknown) => impl as unknown as RunTool;

const write = (path: string, content: string) => ({ name: "write_file", arguments: { path, content } });

async function conversation(api: Client, pid: number): Promise<Message[]> {
  return (await api.get(`/v1/procs/${pid}/messages`)).body.messages;
}

/** Every tool call of the conversation has exactly one result, and no call id appears twice. */
function expectOneResultPerCall(messages: Message[]) {
  const calls = messages.flatMap((m) => (m.role === "assistant" ? (m.toolCalls ?? []).map((c) => c.id) : []));
  const results = messages.flatMap((m) => (m.role === "tool" ? [m.toolCallId] : []));
  expect(new Set(calls).size).toBe(calls.length);
  expect(results.sort()).toEqual([...calls].sort());
}

/**
 * Crashes a process object held mid-step (`ctx.abort()` resets it at once, dropping the in-flight
 * step, as a machine failure would; a graceful eviction would wait for the step instead), then fires
 * the deadman alarm it armed before the step, as the platform would after its delay.
 */
async function crashAndRecover(tenant: string, pid: number) {
  const name = `${tenant}/${pid}`;
  await runInDurableObject(env.PROCESS.getByName(name), (_instance, state) => state.abort("simulated crash")).catch(() => {});
  vi.restoreAllMocks();
  const after = { generate: vi.spyOn(ScriptedModel.prototype, "generate"), runTool: vi.spyOn(WorkspaceObject.prototype, "runTool") };
  // A stub that saw an exception is broken: take a fresh one.
  expect(await runDurableObjectAlarm(env.PROCESS.getByName(name))).toBe(true);
  return after;
}

afterEach(() => vi.restoreAllMocks());

describe("durability: a process evicted at any point of a step resumes from its last persisted step", () => {
  it("mid model call: the unpersisted call is made again, with the same script step", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ toolCalls: [write("/one", "1")] }, { text: "finished" }] });
    const generate = vi.spyOn(ScriptedModel.prototype, "generate").mockImplementationOnce(forever);
    const p = await spawn(api, "a");
    await until(async () => generate.mock.calls.length, (n) => n === 1);
    const after = await crashAndRecover(tenant, p.pid);
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "finished" });
    expect(after.generate.mock.calls.map((c) => c[1])).toEqual([0, 1]);
    expect(await (await api.call("GET", "/v1/fs/one")).text()).toBe("1");
  });

  it("after the model answer is persisted, before its tools run: the model is not asked again", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ toolCalls: [write("/two", "2")] }, { text: "finished" }] });
    const generate = vi.spyOn(ScriptedModel.prototype, "generate");
    const runTool = vi.spyOn(WorkspaceObject.prototype, "runTool").mockImplementationOnce(asRunTool(forever));
    const p = await spawn(api, "a");
    await until(async () => runTool.mock.calls.length, (n) => n === 1);
    expect(generate).toHaveBeenCalledTimes(1);
    const after = await crashAndRecover(tenant, p.pid);
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "finished" });
    expect(after.generate.mock.calls.map((c) => c[1])).toEqual([1]);
    expect(after.runTool).toHaveBeenCalledTimes(1);
    const messages = await conversation(api, p.pid);
    expectOneResultPerCall(messages);
    expect(messages.filter((m) => m.role === "assistant")).toHaveLength(2);
  });

  it("after some of a turn's tool results are persisted: only the missing calls run again", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ toolCalls: [write("/a", "A"), write("/b", "B"), write("/c", "C")] }, { text: "{{lastToolResult}}" }] });
    const real = WorkspaceObject.prototype.runTool;
    const runTool = vi.spyOn(WorkspaceObject.prototype, "runTool").mockImplementation(
      asRunTool(function (name, args, scopes) {
        // /b hangs; /a and /c complete and are persisted.
        if ((args as { path: string }).path === "/b") return forever();
        return real.call(this, name, args, scopes);
      }),
    );
    const p = await spawn(api, "a");
    await until(async () => (await conversation(api, p.pid)).filter((m) => m.role === "tool").length, (n) => n === 2);
    expect(runTool).toHaveBeenCalledTimes(3);
    const { runTool: again } = await crashAndRecover(tenant, p.pid);
    const status = await waitExit(api, p.pid);
    expect(status).toMatchObject({ code: 0, result: "wrote 1 bytes to /a\nwrote 1 bytes to /b\nwrote 1 bytes to /c" });
    expect(again.mock.calls.map((c) => (c[1] as { path: string }).path)).toEqual(["/b"]);
    expectOneResultPerCall(await conversation(api, p.pid));
  });

  it("a file tool that took effect before the crash is not applied again when its call re-runs", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await api.call("PUT", "/v1/fs/counter.txt", "a", { "content-type": "text/plain" });
    await register(api, "a", { script: [{ toolCalls: [{ name: "edit_file", arguments: { path: "/counter.txt", oldText: "a", newText: "aa" } }] }, { text: "{{lastToolResult}}" }] });
    const real = WorkspaceObject.prototype.runTool;
    // The workspace applies the edit, but its answer never reaches the process.
    const runTool = vi.spyOn(WorkspaceObject.prototype, "runTool").mockImplementationOnce(
      asRunTool(function (...args) {
        real.apply(this, args);
        return forever();
      }),
    );
    const p = await spawn(api, "a");
    await until(async () => runTool.mock.calls.length, (n) => n === 1);
    const after = await crashAndRecover(tenant, p.pid);
    const status = await waitExit(api, p.pid);
    expect(after.runTool).toHaveBeenCalledTimes(1);
    // Re-applied, the edit would fail ("a" now occurs twice) or double the text; it answers its first outcome.
    expect(status).toMatchObject({ code: 0, result: expect.not.stringContaining("Error") });
    expect(await (await api.call("GET", "/v1/fs/counter.txt")).text()).toBe("aa");
  });

  it("between steps (paused, evicted, resumed): nothing is repeated", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ toolCalls: [write("/s1", "1")] }, { toolCalls: [write("/s2", "2")] }, { text: "finished" }] });
    const generate = vi.spyOn(ScriptedModel.prototype, "generate");
    const real = WorkspaceObject.prototype.runTool;
    let pid = 0;
    // The pause lands while step 1's tool runs: step 1 completes and persists, step 2 never starts.
    const runTool = vi.spyOn(WorkspaceObject.prototype, "runTool").mockImplementationOnce(
      asRunTool(async function (...args) {
        await until(async () => pid, (n) => n > 0);
        await api.post(`/v1/procs/${pid}/pause`);
        return real.apply(this, args);
      }),
    );
    pid = (await spawn(api, "a")).pid;
    await until(() => conversation(api, pid), (m) => m.some((x) => x.role === "tool"));
    const stub = env.PROCESS.getByName(`${tenant}/${pid}`);
    await evictDurableObject(stub); // graceful: waits for the step in flight to finish
    expect(generate).toHaveBeenCalledTimes(1);
    expect((await api.get(`/v1/procs/${pid}`)).body.state).toBe("paused");
    expect(await runDurableObjectAlarm(env.PROCESS.getByName(`${tenant}/${pid}`))).toBe(false);
    await api.post(`/v1/procs/${pid}/resume`);
    expect(await waitExit(api, pid)).toMatchObject({ code: 0, result: "finished" });
    expect(generate.mock.calls.map((c) => c[1])).toEqual([0, 1, 2]);
    expect(runTool).toHaveBeenCalledTimes(2);
    expectOneResultPerCall(await conversation(api, pid));
  });

  it("during a retry backoff: the retry happens once, at its persisted time", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ error: { status: 429, message: "slow down" } }, { text: "finished" }] });
    const generate = vi.spyOn(ScriptedModel.prototype, "generate");
    const p = await spawn(api, "a");
    await until(async () => generate.mock.calls.length, (n) => n === 1);
    await evictDurableObject(env.PROCESS.getByName(`${tenant}/${p.pid}`));
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "finished" });
    expect(generate.mock.calls.map((c) => c[1])).toEqual([0, 1]);
  });

  it("when the exit report to the kernel fails, it is retried until it lands, and terminate is audited once", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ text: "finished" }] });
    const exited = vi.spyOn(KernelObject.prototype, "exited").mockRejectedValueOnce(new Error("kernel unavailable"));
    const p = await spawn(api, "a");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "finished" });
    expect(exited.mock.calls.length).toBeGreaterThanOrEqual(2);
    const audit = (await api.get("/v1/audit")).body.entries as { event: string }[];
    expect(audit.filter((e) => e.event === "terminate")).toHaveLength(1);
  });

  it("survives eviction of the kernel while processes run", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ toolCalls: [write("/k", "k")], delayMs: 300 }, { text: "finished", delayMs: 300 }] });
    const p = await spawn(api, "a");
    await evictDurableObject(env.KERNEL.getByName(tenant));
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "finished" });
    expect((await api.get(`/v1/procs/${p.pid}`)).body).toMatchObject({ state: "stopped", turnCount: 1 });
    expect((await api.get("/v1/audit/verify")).body.ok).toBe(true);
  });
});
