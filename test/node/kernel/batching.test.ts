import { describe, expect, it } from "vitest";
import type { DelegateInput } from "../../../src/contracts";
import { batchEntries } from "../../../src/kernel/deliveries";
import type { OutboxEntry } from "../../../src/kernel/outbox";
import { harness } from "./harness";

const item = (agent: string, key?: string, extra: Partial<DelegateInput> = {}) => ({ input: { agent, message: `task ${key ?? ""}`, ...extra } as DelegateInput, ...(key ? { idempotencyKey: key } : {}) });

describe("a step's delegations in one kernel call (delegateMany)", () => {
  it("writes every worker, task and start order in one go, in order, and starts them", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 10 } });
    k.register("w");
    const lead = (await k.spawn("lead")).pid;
    const out = await k.spawner.delegateMany(lead, [item("w", "a"), item("w", "b"), item("w", "c")], { actor: `process:${lead}` });
    expect(out.every((o) => o.ok)).toBe(true);
    const pids = out.map((o) => (o.ok ? o.value.pid : 0));
    expect(pids).toEqual([lead + 1, lead + 2, lead + 3]);
    expect(k.started).toEqual([lead, ...pids]);
    expect(k.rows("SELECT worker_pid FROM tasks ORDER BY worker_pid").map((r: any) => r.worker_pid)).toEqual(pids);
    expect(k.audit.verify({ full: true }).ok).toBe(true);
  });

  it("answers a repeated batch with the same tasks (idempotency keys), spawning nobody new", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"] });
    k.register("w");
    const lead = (await k.spawn("lead")).pid;
    const first = await k.spawner.delegateMany(lead, [item("w", "a"), item("w", "b")], { actor: `process:${lead}` });
    const again = await k.spawner.delegateMany(lead, [item("w", "a"), item("w", "b")], { actor: `process:${lead}` });
    expect(again.map((o) => o.ok && o.value.task.id)).toEqual(first.map((o) => o.ok && o.value.task.id));
    expect(k.rows("SELECT pid FROM procs")).toHaveLength(3);
  });

  it("refuses one item without stopping the others, and queues those past maxChildren exactly as one at a time would", async () => {
    const k = harness();
    k.register("lead", { tools: ["delegate"], limits: { maxChildren: 2 } });
    k.register("w");
    const lead = (await k.spawn("lead")).pid;
    const out = await k.spawner.delegateMany(lead, [item("w", "a"), item("nobody", "b"), item("w", "c", { tools: ["no_such_tool"] }), item("w", "d"), item("w", "e")], { actor: `process:${lead}` });
    expect(out.map((o) => (o.ok ? "ok" : o.error.code))).toEqual(["ok", "agent_not_found", "unknown_tool", "ok", "ok"]);
    // Two slots: the third accepted delegation waits, submitted.
    expect(k.table.startedChildren(lead)).toBe(2);
    const queued = out[4]!.ok ? out[4]!.value.pid : 0;
    expect(k.table.get(queued)!.started).toBe(0);
    expect(k.started).not.toContain(queued);
  });

  it("is refused whole for a copilot that may not delegate or does not exist", async () => {
    const k = harness();
    k.register("plain");
    k.register("w");
    const p = (await k.spawn("plain")).pid;
    const out = await k.spawner.delegateMany(p, [item("w", "a"), item("w", "b")], { actor: `process:${p}` });
    expect(out.map((o) => !o.ok && o.error.code)).toEqual(["forbidden", "forbidden"]);
    const none = await k.spawner.delegateMany(999, [item("w", "a")], { actor: "process:999" });
    expect(none.map((o) => !o.ok && o.error.code)).toEqual(["process_not_found"]);
  });
});

describe("the outbox's batches (batchEntries)", () => {
  const entry = (id: number, pid: number, kind: OutboxEntry["kind"]): OutboxEntry => ({ id, pid, attempts: 0, kind, payload: {} }) as unknown as OutboxEntry;

  it("puts a copilot's task results in one batch and everything else alone, in the order of first entries", () => {
    const due = [entry(1, 7, "deliver"), entry(2, 3, "start"), entry(3, 7, "deliver"), entry(4, 8, "deliver"), entry(5, 7, "deliver"), entry(6, 3, "terminate")];
    expect(batchEntries(due).map((b) => b.map((e) => e.id))).toEqual([[1, 3, 5], [2], [4], [6]]);
    expect(batchEntries([])).toEqual([]);
  });
});
