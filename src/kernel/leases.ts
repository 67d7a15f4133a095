/**
 * Budget leases (SPEC §7 budgets, without a report per step). A process in a limited tree holds a
 * lease: per dimension some ancestor (or it) limits, an amount of its own future usage it may spend
 * without asking the kernel. The kernel keeps, per limiting process A and dimension d,
 *
 *   tree_used_A(d) + leased_A(d) ≤ limit_A(d)
 *
 * where `leased_A` is the running sum of the leases held by live processes of A's subtree (A
 * included), by never granting beyond that headroom (the one call in flight past a lease aside). A
 * process reports when its lease is spent, so the kernel is asked O(usage / slice) times; only a
 * running one holds a lease. Past its lease it may spend what nobody holds (`free`), one call per
 * answer, and waits when that is spent too (src/process/machine.ts `blockedOnLease`). Pure: the
 * ledger (budget-ledger.ts) reads the rows and writes the sums.
 */
import type { Budget, BudgetUse } from "../contracts";
import { BUDGET_KEYS, subUse, zeroUse } from "../agent/budget";
import type { LeaseAnswer } from "../rpc/messages";

export type { LeaseAnswer };

/**
 * A lease is at most 1/LEASE_SLICES of each limit it is taken from: a process asks the kernel about
 * LEASE_SLICES times over the whole of a budget it spends alone, and no one process holds more than
 * that share of a limit that others of its tree could spend.
 */
export const LEASE_SLICES = 16;

/** One process of the chain a lease is taken from (the process itself first, then its ancestors). */
export interface LeaseLink {
  limit: Budget;
  treeUsed: BudgetUse;
  /** The leases live processes of its subtree hold, itself included. */
  leased: BudgetUse;
}

/** What a limiting process has neither used nor leased out (≥ 0, only the dimensions it limits). */
export function unleasedHeadroom(link: LeaseLink): Budget {
  const out: Budget = {};
  for (const k of BUDGET_KEYS) if (link.limit[k] !== undefined) out[k] = Math.max(0, link.limit[k]! - link.treeUsed[k] - link.leased[k]);
  return out;
}

/**
 * The lease a process is granted, its old one already released from every `leased` of the chain: per
 * dimension some link limits, the least over those links of their headroom and their slice
 * (ceil(limit / LEASE_SLICES)). A dimension no link limits is not leased (absent): nothing to keep.
 */
export function grantLease(chain: readonly LeaseLink[]): Budget {
  const lease: Budget = {};
  for (const link of chain) {
    const room = unleasedHeadroom(link);
    for (const k of BUDGET_KEYS) {
      if (room[k] === undefined) continue;
      const slice = Math.min(room[k]!, Math.ceil(link.limit[k]! / LEASE_SLICES));
      lease[k] = Math.min(lease[k] ?? Infinity, slice);
    }
  }
  return lease;
}

/** A lease as usage, for the running sums (a dimension not leased counts 0). */
export const leaseUse = (lease: Budget): BudgetUse => {
  const use = zeroUse();
  for (const k of BUDGET_KEYS) if (lease[k] !== undefined) use[k] = lease[k]!;
  return use;
};

/**
 * The answer for a process holding `lease`, from its own link and its ancestors' (nearest first),
 * read after the lease was granted. `ownUsed` is the process's own usage, which its tree usage holds.
 */
export function leaseAnswer(self: LeaseLink & { ownUsed: BudgetUse }, ancestors: readonly LeaseLink[], lease: Budget): LeaseAnswer {
  const mine = leaseUse(lease);
  const least = (into: Budget, room: Budget) => {
    for (const k of BUDGET_KEYS) if (room[k] !== undefined) into[k] = Math.min(into[k] ?? Infinity, room[k]!);
  };
  const ancestorsLeft: Budget = {};
  for (const a of ancestors) least(ancestorsLeft, unleasedHeadroom({ ...a, leased: zeroUse() }));
  // Its own lease is its to spend: only what the others hold is taken off.
  const free: Budget = {};
  for (const a of [self, ...ancestors]) least(free, unleasedHeadroom({ ...a, leased: subUse(a.leased, mine) }));
  return { external: subUse(self.treeUsed, self.ownUsed), ancestorsLeft, lease, free };
}

/** A process that is not running (sleeping, paused) holds no lease: what it would get is 0 in each leased dimension. */
export const noLease = (lease: Budget): Budget => Object.fromEntries(Object.keys(lease).map((k) => [k, 0])) as Budget;
