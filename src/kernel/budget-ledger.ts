import type { Budget, BudgetUse } from "../contracts";
import { addUse, BUDGET_KEYS, maxUse, outstanding, remaining, spentDimension, subUse, zeroUse } from "../agent/budget";
import { budgetLimitOf, budgetUsedOf, LIVE_SQL, treeUsedOf, type ProcRow } from "./rows";
import type { Sql } from "../lib/sql-store";
import type { FeedLog } from "./tenant-feed";
import { isLive } from "../contracts";
import { grantLease, leaseAnswer, leaseUse, noLease, type LeaseAnswer, type LeaseLink } from "./leases";

/** The sum over `pid`'s live children of their unused reservations, by a scan (what the running sum must equal). */
export function scanOutstandingReservations(sql: Sql, pid: number): BudgetUse {
  let sum = zeroUse();
  for (const child of sql.exec<Pick<ProcRow, "budget_limit" | "tree_used">>(`SELECT budget_limit, tree_used FROM procs WHERE parent_pid = ? AND state IN ${LIVE_SQL}`, pid)) {
    sum = addUse(sum, outstanding(budgetLimitOf(child), treeUsedOf(child)));
  }
  return sum;
}

/** Adds `delta` to a parent's running sum of outstanding reservations (left alone while it is still NULL: computed on first read). */
export function adjustChildrenOutstanding(sql: Sql, parentPid: number, delta: BudgetUse) {
  if (delta.tokens === 0 && delta.toolCalls === 0 && delta.wallMs === 0) return;
  const row = sql.exec<{ children_outstanding: string | null }>("SELECT children_outstanding FROM procs WHERE pid = ?", parentPid).toArray()[0];
  if (!row || row.children_outstanding === null) return;
  sql.exec("UPDATE procs SET children_outstanding = ? WHERE pid = ?", JSON.stringify(addUse(JSON.parse(row.children_outstanding) as BudgetUse, delta)), parentPid);
}

/** The running sum of leases a row's subtree holds (schema v8; NULL: none). */
const leasedOf = (row: Pick<ProcRow, "leased">): BudgetUse => (row.leased ? (JSON.parse(row.leased) as BudgetUse) : zeroUse());

/** Adds `delta` to the leased sum of `pid` and of every ancestor: a lease counts against every limit above its holder. */
function adjustLeased(sql: Sql, pid: number, delta: BudgetUse) {
  type Link = Pick<ProcRow, "parent_pid" | "leased">;
  for (let at: number | null = pid; at !== null; ) {
    const r: Link | undefined = sql.exec<Link>("SELECT parent_pid, leased FROM procs WHERE pid = ?", at).toArray()[0];
    if (!r) break;
    sql.exec("UPDATE procs SET leased = ? WHERE pid = ?", JSON.stringify(addUse(leasedOf(r), delta)), at);
    at = r.parent_pid;
  }
}

/**
 * Gives back what is left of a process's lease (its exit, or before a renewal): its usage, charged
 * first, is in the trees' usage from then on, and the rest is free for others of the tree again.
 */
export function releaseLease(sql: Sql, pid: number, known?: Pick<ProcRow, "lease">) {
  const row = known ?? sql.exec<Pick<ProcRow, "lease">>("SELECT lease FROM procs WHERE pid = ?", pid).toArray()[0];
  if (!row?.lease) return;
  sql.exec("UPDATE procs SET lease = NULL WHERE pid = ?", pid);
  adjustLeased(sql, pid, subUse(zeroUse(), leaseUse(JSON.parse(row.lease) as Budget)));
}

/** A process's budget as the tree sees it. */
export interface TreeBudget {
  /** What its descendants have used: it counts against its own limit. */
  external: BudgetUse;
  /** The least headroom of any ancestor, per dimension an ancestor limits. */
  ancestorsLeft: Budget;
}

/** What a parent can still give a new child. */
export interface Headroom {
  /** The first dimension in which its own limit is used up, or null. */
  spent: keyof Budget | null;
  /** What is left to promise: its limit less its tree's usage and its live children's unused reservations. */
  left: Budget;
}

type BudgetColumns = Pick<ProcRow, "pid" | "parent_pid" | "budget_limit" | "budget_used" | "tree_used" | "state">;
type TreeLink = Pick<BudgetColumns, "pid" | "parent_pid" | "tree_used" | "budget_limit" | "state">;

/**
 * A charged process's own usage columns as JSON, for a caller that writes its row anyway (an exit's
 * update carries them): `charge` fills it instead of updating the row itself.
 */
export interface OwnUsage {
  budgetUsed?: string;
  treeUsed?: string;
}

