import { describe, expect, it } from "vitest";
import { zeroUsage, type Budget, type BudgetUse } from "../../../src/contracts";
import { recordReport } from "../../../src/kernel/services";
import type { ProcessReport } from "../../../src/rpc/messages";
import { harness } from "./harness";

const use = (tokens: number, toolCalls = 0, wallMs = 0): BudgetUse => ({ tokens, toolCalls, wallMs });
const progress = (budgetUsed: BudgetUse): ProcessReport => ({ state: "running", turnCount: 1, usage: zeroUsage(), budgetUsed });

/** root(1, tokens 1600) → mid(2, no budget) → leaf(3, no budget); root → side(4, no budget) */
async function tree() {
  const k = harness();
  k.register("root", { tools: ["delegate"], budget: { tokens: 1600 } });
  k.register("mid", { tools: ["delegate"] });
  k.register("leaf", {});
  const root = (await k.spawn("root")).pid;
  const mid = (await k.delegate(root, { agent: "mid" })).pid;
  const leaf = (await k.delegate(mid, { agent: "leaf" })).pid;
  const side = (await k.delegate(root, { agent: "leaf" })).pid;
  const row = (pid: number) => k.table.get(pid)!;
  const leased = (pid: number): BudgetUse => (row(pid).leased ? JSON.parse(row(pid).leased!) : use(0));
  const lease = (pid: number): Budget | null => (row(pid).lease ? JSON.parse(row(pid).lease!) : null);
  const report = (pid: number, used: BudgetUse) => recordReport(k, k.store, pid, progress(used));
  return { k, root, mid, leaf, side, leased, lease, report };
}

describe("budget leases", () => {
  it("grants a slice of the limiting ancestor's budget with each report, kept as a running sum up the chain", async () => {
    const t = await tree();
    // ceil(1600 / 16) = 100
    expect(t.report(t.leaf, use(10))).toEqual({ external: use(0), ancestorsLeft: { tokens: 1590 }, lease: { tokens: 100 }, free: { tokens: 1590 } });
    expect(t.lease(t.leaf)).toEqual({ tokens: 100 });
    for (const pid of [t.leaf, t.mid, t.root]) expect(t.leased(pid)).toEqual(use(100));
    expect(t.leased(t.side)).toEqual(use(0));
    // what the leaf and the side hold is not free for mid
    t.report(t.side, use(0));
    expect(t.report(t.mid, use(5))).toEqual({ external: use(10), ancestorsLeft: { tokens: 1585 }, lease: { tokens: 100 }, free: { tokens: 1585 - 200 } });
    // a renewal gives the old lease back first: the sums hold each live lease once
    t.report(t.leaf, use(90));
    expect(t.leased(t.mid)).toEqual(use(200));
    expect(t.leased(t.root)).toEqual(use(300));
  });

  it("never grants beyond the headroom nobody used or holds: the invariant tree usage + leases ≤ limit", async () => {
    const t = await tree();
    t.report(t.side, use(1000));
    t.report(t.root, use(100));
    t.report(t.mid, use(100));
    // 1600 − 1200 used − 300 leased
    expect(t.report(t.leaf, use(0)).lease).toEqual({ tokens: 100 });
    // the side spent its whole lease: all that is left is leased to the others
    expect(t.report(t.side, use(1100))).toMatchObject({ lease: { tokens: 0 }, ancestorsLeft: { tokens: 300 }, free: { tokens: 0 } });
    const treeUsed = (JSON.parse(t.k.table.get(t.root)!.tree_used) as BudgetUse).tokens;
    expect(treeUsed + t.leased(t.root).tokens).toBe(1600);
  });

  it("gives back the unspent lease at exit, on every exit path: the headroom returns", async () => {
    const t = await tree();
    t.report(t.leaf, use(10));
    t.report(t.side, use(10));
    t.report(t.root, use(0));
    expect(t.leased(t.root)).toEqual(use(300));
    t.k.exit(t.side);
    expect(t.lease(t.side)).toBeNull();
    expect(t.leased(t.root)).toEqual(use(200));
    // a kill of mid cascades to its leaf: both leases go
    t.k.table.kill(t.k.table.get(t.mid)!, { signal: "SIGTERM", cascade: true }, "api:operator");
    expect(t.leased(t.mid)).toEqual(use(0));
    expect(t.leased(t.root)).toEqual(use(100));
    // a report that arrives after the exit is charged, and gets no lease
    expect(t.report(t.leaf, use(20)).lease).toEqual({});
    expect(t.leased(t.root)).toEqual(use(100));
    t.k.exit(t.root);
    expect(t.leased(t.root)).toEqual(use(0));
  });

  it("holds no lease for a process that waits: what it had goes back to the running ones", async () => {
    const t = await tree();
    t.report(t.leaf, use(10));
    expect(t.leased(t.root)).toEqual(use(100));
    expect(recordReport(t.k, t.k.store, t.leaf, { ...progress(use(10)), state: "sleeping" }).lease).toEqual({ tokens: 0 });
    expect(t.lease(t.leaf)).toBeNull();
    expect(t.leased(t.root)).toEqual(use(0));
  });

  it("grants nothing where nothing limits the tree", async () => {
    const k = harness();
    k.register("free", { tools: ["delegate"] });
    const root = (await k.spawn("free")).pid;
    const child = (await k.delegate(root, { agent: "free" })).pid;
    expect(recordReport(k, k.store, child, progress(use(50)))).toEqual({ external: use(0), ancestorsLeft: {}, lease: {}, free: {} });
    expect(k.table.get(root)!.leased).toBeNull();
  });
});
