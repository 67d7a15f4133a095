import { describe, expect, it } from "vitest";
import type { Budget, BudgetUse } from "../../../src/contracts";
import { harness } from "./harness";

const use = (tokens: number, toolCalls = 0, wallMs = 0): BudgetUse => ({ tokens, toolCalls, wallMs });

/** root(1, tokens 1000) → mid(2, tokens 400) → leaf(3, tokens 100); root → side(4, toolCalls 5) */
async function tree() {
  const k = harness();
  k.register("root", { tools: ["delegate"], budget: { tokens: 1000 } });
  k.register("mid", { tools: ["delegate"], budget: { tokens: 400 } });
  k.register("leaf", { budget: { tokens: 100 } });
  k.register("side", { budget: { toolCalls: 5 } });
  const root = (await k.spawn("root")).pid;
  const mid = (await k.delegate(root, { agent: "mid" })).pid;
  const leaf = (await k.delegate(mid, { agent: "leaf" })).pid;
  const side = (await k.delegate(root, { agent: "side" })).pid;
  const used = (pid: number) => JSON.parse(k.table.get(pid)!.budget_used) as BudgetUse;
  const tree = (pid: number) => JSON.parse(k.table.get(pid)!.tree_used) as BudgetUse;
  const limit = (pid: number) => JSON.parse(k.table.get(pid)!.budget_limit) as Budget;
  return { k, root, mid, leaf, side, used, tree, limit };
}

describe("the budget ledger", () => {
  it("charges a process's new usage to itself and every ancestor", async () => {
    const t = await tree();
    expect(t.k.ledger.charge(t.leaf, use(30, 2, 10))).toEqual(use(30, 2, 10));
    expect(t.used(t.leaf)).toEqual(use(30, 2, 10));
    expect(t.used(t.mid)).toEqual(use(0));
    for (const pid of [t.leaf, t.mid, t.root]) expect(t.tree(pid)).toEqual(use(30, 2, 10));
    expect(t.tree(t.side)).toEqual(use(0));
  });

  it("is monotonic: a stale or repeated report adds nothing, a fresher one adds only the difference", async () => {
    const t = await tree();
    t.k.ledger.charge(t.leaf, use(30, 2, 10));
    expect(t.k.ledger.charge(t.leaf, use(30, 2, 10))).toEqual(use(0));
    expect(t.k.ledger.charge(t.leaf, use(20, 1, 5))).toEqual(use(0));
    expect(t.k.ledger.charge(t.leaf, use(35, 1, 12))).toEqual(use(5, 0, 2));
    expect(t.used(t.leaf)).toEqual(use(35, 2, 12));
    expect(t.tree(t.root)).toEqual(use(35, 2, 12));
    expect(t.k.ledger.charge(999, use(1))).toEqual(use(0));
  });

  it("tells a process what its descendants used and the least headroom of its ancestors", async () => {
    const t = await tree();
    t.k.ledger.charge(t.mid, use(50));
    t.k.ledger.charge(t.leaf, use(30));
    t.k.ledger.charge(t.side, use(600, 4));
    // mid: its leaf used 30; root has 1000 − 680 = 320 left.
    expect(t.k.ledger.treeBudget(t.mid)).toEqual({ external: use(30), ancestorsLeft: { tokens: 320 } });
    // leaf: mid has 400 − 80 = 320, root 320; side: root's tokens, and nobody limits toolCalls above it.
    expect(t.k.ledger.treeBudget(t.leaf)).toEqual({ external: use(0), ancestorsLeft: { tokens: 320 } });
    expect(t.k.ledger.treeBudget(t.root)).toEqual({ external: use(680, 4), ancestorsLeft: {} });
    expect(t.k.ledger.treeBudget(999)).toEqual({ external: use(0), ancestorsLeft: {} });
  });

  it("counts live children's unused reservations against what a parent can still promise", async () => {
    const t = await tree();
    // root reserved 400 tokens for mid and 5 tool calls for side; mid has used 50 of its tokens.
    t.k.ledger.charge(t.mid, use(50));
    expect(t.limit(t.mid)).toEqual({ tokens: 400 });
    expect(t.limit(t.side)).toEqual({ toolCalls: 5 });
    expect(t.k.ledger.outstandingReservations(t.root)).toEqual(use(350, 5));
    expect(t.k.ledger.headroom(t.root)).toEqual({ spent: null, left: { tokens: 1000 - 50 - 350 } });
    // Once mid exits, its reservation returns.
    t.k.exit(t.mid);
    expect(t.k.ledger.outstandingReservations(t.root)).toEqual(use(0, 5));
    expect(t.k.ledger.headroom(t.root)).toEqual({ spent: null, left: { tokens: 950 } });
    t.k.ledger.charge(t.root, use(950));
    expect(t.k.ledger.headroom(t.root)).toEqual({ spent: "tokens", left: { tokens: 0 } });
  });

  it("saves what is left of a process's own and its ancestors' budgets for a restore", async () => {
    const t = await tree();
    t.k.ledger.charge(t.leaf, use(60));
    t.k.ledger.charge(t.side, use(900));
    // leaf: 100 − 60 = 40 of its own; mid 340, root 40 → 40. side: toolCalls 5 of its own, root's tokens 40.
    expect(t.k.ledger.savedBudget(t.leaf)).toEqual({ tokens: 40 });
    expect(t.k.ledger.savedBudget(t.side)).toEqual({ tokens: 40, toolCalls: 5 });
  });
});