/** Usage owed to ancestors, by the parent whose chain it goes up (`BudgetLedger.charge`, `chargeAncestors`). */
export type AncestorCharges = Map<number, BudgetUse>;

/**
 * Budgets are tree-wide (SPEC §7): the ledger keeps, on each process row, its reservation
 * (`budget_limit`), its own usage (`budget_used`) and its tree's usage (`tree_used`: its own plus its
 * descendants'). Synchronous, so a charge joins the caller's transaction.
 */
export class BudgetLedger {
  constructor(
    private readonly sql: Sql,
    /** Tree usage is shown on each process: a charge announces every row it changes. */
    private readonly feed: FeedLog | null = null,
  ) {}

  private columns(pid: number): BudgetColumns | null {
    return (
      this.sql.exec<BudgetColumns>("SELECT pid, parent_pid, budget_limit, budget_used, tree_used, state FROM procs WHERE pid = ?", pid).toArray()[0] ?? null
    );
  }

  /**
   * Records a process's own usage and adds what is new to its own and every ancestor's tree usage.
   * Usage only grows: a report that arrives after a fresher one (a delegation charges mid-step)
   * changes nothing. Answers what was added. With `upward`, what its ancestors are owed is added
   * there instead, for `chargeAncestors` to write once for the whole batch (the exits of a copilot's
   * workers charge the copilot once, not once each). With `ownRow`, the process's own columns are
   * handed back there instead of written (its exit writes them, one update instead of two).
   */
  charge(pid: number, reported: BudgetUse, known?: BudgetColumns, upward?: AncestorCharges, ownRow?: OwnUsage): BudgetUse {
    const row = known ?? this.columns(pid);
    if (!row) return zeroUse();
    const before = budgetUsedOf(row);
    const own = maxUse(before, reported);
    const delta = subUse(own, before);
    if (delta.tokens === 0 && delta.toolCalls === 0 && delta.wallMs === 0) return delta;
    this.addToTree(row, delta, own, ownRow);
    if (row.parent_pid === null) return delta;
    if (upward) upward.set(row.parent_pid, addUse(upward.get(row.parent_pid) ?? zeroUse(), delta));
    else this.addToAncestors(row.parent_pid, delta);
    return delta;
  }

  /** Writes what `charge` gathered in `upward`: each parent's chain gets its sum. */
  chargeAncestors(upward: AncestorCharges) {
    for (const [parentPid, delta] of upward) this.addToAncestors(parentPid, delta);
    upward.clear();
  }

  /** `delta` onto `pid`'s tree usage and every ancestor's, from `pid` up. */
  private addToAncestors(pid: number, delta: BudgetUse) {
    for (let at: number | null = pid; at !== null; ) {
      const r: TreeLink | undefined = this.sql.exec<TreeLink>("SELECT pid, parent_pid, tree_used, budget_limit, state FROM procs WHERE pid = ?", at).toArray()[0];
      if (!r) return;
      this.addToTree(r, delta);
      at = r.parent_pid;
    }
  }

  /**
   * `delta` onto one row's tree usage (and its own usage, `own`, for the process charged); a live
   * child's unused reservation shrinks as its tree spends, so its parent's running sum follows.
   * (Applied in steps, the sum's changes add up to the change from first to last: it telescopes.)
   */
  private addToTree(r: TreeLink, delta: BudgetUse, own?: BudgetUse, ownRow?: OwnUsage) {
    const was = treeUsedOf(r);
    const now = addUse(was, delta);
    if (own && ownRow) Object.assign(ownRow, { budgetUsed: JSON.stringify(own), treeUsed: JSON.stringify(now) });
    else if (own) this.sql.exec("UPDATE procs SET budget_used = ?, tree_used = ? WHERE pid = ?", JSON.stringify(own), JSON.stringify(now), r.pid);
    else this.sql.exec("UPDATE procs SET tree_used = ? WHERE pid = ?", JSON.stringify(now), r.pid);
    this.feed?.note("proc", r.pid);
    if (r.parent_pid !== null && isLive(r.state)) {
      const limit = budgetLimitOf(r);
      adjustChildrenOutstanding(this.sql, r.parent_pid, subUse(outstanding(limit, now), outstanding(limit, was)));
    }
  }

  /**
   * A process's budget as the tree sees it: what its descendants have used (it counts against its
   * own limit) and the least headroom of any ancestor (when an ancestor's budget is spent, the whole
   * subtree makes its last call).
   */
  treeBudget(pid: number): TreeBudget {
    const row = this.columns(pid);
    if (!row) return { external: zeroUse(), ancestorsLeft: {} };
    const external = subUse(treeUsedOf(row), budgetUsedOf(row));
    const ancestorsLeft: Budget = {};
    for (let at = row.parent_pid; at !== null; ) {
      const a = this.columns(at);
      if (!a) break;
      const left = remaining(budgetLimitOf(a), treeUsedOf(a));
      for (const k of BUDGET_KEYS) if (left[k] !== undefined) ancestorsLeft[k] = Math.min(ancestorsLeft[k] ?? Infinity, left[k]!);
      at = a.parent_pid;
    }
    return { external, ancestorsLeft };
  }

