import { describe, expect, it } from "vitest";
import { AgentSpec, type Outcome } from "../../../src/contracts";
import { inheritedGrant, restoredGrant } from "../../../src/kernel/grants";
import type { OutboxRow } from "../../../src/kernel/rows";
import type { SpawnInput } from "../../../src/kernel/spawn";
import { harness } from "./harness";

const errorOf = <T>(out: Outcome<T>) => (out.ok ? null : out.error);
const input = (agent: string, extra: Partial<SpawnInput> = {}): SpawnInput => ({ agent, input: "go", parentPid: null, metadata: {}, actor: "api:operator", ...extra });

describe("spawn: plan and commit", () => {
  it("writes the row, the spawn entry and the start order in one go, then starts it", async () => {
    const k = harness();
    k.register("a", { tools: ["read_file", "write_file"] });
    const p = await k.spawn("a");
    // Running from its commit on: the start order is written with the row (a queued worker stays `created`).
    expect(p).toMatchObject({ pid: 1, agent: "a", parentPid: null, state: "running", tools: ["read_file", "write_file"], depth: 0 });
    expect(k.started).toEqual([1]);
    expect(k.audit.page(0, 10).map((e) => e.event)).toEqual(["agent_registered", "spawn"]);
    const [order] = k.outbox.due({ fromAlarm: true });
    expect(order).toMatchObject({ kind: "start", pid: 1, payload: { start: { input: "go" }, config: { tenant: "acme", pid: 1, parentPid: null, taskId: null, delivery: null, depth: 0 } } });
    expect((await k.spawn("a")).pid).toBe(2);
  });

  it("answers 404 for an unknown agent, 422 for a model that is not configured, and writes nothing", async () => {
    const k = harness();
    expect(errorOf(await k.spawner.spawn({ agent: "ghost", input: "x" }, "api:operator"))).toMatchObject({ status: 404, code: "agent_not_found" });
    k.register("a");
    k.host.modelProblem = { message: "no key", setting: "OPENAI_API_KEY" };
    expect(errorOf(await k.spawner.spawn({ agent: "a", input: "x" }, "api:operator"))).toMatchObject({ status: 422, code: "model_not_configured", details: { setting: "OPENAI_API_KEY" } });
    expect(k.rows("SELECT pid FROM procs")).toEqual([]);
  });

  it("replays an idempotency key: the same process, also once it has exited", async () => {
    const k = harness();
    k.register("a");
    const first = await k.spawn("a", { idempotencyKey: "order-1" });
    expect((await k.spawn("a", { idempotencyKey: "order-1" })).pid).toBe(first.pid);
    k.exit(first.pid);
    expect(await k.spawn("a", { idempotencyKey: "order-1" })).toMatchObject({ pid: first.pid, state: "zombie" });
    expect((await k.spawn("a", { idempotencyKey: "order-2" })).pid).toBe(2);
    expect(k.started).toEqual([1, 2]);
  });

  it("checks again right before the commit: a concurrent spawn that won in between is replayed or refused", async () => {
    const k = harness();
    k.register("solo", { singleton: true });
    k.register("a");
    // Admitted, then (while its pre_spawn hooks are awaited) the same key commits elsewhere: the plan replays it.
    const keyed = input("a", { idempotencyKey: "spawn:k" });
    const admitted = k.spawner.admit(keyed);
    expect(admitted).toMatchObject({ ok: true, value: { kind: "admitted" } });
    const winner = await k.spawn("a", { idempotencyKey: "k" });
    expect(k.spawner.plan(keyed, k.agents.get("a")!, null)).toEqual({ ok: true, value: { kind: "replay", process: winner } });
    // Same for a singleton: admitted while none ran, refused once one does.
    expect(k.spawner.admit(input("solo")).ok).toBe(true);
    const solo = await k.spawn("solo");
    expect(errorOf(k.spawner.plan(input("solo"), k.agents.get("solo")!, null))).toMatchObject({ status: 409, code: "process_already_running", details: { pid: solo.pid } });
    // It can run again once the first has exited.
    k.exit(solo.pid);
    expect((await k.spawn("solo")).pid).toBe(solo.pid + 1);
  });

  it("refuses past the tenant's cap with 429, and admits again when one exits", async () => {
    const k = harness();
    k.host.maxLive = 2;
    k.register("a");
    const [p1] = [await k.spawn("a"), await k.spawn("a")];
    expect(errorOf(await k.spawner.spawn({ agent: "a", input: "x" }, "api:operator"))).toMatchObject({ status: 429, code: "too_many_processes" });
    k.exit(p1!.pid);
    expect((await k.spawn("a")).pid).toBe(3);
  });

  it("enforces depth, and maxChildren: a plain child over it is refused, a delegation waits", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate", "read_file"], limits: { maxChildren: 1, maxDepth: 1 } });
    k.register("w", { tools: ["delegate", "read_file"] });
    const lead = await k.spawn("lead");
    const child = await k.spawn("w", { parentPid: lead.pid });
    expect(child).toMatchObject({ parentPid: lead.pid, depth: 1 });
    expect([...child.tools].sort()).toEqual(["delegate", "read_file"]);
    expect(errorOf(await k.spawner.spawn({ agent: "w", input: "x", parentPid: child.pid }, "api:operator"))).toMatchObject({ status: 422, details: { limit: "maxDepth" } });
    expect(errorOf(await k.spawner.spawn({ agent: "w", input: "x", parentPid: lead.pid }, "api:operator"))).toMatchObject({ status: 422, details: { limit: "maxChildren" } });

    const queued = await k.delegate(lead.pid, { agent: "w" });
    expect(k.table.get(queued.pid)).toMatchObject({ started: 0, state: "created" });
    expect(k.tasks.get(queued.taskId)).toMatchObject({ state: "submitted", copilot_pid: lead.pid, worker_pid: queued.pid });
    expect(k.rows<OutboxRow>("SELECT * FROM outbox WHERE pid = ?", queued.pid)).toMatchObject([{ kind: "start", held: 1 }]);
    expect(k.started).not.toContain(queued.pid);
    const delegate = k.audit.page(0, 100).find((e) => e.event === "delegate");
    expect(delegate).toMatchObject({ pid: lead.pid, taskId: queued.taskId, data: { workerPid: queued.pid, queued: true } });
    // A parent that has exited takes no children.
    k.exit(lead.pid);
    expect(errorOf(await k.spawner.spawn({ agent: "w", input: "x", parentPid: lead.pid }, "api:operator"))).toMatchObject({ status: 409, code: "process_not_running" });
    expect(errorOf(await k.spawner.spawn({ agent: "w", input: "x", parentPid: 99 }, "api:operator"))).toMatchObject({ status: 404, code: "process_not_found" });
  });

  it("grants a delegation at most its copilot's rights, and what the delegation asked for", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate", "read_file", "write_file"], fs: [{ path: "/notes/**", mode: "rw" }], budget: { tokens: 1000 } });
    k.register("w", { tools: ["*"], budget: { tokens: 5000 } });
    const lead = await k.spawn("lead");
    const t = await k.delegate(lead.pid, { agent: "w", tools: ["read_*", "write_*"], fs: [{ path: "/notes/a/**", mode: "r" }], budget: { tokens: 300 }, deliveryPolicy: "deferred" });
    const worker = k.table.get(t.pid)!;
    expect(JSON.parse(worker.tools)).toEqual(["read_file", "write_file"]);
    expect(JSON.parse(worker.fs)).toEqual([{ path: "/notes/a/**", mode: "r" }]);
    expect(JSON.parse(worker.budget_limit)).toEqual({ tokens: 300 });
    expect(JSON.parse(worker.metadata)).toMatchObject({ delegation: { taskId: t.taskId, copilotPid: lead.pid, deliveryPolicy: "deferred", budget: { tokens: 300 } } });
    // The rest of the copilot's budget is what a second worker may reserve; nothing left → 422.
    const second = await k.delegate(lead.pid, { agent: "w" });
    expect(JSON.parse(k.table.get(second.pid)!.budget_limit)).toEqual({ tokens: 700 });
    const refused = await k.spawner.delegate(lead.pid, { agent: "w", message: "x" }, { actor: "process:1" });
    expect(errorOf(refused)).toMatchObject({ status: 422, code: "limit_exceeded", details: { limit: "budget", dimension: "tokens" } });
    // A process without delegate among its tools may not delegate.
    expect(errorOf(await k.spawner.delegate(t.pid, { agent: "w", message: "x" }, { actor: "process:2" }))).toMatchObject({ status: 403 });
  });

  it("replays a delegation with the same key: one task, one worker", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"] });
    k.register("w");
    const lead = await k.spawn("lead");
    const a = await k.delegate(lead.pid, { agent: "w" }, "call-1");
    const b = await k.delegate(lead.pid, { agent: "w" }, "call-1");
    expect(b).toEqual(a);
    expect(k.rows("SELECT id FROM tasks")).toHaveLength(1);
  });

  it("charges the copilot's step before granting the worker a budget", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"], budget: { tokens: 100 } });
    k.register("w", { budget: { tokens: 500 } });
    const lead = await k.spawn("lead");
    const out = await k.spawner.delegate(lead.pid, { agent: "w", message: "x" }, { actor: "process:1", copilotUse: { tokens: 60, toolCalls: 1, wallMs: 5 } });
    expect(out.ok && JSON.parse(k.table.get(out.value.pid)!.budget_limit)).toEqual({ tokens: 40 });
    expect(JSON.parse(k.table.get(lead.pid)!.budget_used)).toEqual({ tokens: 60, toolCalls: 1, wallMs: 5 });
  });

  it("a pre_spawn veto answers 403, is audited, and writes no process", async () => {
    const k = harness();
    k.register("a");
    k.hookRegistry.put("no-a", { kind: "policy", rules: [{ event: "pre_spawn", match: { agent: "a" }, action: "deny", reason: "not today" }] }, "api:admin");
    expect(errorOf(await k.spawner.spawn({ agent: "a", input: "x" }, "api:operator"))).toMatchObject({ status: 403, code: "spawn_vetoed", details: { hook: "no-a", reason: "not today" } });
    expect(k.audit.page(0, 10).at(-1)).toMatchObject({ event: "spawn_vetoed", data: { agent: "a", hook: "no-a" } });
    expect(k.rows("SELECT pid FROM procs")).toEqual([]);
  });

  it("a restore keeps the saved rights, narrowed by the agent as it is now, and its depth", async () => {
    const k = harness();
    k.register("a", { tools: ["read_file", "write_file", "list_dir"] });
    const saved = {
      agent: "a",
      messages: [{ role: "user" as const, content: "hello" }],
      loop: { turnCount: 2, usage: { inputTokens: 5, outputTokens: 6, toolCalls: 1 } } as never,
      grant: { tools: ["read_file", "grep"], fs: [{ path: "/x/**", mode: "rw" as const }], limits: { maxChildren: 2, maxDepth: 3 }, budget: { tokens: 50 }, depth: 2 },
    };
    const out = await k.spawner.spawn({ agent: "a", input: "hello" }, "api:operator", { checkpointId: "cp", fromPid: 9, saved });
    expect(out.ok).toBe(true);
    const row = k.table.get(1)!;
    expect(row).toMatchObject({ depth: 2, turn_count: 2 });
    expect(JSON.parse(row.tools)).toEqual(["read_file"]);
    expect(JSON.parse(row.budget_limit)).toEqual({ tokens: 50 });
    expect(k.outbox.due({ fromAlarm: true })[0]).toMatchObject({ kind: "start", payload: { start: { checkpointId: "cp" } } });
    expect(k.audit.page(0, 10).map((e) => e.event)).toEqual(["agent_registered", "spawn", "restore"]);
  });
});

describe("grants", () => {
  const spec = (over: Record<string, unknown> = {}) => AgentSpec.parse({ name: "w", model: "scripted", script: [{ text: "x" }], ...over });
  const parent = { pid: 1, tools: ["read_file", "write_file"], fs: [{ path: "/**", mode: "r" as const }], limits: { maxChildren: 5, maxDepth: 2 } };

  it("a top-level process gets its agent's own rights", () => {
    expect(inheritedGrant(spec({ tools: ["read_*"], budget: { tokens: 10 } }), null)).toEqual({
      ok: true,
      value: { tools: ["read_file"], fs: [{ path: "/**", mode: "rw" }], limits: { maxChildren: 20, maxDepth: 3 }, budget: { tokens: 10 } },
    });
  });

  it("a child: tools ∩ parent's, fs clipped to the parent's modes, limits the smaller, budget from the headroom", () => {
    const out = inheritedGrant(spec({ tools: ["*"], budget: { tokens: 500 } }), { ...parent, headroom: { spent: null, left: { tokens: 200, toolCalls: 3 } } });
    expect(out).toEqual({ ok: true, value: { tools: ["read_file", "write_file"], fs: [{ path: "/**", mode: "r" }], limits: { maxChildren: 5, maxDepth: 2 }, budget: { tokens: 200 } } });
  });

  it("refuses when the parent has nothing left to give", () => {
    expect(errorOf(inheritedGrant(spec(), { ...parent, headroom: { spent: "toolCalls", left: { toolCalls: 0 } } }))).toMatchObject({ status: 422, details: { dimension: "toolCalls" } });
    expect(errorOf(inheritedGrant(spec({ budget: { tokens: 5 } }), { ...parent, headroom: { spent: null, left: { tokens: 0 } } }))).toMatchObject({ details: { dimension: "tokens" } });
  });

  it("a restore's grant is never wider than the saved one or the spec, and a spent budget is refused", () => {
    const saved = { tools: ["read_file"], fs: [{ path: "/a/**", mode: "rw" as const }], limits: { maxChildren: 1, maxDepth: 1 }, budget: { tokens: 0 }, depth: 1 };
    expect(errorOf(restoredGrant(spec(), saved))).toMatchObject({ status: 422, details: { dimension: "tokens" } });
    expect(restoredGrant(spec({ tools: ["read_file", "write_file"], budget: { tokens: 9 } }), { ...saved, budget: { tokens: 20, wallMs: 100 } })).toEqual({
      ok: true,
      value: { tools: ["read_file"], fs: [{ path: "/a/**", mode: "rw" }], limits: { maxChildren: 1, maxDepth: 1 }, budget: { tokens: 9, wallMs: 100 } },
    });
  });
});
