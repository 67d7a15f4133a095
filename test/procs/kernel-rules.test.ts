import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Process } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";

const sleeper = { mode: "interactive" as const, script: [{ text: "ready" }] };

describe("singleton agents", () => {
  it("admits exactly one live process under concurrent spawns, even across a slow pre_spawn hook", async () => {
    const api = client(freshTenant());
    await register(api, "solo", { ...sleeper, singleton: true });
    // A webhook that answers after 100 ms makes every spawn await it, so all five interleave.
    await api.put("/v1/hooks/slow-gate", { kind: "webhook", url: `${env.HOOK_SERVER_URL}/hook/${crypto.randomUUID()}?delayMs=100`, events: ["pre_spawn"], secret: "s" });
    const answers = await Promise.all(Array.from({ length: 5 }, () => api.post("/v1/procs", { agent: "solo", input: "x" })));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses).toEqual([201, 409, 409, 409, 409]);
    const winner = answers.find((a) => a.status === 201)!.body as Process;
    for (const loser of answers.filter((a) => a.status === 409)) {
      expect(loser.body.error).toMatchObject({ code: "process_already_running", details: { pid: winner.pid } });
    }
    expect((await api.get("/v1/procs?agent=solo")).body.processes).toHaveLength(1);
    // once it exits, the agent may run again
    await api.post(`/v1/procs/${winner.pid}/kill`);
    expect((await api.post("/v1/procs", { agent: "solo", input: "again" })).status).toBe(201);
  });
});

describe("idempotency keys", () => {
  it("return the same process for the same key, also when the requests race", async () => {
    const api = client(freshTenant());
    await register(api, "idle", sleeper);
    const first = await spawn(api, "idle", "x", { idempotencyKey: "order-42" });
    const again = await spawn(api, "idle", "x", { idempotencyKey: "order-42" });
    expect(again.pid).toBe(first.pid);
    const raced = await Promise.all(Array.from({ length: 5 }, () => spawn(api, "idle", "y", { idempotencyKey: "order-43" })));
    expect(new Set(raced.map((p) => p.pid)).size).toBe(1);
    expect((await api.get("/v1/procs")).body.processes).toHaveLength(2);
  });
});

describe("the tenant cap on live processes", () => {
  it("answers 429 too_many_processes at the cap and admits again when one exits", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "idle", sleeper);
    const kernel = env.KERNEL.getByName(tenant);
    // The cap is a deployment setting; lower it for this kernel instance only.
    await runInDurableObject(kernel, (instance) => {
      (instance as unknown as { env: { MAX_LIVE_PROCESSES?: string } }).env = { ...env, MAX_LIVE_PROCESSES: "3" };
    });
    const live = [await spawn(api, "idle"), await spawn(api, "idle"), await spawn(api, "idle")];
    const over = await api.post("/v1/procs", { agent: "idle", input: "x" });
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe("too_many_processes");
    await api.post(`/v1/procs/${live[0]!.pid}/kill`);
    expect((await api.post("/v1/procs", { agent: "idle", input: "x" })).status).toBe(201);
  });
});

describe("tenant isolation", () => {
  it("shows a tenant nothing of another: pids, conversations, files, agents, hooks and audit answer 404 or empty", async () => {
    const alice = client(freshTenant("alice"));
    const bob = client(freshTenant("bob"));
    await register(alice, "secret-agent", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/plans.txt", content: "top secret" } }] }, { text: "done" }] });
    const p = await spawn(alice, "secret-agent");
    await waitExit(alice, p.pid);
    await alice.put("/v1/hooks/alice-policy", { kind: "policy", rules: [] });

    for (const path of [`/v1/procs/${p.pid}`, `/v1/procs/${p.pid}/messages`, `/v1/procs/${p.pid}/wait`, `/v1/procs/${p.pid}/events`]) {
      const res = await bob.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body.error.code).toBe("process_not_found");
    }
    for (const path of [`/v1/procs/${p.pid}/kill`, `/v1/procs/${p.pid}/pause`, `/v1/procs/${p.pid}/messages`, `/v1/procs/${p.pid}/dispatch`, `/v1/procs/${p.pid}/checkpoint`]) {
      const body = path.endsWith("messages") ? { content: "hi" } : path.endsWith("dispatch") ? { tool: "read_file", arguments: { path: "/plans.txt" } } : {};
      expect((await bob.post(path, body)).status, path).toBe(404);
    }
    expect((await bob.get("/v1/agents/secret-agent")).status).toBe(404);
    expect((await bob.post("/v1/procs", { agent: "secret-agent", input: "x" })).body.error.code).toBe("agent_not_found");
    expect((await bob.get("/v1/procs")).body.processes).toEqual([]);
    expect((await bob.get("/v1/agents")).body.agents).toEqual([]);
    expect((await bob.get("/v1/hooks")).body.hooks.map((h: { name: string }) => h.name)).toEqual(["audit"]);
    expect((await bob.get("/v1/audit")).body.entries).toEqual([]);
    expect((await bob.call("GET", "/v1/fs/plans.txt")).status).toBe(404);
    expect((await bob.get("/v1/fs?glob=/**")).body).toEqual([]);
    // a child cannot be attached to another tenant's process either
    await register(bob, "idle", sleeper);
    expect((await bob.post("/v1/procs", { agent: "idle", input: "x", parentPid: p.pid })).body.error.code).toBe("process_not_found");
    // ...and bob's own pid 1 is his own
    const mine = await spawn(bob, "idle");
    expect(mine.pid).toBe(1);
    expect((await alice.get("/v1/procs/1")).body.agent).toBe("secret-agent");
  });
});