  /**
   * The unused part of the reservations of `pid`'s live children: promised, so not to be promised
   * again. A running sum on the parent's row (schema v7), kept where it changes: a child's insert and
   * exit (ProcessTable) and its tree's charges (`charge`); computed by a scan once when still NULL.
   */
  outstandingReservations(pid: number): BudgetUse {
    const row = this.sql.exec<{ children_outstanding: string | null }>("SELECT children_outstanding FROM procs WHERE pid = ?", pid).toArray()[0];
    if (!row) return zeroUse();
    if (row.children_outstanding !== null) return JSON.parse(row.children_outstanding) as BudgetUse;
    const sum = scanOutstandingReservations(this.sql, pid);
    this.sql.exec("UPDATE procs SET children_outstanding = ? WHERE pid = ?", JSON.stringify(sum), pid);
    return sum;
  }

  /** What `pid` can still give a new child: nothing left at all (actual usage), or nothing left to promise (usage plus reservations). */
  headroom(pid: number, known?: Pick<ProcRow, "budget_limit" | "tree_used">): Headroom {
    const row = known ?? this.columns(pid);
    if (!row) return { spent: null, left: {} };
    const limit = budgetLimitOf(row);
    // No budget of its own: nothing to promise or withhold, so its children's reservations need no read.
    if (Object.keys(limit).length === 0) return { spent: null, left: {} };
    const treeUsed = treeUsedOf(row);
    return { spent: spentDimension(remaining(limit, treeUsed)), left: remaining(limit, addUse(treeUsed, this.outstandingReservations(pid))) };
  }

  /**
   * A live process reported (its usage charged): its old lease is given back and, while it runs, a
   * new one granted from the headroom of every limiting process above it, in the caller's transaction.
   * Answers the tree's view of its budget with the new lease (src/kernel/leases.ts).
   */
  renewLease(pid: number, running: boolean): LeaseAnswer {
    releaseLease(this.sql, pid);
    const chain = this.leaseChain(pid);
    if (chain.length === 0) return { external: zeroUse(), ancestorsLeft: {}, lease: {}, free: {} };
    // A process that waits spends nothing: it holds nothing the running ones of its tree could spend.
    const lease = running ? grantLease(chain) : noLease(grantLease(chain));
    const held = running && Object.keys(lease).length > 0;
    if (held) {
      this.sql.exec("UPDATE procs SET lease = ? WHERE pid = ?", JSON.stringify(lease), pid);
      adjustLeased(this.sql, pid, leaseUse(lease));
    }
    const [self, ...ancestors] = held ? chain.map((link) => ({ ...link, leased: addUse(link.leased, leaseUse(lease)) })) : chain;
    return leaseAnswer(self!, ancestors, lease);
  }

  /** The process and its ancestors, nearest first, as leases see them. */
  private leaseChain(pid: number): (LeaseLink & { ownUsed: BudgetUse })[] {
    type Link = Pick<ProcRow, "parent_pid" | "budget_limit" | "budget_used" | "tree_used" | "leased">;
    const chain: (LeaseLink & { ownUsed: BudgetUse })[] = [];
    for (let at: number | null = pid; at !== null; ) {
      const r: Link | undefined = this.sql.exec<Link>("SELECT parent_pid, budget_limit, budget_used, tree_used, leased FROM procs WHERE pid = ?", at).toArray()[0];
      if (!r) break;
      chain.push({ limit: budgetLimitOf(r), treeUsed: treeUsedOf(r), leased: leasedOf(r), ownUsed: budgetUsedOf(r) });
      at = r.parent_pid;
    }
    return chain;
  }

  /** What is left, per dimension, of a process's own budget and its ancestors': what a restore of it may spend. */
  savedBudget(pid: number): Budget {
    const row = this.columns(pid);
    if (!row) return {};
    const { ancestorsLeft } = this.treeBudget(pid);
    const own = remaining(budgetLimitOf(row), treeUsedOf(row));
    const budget: Budget = {};
    for (const k of BUDGET_KEYS) {
      const caps = [own[k], ancestorsLeft[k]].filter((v): v is number => v !== undefined);
      if (caps.length) budget[k] = Math.min(...caps);
    }
    return budget;
  }
}
