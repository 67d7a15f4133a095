import { describe, expect, it } from "vitest";
import type { BudgetUse } from "../../src/contracts";
import { grantLease, leaseAnswer, LEASE_SLICES, unleasedHeadroom, type LeaseLink } from "../../src/kernel/leases";
import { afterLeaseAsk, blockedOnLease, initialLoopState, LEASE_WAIT_MS, leaseSpent, withAnswer, withBudgetCheck, withinBudget, type LoopState } from "../../src/process/machine";

const use = (tokens: number, toolCalls = 0, wallMs = 0): BudgetUse => ({ tokens, toolCalls, wallMs });
const link = (limit: LeaseLink["limit"], treeUsed = use(0), leased = use(0)): LeaseLink => ({ limit, treeUsed, leased });

describe("the lease arithmetic", () => {
  it("grants a slice of each limit, never more than the headroom nobody used or holds", () => {
    expect(LEASE_SLICES).toBe(16);
    // ceil(1000 / 16) = 63
    expect(grantLease([link({ tokens: 1000 })])).toEqual({ tokens: 63 });
    expect(grantLease([link({ tokens: 1000 }, use(900), use(50))])).toEqual({ tokens: 50 });
    expect(grantLease([link({ tokens: 1000 }, use(950), use(50))])).toEqual({ tokens: 0 });
    // over-committed (a late charge): never negative
    expect(grantLease([link({ tokens: 1000 }, use(990), use(63))])).toEqual({ tokens: 0 });
    expect(unleasedHeadroom(link({ tokens: 1000, toolCalls: 4 }, use(990, 1), use(63, 1)))).toEqual({ tokens: 0, toolCalls: 2 });
  });

  it("takes the least over the process and every limiting ancestor, per dimension; unlimited dimensions are not leased", () => {
    const self = link({});
    const mid = link({ tokens: 400 }, use(390), use(0));
    const root = link({ tokens: 10_000, toolCalls: 32 }, use(0), use(0));
    expect(grantLease([self, mid, root])).toEqual({ tokens: 10, toolCalls: 2 });
    expect(grantLease([self])).toEqual({});
    expect(grantLease([link({ wallMs: 160_000 })])).toEqual({ wallMs: 10_000 });
  });

  it("answers descendants' usage, the ancestors' true headroom, and what is free of others' leases", () => {
    // self used 30 of its own; its subtree used 130 and holds 63 (self) + 40 (a child) leased
    const self = { ...link({ tokens: 500 }, use(130), use(103)), ownUsed: use(30) };
    // the root: 400 used, 103 of self's subtree and 200 of a sibling's leased
    const root = link({ tokens: 1000 }, use(400), use(303));
    const answer = leaseAnswer(self, [root], { tokens: 63 });
    expect(answer.external).toEqual(use(100));
    expect(answer.ancestorsLeft).toEqual({ tokens: 600 });
    expect(answer.lease).toEqual({ tokens: 63 });
    // its own lease is its to spend: root 1000 − 400 − (303 − 63) = 360; self 500 − 130 − (103 − 63) = 330
    expect(answer.free).toEqual({ tokens: 330 });
    // with no leases anywhere, free is what is left
    expect(leaseAnswer({ ...link({}, use(10)), ownUsed: use(10) }, [link({ tokens: 100 }, use(40))], {})).toEqual({ external: use(0), ancestorsLeft: { tokens: 60 }, lease: {}, free: { tokens: 60 } });
  });
});

describe("a process's lease", () => {
  const settings = { mode: "task" as const, maxTurns: 50, budget: {} };
  const spending = (tokens: number, toolCalls = 0): LoopState => ({ ...initialLoopState(), usage: { inputTokens: tokens, outputTokens: 0, toolCalls } });

  it("is spent when its usage since the answer reaches the lease in some dimension; a lease of 0 always is", () => {
    const granted = withAnswer(spending(100), { external: use(0), ancestorsLeft: { tokens: 900 }, lease: { tokens: 50 } }, use(100));
    expect(leaseSpent(granted)).toBe(false);
    expect(leaseSpent({ ...granted, usage: { ...granted.usage, inputTokens: 149 } })).toBe(false);
    expect(leaseSpent({ ...granted, usage: { ...granted.usage, inputTokens: 150 } })).toBe(true);
    expect(leaseSpent(withAnswer(spending(100), { external: use(0), ancestorsLeft: { tokens: 900 }, lease: { tokens: 0 } }, use(100)))).toBe(true);
    // nothing limits the tree, or no answer yet: never spent (the other report rules apply)
    expect(leaseSpent(withAnswer(spending(100), { external: use(0), ancestorsLeft: {}, lease: {} }, use(100)))).toBe(false);
    expect(leaseSpent(spending(100))).toBe(false);
  });

  it("counts its usage since the answer against the ancestors' headroom: the last call is due when it is spent", () => {
    const granted = withAnswer(spending(100, 1), { external: use(0), ancestorsLeft: { tokens: 60, toolCalls: 3 }, lease: { tokens: 50 } }, use(100, 1));
    expect(withBudgetCheck({ ...granted, usage: { ...granted.usage, inputTokens: 159 } }, settings).finalCall).toBe(false);
    expect(withBudgetCheck({ ...granted, usage: { ...granted.usage, inputTokens: 160 } }, settings).finalCall).toBe(true);
    // tool calls made since the answer leave fewer for the turn
    const calls = Array.from({ length: 3 }, (_, i) => ({ id: `c${i}`, name: "list_dir", arguments: {} }));
    expect(withinBudget({ ...granted, usage: { ...granted.usage, toolCalls: 2 } }, calls, {}).run).toHaveLength(2);
  });

  it("waits instead of calling when what is left is all leased to others, and stops only when the budget is spent", () => {
    const answer = { external: use(0), ancestorsLeft: { tokens: 500 }, lease: { tokens: 0 }, free: { tokens: 0 } };
    const blocked = withAnswer(spending(100), answer, use(100));
    expect(blockedOnLease(blocked)).toBe(true);
    expect(withBudgetCheck(blocked, settings).finalCall).toBe(false);
    expect(afterLeaseAsk(blocked, settings, 5_000).retryAt).toBe(5_000 + LEASE_WAIT_MS);
    // some headroom nobody holds: its one call on it goes ahead, with a report after it
    const some = withAnswer(spending(100), { ...answer, free: { tokens: 20 } }, use(100));
    expect(blockedOnLease(some)).toBe(false);
    expect(leaseSpent(some)).toBe(true);
    expect(blockedOnLease({ ...some, usage: { ...some.usage, inputTokens: 120 } })).toBe(true);
    // the budget itself spent while it waited: the last call, not another wait
    const spent = afterLeaseAsk({ ...blocked, ancestorsLeft: { tokens: 0 } }, settings, 5_000);
    expect(spent).toMatchObject({ finalCall: true, retryAt: null });
    expect(blockedOnLease(spent)).toBe(false);
  });
});
