import type { AgentSpec } from "../contracts";
import type { Sql } from "../lib/sql-store";
import type { AgentRegistry } from "./agent-registry";
import type { BudgetLedger, Headroom } from "./budget-ledger";
import type { ProcessTable } from "./process-table";
import type { ProcRow } from "./rows";

/**
 * What the checks of one synchronous run of spawns read (the tenant's live count, a parent's row and
 * started children, agents, idempotency keys, the next pid), read once and kept current by the
 * spawns it commits — so a step's 64 delegations cost one read of each, not 64. Valid only while
 * nothing is awaited: `Spawner` makes one for the checks before the pre_spawn hooks and a fresh one
 * inside the transaction that writes. What the spawns change of those facts (the next pid, a parent's
 * started children) is written once for the run (`write`), not once a spawn: a batch (`batched`) writes
 * it at the end of its transaction, a single spawn as it commits. (The live count is written once a
 * transaction by `ProcessTable.countLive` itself.)
 */
export class SpawnFacts {
  private live: number | null = null;
  private readonly parents = new Map<number, { row: ProcRow | null }>();
  private readonly agents = new Map<string, AgentSpec | null>();
  private readonly keys = new Map<string, number | null>();
  private pid: number | null = null;
  /** What the spawns committed so far changed, not written yet. */
  private readonly unwritten = { pid: false, started: new Map<number, number>() };

  constructor(
    private readonly deps: { sql: Sql; table: ProcessTable; ledger: BudgetLedger; agents: AgentRegistry },
    /** Idempotency keys the run will ask about, looked up together. */
    keys: readonly string[] = [],
    /** The caller writes the counters once, at the end of its transaction (`write`). */
    private readonly batched = false,
  ) {
    if (keys.length > 1) {
      for (const k of keys) this.keys.set(k, null);
      const hits = deps.sql.exec<{ key: string; pid: number }>("SELECT key, pid FROM idempotency WHERE key IN (SELECT value FROM json_each(?))", JSON.stringify(keys));
      for (const hit of hits) this.keys.set(hit.key, hit.pid);
    }
  }

  liveCount(): number {
    return (this.live ??= this.deps.table.liveCount());
  }

  agent(name: string): AgentSpec | null {
    if (!this.agents.has(name)) this.agents.set(name, this.deps.agents.get(name));
    return this.agents.get(name)!;
  }

  /** The pid an idempotency key already made, if any. */
  replayPid(key: string): number | null {
    if (!this.keys.has(key)) this.keys.set(key, this.deps.sql.exec<{ pid: number }>("SELECT pid FROM idempotency WHERE key = ?", key).toArray()[0]?.pid ?? null);
    return this.keys.get(key)!;
  }

  /** A parent's row as it is now (its started_children kept current by `committed`). */
  parent(pid: number): ProcRow | null {
    let known = this.parents.get(pid);
    if (!known) this.parents.set(pid, (known = { row: this.deps.table.get(pid) }));
    return known.row;
  }

  /** What `parent` can still give a new child (its row as this run keeps it). */
  headroom(parent: ProcRow): Headroom {
    return this.deps.ledger.headroom(parent.pid, parent);
  }

  /** The next pid, as `ProcessTable.nextPid` allocates it, read once per run. */
  nextPid(): number {
    const pid = this.pid ?? this.deps.table.peekNextPid();
    this.pid = pid + 1;
    this.unwritten.pid = true;
    return pid;
  }

  /** A spawn was written: one more live process, a slot taken when it starts now, its key answered. */
  committed(s: { pid: number; parentPid: number | null; runNow: boolean; idempotencyKey?: string }) {
    if (this.live !== null) this.live++;
    const parent = s.parentPid !== null ? this.parents.get(s.parentPid)?.row : null;
    if (parent && s.runNow) parent.started_children++;
    if (s.idempotencyKey) this.keys.set(s.idempotencyKey, s.pid);
    // A new row is live (`created`): it counts, and, started, counts for its parent.
    this.deps.table.countLive(1);
    if (s.runNow && s.parentPid !== null) this.unwritten.started.set(s.parentPid, (this.unwritten.started.get(s.parentPid) ?? 0) + 1);
    if (!this.batched) this.write();
  }

  /** Writes what the committed spawns changed: the next pid and parents' started children. */
  write() {
    const { table } = this.deps;
    if (this.unwritten.pid) table.setNextPid(this.pid!);
    for (const [parentPid, n] of this.unwritten.started) table.countStartedChild(parentPid, n);
    this.unwritten.pid = false;
    this.unwritten.started.clear();
  }
}
