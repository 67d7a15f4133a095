import {
  fail,
  isLive,
  ok,
  zeroUsage,
  type AgentSpec,
  type BudgetUse,
  type DelegateInput,
  type DeliveryPolicy,
  type Failure,
  type Metadata,
  type Outcome,
  type Process,
  type SpawnRequest,
  type Task,
  type Warning,
} from "../contracts";
import { ALL_TOOL_NAMES } from "../contracts/tools";
import { emptyToolsReason, unknownToolsFailure } from "../agent/capabilities";
import type { ProcessConfig } from "../rpc/messages";
import type { SqlStore } from "../lib/sql-store";
import { admissionProblem } from "./admission";
import type { AgentRegistry } from "./agent-registry";
import type { Actor, AuditLog } from "./audit-log";
import type { BudgetLedger } from "./budget-ledger";
import type { CheckpointStore, RestoreFrom, SavedProcess } from "./checkpoints";
import { inheritedGrant, restoredGrant, type Grant } from "./grants";
import type { HookRunner } from "./hook-runner";
import type { Outbox, StartOrder } from "./outbox";
import type { ProcessTable } from "./process-table";
import { fsOf, limitsOf, toolsOf, toProcess, type ProcRow } from "./rows";
import { SpawnFacts } from "./spawn-facts";
import type { TaskStore } from "./task-store";
import { toTask, withDelegationTerms } from "./tasks";

/** A request for a new process, from any path: spawn, delegation or restore. */
export interface SpawnInput {
  agent: string;
  input: string;
  parentPid: number | null;
  metadata: Metadata;
  /** Namespaced by the caller (`spawn:<key>`, `delegate:<copilot>:<key>`): the same key answers the same process. */
  idempotencyKey?: string;
  restore?: RestoreFrom;
  actor: Actor;
  delegation?: DelegateInput;
  /** A top-level process whose A2A task (no copilot) is made in its spawn's transaction (SPEC §12). */
  ownTask?: boolean;
}

/** The first checks passed: the agent and the parent as they were before any hook was awaited. */
export type Admission = { kind: "replay"; process: Process } | { kind: "admitted"; spec: AgentSpec; parent: ProcRow | null };

/** Everything a new process's rows need, decided synchronously right before they are written. */
export interface SpawnPlan {
  req: SpawnInput;
  spec: AgentSpec;
  /** The parent as it is now (live). */
  parent: ProcRow | null;
  grant: Grant;
  depth: number;
  /** False: a delegation beyond the parent's maxChildren waits (task submitted) until a slot frees up. */
  runNow: boolean;
  delivery: DeliveryPolicy;
}

export type Planned = { kind: "replay"; process: Process } | { kind: "new"; plan: SpawnPlan };

export interface SpawnDeps {
  agents: AgentRegistry;
  table: ProcessTable;
  ledger: BudgetLedger;
  tasks: TaskStore;
  audit: AuditLog;
  outbox: Outbox;
  checkpoints: CheckpointStore;
  hooks: HookRunner;
  tenant(): string;
  /** The tenant's cap on live processes. */
  maxLive(): number;
  /** Why the agent's model cannot be used here (a provider not configured), or null. */
  modelProblem(spec: AgentSpec): { message: string; setting: string } | null;
  /** Delivers the start order of `pid` now (the outbox retries it if this fails). */
  start(pid: number): Promise<void>;
  /** Delivers the start orders of `pids` now, together (the outbox retries what fails). */
  startMany?(pids: number[]): Promise<void>;
  /** Every tool a process may be given now: the built-in ones and the tenant's exposed MCP tools. */
  knownTools?(): readonly string[];
}

type Refusal = { ok: false; error: Failure };

/**
 * The one way a process comes to exist (SPEC §5, §7): checks, pre_spawn hooks, then the row (and for
 * a delegation the task), the audit entries and the start order in one transaction, then the start
 * itself (retried from the outbox if it fails), then post_spawn hooks.
 *
 * `admit` runs before the hooks are awaited; `plan` runs the checks that must be atomic (singleton,
 * cap, idempotency, maxChildren, budgets) again after them, and `commit` writes, with nothing awaited
 * between the two, so no concurrent spawn can slip in.
 */
export class Spawner {
  constructor(
    private readonly store: SqlStore,
    private readonly deps: SpawnDeps,
  ) {}

  /** spawn(2) over HTTP: a top-level process, or a child of `parentPid`. */
  async spawn(request: SpawnRequest, actor: Actor, restore?: RestoreFrom): Promise<Outcome<Process>> {
    return this.create({
      agent: request.agent,
      input: request.input,
      parentPid: request.parentPid ?? null,
      metadata: request.metadata ?? {},
      ...(request.idempotencyKey ? { idempotencyKey: `spawn:${request.idempotencyKey}` } : {}),
      ...(restore ? { restore } : {}),
      actor,
    });
  }

  /**
   * Delegation (SPEC §7): the A2A task, the worker's row with its inherited-and-restricted
   * capabilities and its budget reservation are written in one transaction with the spawn, so a
   * delegation happens whole or not at all; the idempotency key makes a retried call return the
   * same task.
   */
  async delegate(copilotPid: number, input: DelegateInput, opts: { idempotencyKey?: string; actor: Actor; copilotUse?: BudgetUse }): Promise<Outcome<{ task: Task; pid: number; warnings?: Warning[] }>> {
    const copilot = this.deps.table.get(copilotPid);
    if (!copilot) return fail(404, "process_not_found", `No process ${copilotPid}.`);
    if (!toolsOf(copilot).includes("delegate")) {
      return fail(403, "forbidden", `Process ${copilotPid} may not delegate: delegate is not among its tools.`);
    }
    // A misspelt tool would silently narrow the worker to nothing: refused, naming the known tools.
    const unknown = input.tools ? unknownToolsFailure(input.tools, "the delegation's tools", this.knownTools()) : null;
    if (unknown) return { ok: false, error: unknown };
    // The model call that asked for this delegation has used budget the kernel has not heard of yet:
    // charge it first, so the worker is granted at most what is really left.
    if (opts.copilotUse && !copilot.exit) this.store.transactionSync(() => this.deps.ledger.charge(copilotPid, opts.copilotUse!));
    const created = await this.create({
      agent: input.agent,
      input: input.message,
      parentPid: copilotPid,
      metadata: input.metadata ?? {},
      ...(opts.idempotencyKey ? { idempotencyKey: `delegate:${copilotPid}:${opts.idempotencyKey}` } : {}),
      actor: opts.actor,
      delegation: input,
    });
    if (!created.ok) return created;
    const task = this.deps.tasks.get(created.value.taskId!);
    const { warnings } = created.value;
    return ok({ task: toTask(task!), pid: created.value.pid, ...(warnings?.length ? { warnings } : {}) });
  }

  /**
   * A step's delegations at once (the copilot's turn asked for several): the copilot is checked and
   * charged once, each delegation is admitted, its pre_spawn hooks run (all in parallel), then every
   * row, task, audit entry and start order is written in ONE transaction, and the workers are started
   * together. Each item answers as `delegate` would (a refusal of one does not stop the others); the
   * same idempotency keys answer the same tasks.
   */
  async delegateMany(
    copilotPid: number,
    items: readonly { input: DelegateInput; idempotencyKey?: string }[],
    opts: { actor: Actor; copilotUse?: BudgetUse },
  ): Promise<Outcome<{ task: Task; pid: number; warnings?: Warning[] }>[]> {
    const copilot = this.deps.table.get(copilotPid);
    if (!copilot) return items.map(() => fail(404, "process_not_found", `No process ${copilotPid}.`));
    if (!toolsOf(copilot).includes("delegate")) {
      return items.map(() => fail(403, "forbidden", `Process ${copilotPid} may not delegate: delegate is not among its tools.`));
    }
    if (opts.copilotUse && !copilot.exit) this.store.transactionSync(() => this.deps.ledger.charge(copilotPid, opts.copilotUse!));
    const reqs: (SpawnInput | Refusal)[] = items.map(({ input, idempotencyKey }) => {
      const unknown = input.tools ? unknownToolsFailure(input.tools, "the delegation's tools", this.knownTools()) : null;
      if (unknown) return { ok: false, error: unknown };
      return {
        agent: input.agent,
        input: input.message,
        parentPid: copilotPid,
        metadata: input.metadata ?? {},
        ...(idempotencyKey ? { idempotencyKey: `delegate:${copilotPid}:${idempotencyKey}` } : {}),
        actor: opts.actor,
        delegation: input,
      };
    });
    const created = await this.createMany(reqs);
    const tasks = this.deps.tasks.getMany(created.flatMap((c) => (c.ok ? [c.value.taskId!] : [])));
    return created.map((c) => {
      if (!c.ok) return c;
      const { warnings } = c.value;
      return ok({ task: toTask(tasks.get(c.value.taskId!)!), pid: c.value.pid, ...(warnings?.length ? { warnings } : {}) });
    });
  }

  /**
   * `create` for several requests at once: admissions and hooks first, then one transaction that
   * plans and commits each in order (each sees the rows of those before it, so maxChildren, budgets
   * and caps hold exactly as for one at a time), then the starts together, then post_spawn hooks.
   */
  async createMany(reqs: readonly (SpawnInput | Refusal)[]): Promise<Outcome<Process>[]> {
    const keys = reqs.flatMap((r) => ("ok" in r || !r.idempotencyKey ? [] : [r.idempotencyKey]));
    const early = this.facts(keys);
    const admitted = reqs.map((req) => ("ok" in req ? req : this.admit(req, early)));
    const pres = await Promise.all(
      admitted.map((a) => (a.ok && a.value.kind === "admitted" ? this.deps.hooks.preSpawn(a.value.spec.name, a.value.parent?.pid ?? null) : Promise.resolve(null))),
    );
    type Made = { pid: number; runNow: boolean; spec: AgentSpec; parentPid: number | null; warnings: Warning[]; degraded: Warning[] };
    const planned: (Outcome<Process> | Made)[] = this.store.transactionSync(() => {
      const facts = this.facts(keys, true);
      const out = admitted.map((a, i): Outcome<Process> | Made => {
        if (!a.ok) return a;
        if (a.value.kind === "replay") return ok(a.value.process);
        const req = reqs[i] as SpawnInput;
        const { spec, parent } = a.value;
        const pre = pres[i];
        if (pre && pre.verdict.allow !== true) return this.vetoed(req, spec, parent, pre.verdict);
        const p = this.plan(req, spec, parent, facts);
        if (!p.ok) return p;
        if (p.value.kind === "replay") return ok(p.value.process);
        const degraded = this.capabilityWarnings(p.value.plan);
        const warnings = pre?.warnings ?? [];
        const { pid, runNow } = this.commit(p.value.plan, [...warnings, ...degraded], facts);
        return { pid, runNow, spec, parentPid: p.value.plan.parent?.pid ?? null, warnings, degraded };
      });
      facts.write();
      return out;
    });
    const made = planned.filter((m): m is Made => "pid" in m && "runNow" in m);
    const toStart = made.filter((m) => m.runNow).map((m) => m.pid);
    if (toStart.length) await (this.deps.startMany ? this.deps.startMany(toStart) : Promise.all(toStart.map((pid) => this.deps.start(pid))));
    const warned = await Promise.all(
      planned.map(async (m) => {
        if (!("runNow" in m)) return m;
        this.deps.table.addWarnings(m.pid, m.warnings, "pre_spawn", false);
        let warnings = m.warnings;
        const post = await this.deps.hooks.postSpawn(m.pid, m.spec.name, m.parentPid);
        if (post.length) {
          this.deps.table.addWarnings(m.pid, post, "post_spawn");
          warnings = [...warnings, ...post];
        }
        return { pid: m.pid, warnings: [...warnings, ...m.degraded] };
      }),
    );
    // The rows as they are once started and hooked, read together.
    const rows = this.deps.table.getMany(made.map((m) => m.pid));
    return warned.map((w): Outcome<Process> => {
      if ("ok" in w) return w;
      const process = toProcess(rows.get(w.pid)!);
      return ok(w.warnings.length ? { ...process, warnings: w.warnings } : process);
    });
  }

  /**
   * A top-level process spawned over A2A (SPEC §12): an ordinary spawn (hooks, limits, budgets,
   * audit) whose task is written with its row, so the A2A task is the kernel's own, from the start.
   * The same idempotency key (the A2A message id) answers the same task.
   */
  async spawnTask(agent: string, input: string, opts: { actor: Actor; metadata?: Metadata; idempotencyKey?: string }): Promise<Outcome<{ task: Task; process: Process }>> {
    const created = await this.create({
      agent,
      input,
      parentPid: null,
      metadata: opts.metadata ?? {},
      ...(opts.idempotencyKey ? { idempotencyKey: `a2a:${agent}:${opts.idempotencyKey}` } : {}),
      actor: opts.actor,
      ownTask: true,
    });
    if (!created.ok) return created;
    const row = created.value.taskId ? this.deps.tasks.get(created.value.taskId) : null;
    // A key first used by a spawn without a task cannot be answered with one.
    if (!row) return fail(409, "conflict", "This message id was already used for another request.");
    return ok({ task: toTask(row), process: created.value });
  }

  /** `POST /v1/procs/restore`: a new top-level process continuing a checkpoint, with the rights it saved. */
  async restore(checkpointId: string, actor: Actor): Promise<Outcome<Process>> {
    const saved = this.deps.checkpoints.load(checkpointId);
    if (!saved) return fail(404, "not_found", "No such checkpoint.");
    const { pid: fromPid, text } = saved;
    const state = JSON.parse(text) as SavedProcess;
    // Saved before checkpoints recorded rights: restoring it could widen them, so it is refused.
    if (!state.grant) return fail(409, "conflict", "This checkpoint does not record the rights of the process it saved, so it cannot be restored.");
    const input = state.messages.find((m) => m.role === "user")?.content ?? "";
    return this.spawn({ agent: state.agent, input, metadata: { restoredFrom: checkpointId, checkpointPid: fromPid } }, actor, { checkpointId, fromPid, saved: state });
  }

  async create(req: SpawnInput): Promise<Outcome<Process>> {
    const admitted = this.admit(req, this.facts());
    if (!admitted.ok) return admitted;
    if (admitted.value.kind === "replay") return ok(admitted.value.process);
    const { spec, parent } = admitted.value;

    let warnings: Warning[] = [];
    const pre = await this.deps.hooks.preSpawn(spec.name, parent?.pid ?? null);
    if (pre) {
      warnings = pre.warnings;
      // `ask` exists only for pre_dispatch (the contract refuses it elsewhere); anything but allow vetoes a spawn.
      if (pre.verdict.allow !== true) return this.vetoed(req, spec, parent, pre.verdict);
    }

    // Everything from here to the commit's end is synchronous: no other event can interleave,
    // so the singleton, cap, children and idempotency checks cannot race a concurrent spawn.
    const facts = this.facts();
    const planned = this.plan(req, spec, parent, facts);
    if (!planned.ok) return planned;
    if (planned.value.kind === "replay") return ok(planned.value.process);
    // Not a hook's warning: stored on the row and answered, but no hook_warning audit entry.
    const degraded = this.capabilityWarnings(planned.value.plan);
    const { pid, runNow } = this.commit(planned.value.plan, [...warnings, ...degraded], facts);
    if (runNow) await this.deps.start(pid);

    this.deps.table.addWarnings(pid, warnings, "pre_spawn", false);
    const post = await this.deps.hooks.postSpawn(pid, spec.name, planned.value.plan.parent?.pid ?? null);
    if (post.length) {
      this.deps.table.addWarnings(pid, post, "post_spawn");
      warnings = [...warnings, ...post];
    }
    warnings = [...warnings, ...degraded];
    const process = toProcess(this.deps.table.get(pid)!);
    return ok(warnings.length ? { ...process, warnings } : process);
  }

  /** The facts one synchronous run of checks reads once (src/kernel/spawn-facts.ts). */
  facts(keys: readonly string[] = [], batched = false): SpawnFacts {
    return new SpawnFacts({ sql: this.store.sql, table: this.deps.table, ledger: this.deps.ledger, agents: this.deps.agents }, keys, batched);
  }

  private knownTools(): readonly string[] {
    return this.deps.knownTools?.() ?? ALL_TOOL_NAMES;
  }

  /** A process that will start with no tools although its agent lists some: said, with why. */
  capabilityWarnings(plan: SpawnPlan): Warning[] {
    const { req, spec, parent, grant } = plan;
    if (grant.tools.length > 0) return [];
    const bound = req.restore
      ? { label: "the checkpoint's saved rights", tools: req.restore.saved.grant.tools }
      : parent
        ? { label: `${req.delegation ? "its copilot" : "its parent"} (process ${parent.pid})`, tools: toolsOf(parent) }
        : null;
    const reason = emptyToolsReason(spec.tools, bound, req.delegation?.tools, this.knownTools());
    if (!reason) return [];
    return [{ severity: "degraded", component: "capabilities", message: `Agent ${spec.name}'s effective tools are empty because ${reason}; the process can only answer with text.` }];
  }

  /** The process an idempotency key already made, if any. */
  replay(key: string | undefined, facts: SpawnFacts): Process | null {
    if (!key) return null;
    const pid = facts.replayPid(key);
    const row = pid !== null ? this.deps.table.get(pid) : null;
    return row ? toProcess(row) : null;
  }

  /** Before any hook is awaited: a replay, or the agent, its model, the parent and the admission rules. */
  admit(req: SpawnInput, facts = this.facts()): Outcome<Admission> {
    const replay = this.replay(req.idempotencyKey, facts);
    if (replay) return ok({ kind: "replay", process: replay });
    const spec = facts.agent(req.agent);
    if (!spec) return fail(404, "agent_not_found", `No agent named ${req.agent} is registered.`);
    const problem = this.deps.modelProblem(spec);
    if (problem) return fail(422, "model_not_configured", problem.message, { setting: problem.setting });
    const parent = req.parentPid !== null ? facts.parent(req.parentPid) : null;
    if (req.parentPid !== null && !parent) return fail(404, "process_not_found", `No process ${req.parentPid}.`);
    if (parent && !isLive(parent.state)) return fail(409, "process_not_running", `Parent process ${parent.pid} has exited.`);
    const early = this.admission(spec, parent, !!req.delegation, facts);
    if (early) return early;
    return ok({ kind: "admitted", spec, parent });
  }

  /** A pre_spawn hook said no: audited, and answered 403. */
  vetoed(req: SpawnInput, spec: AgentSpec, parent: ProcRow | null, verdict: { hook: string; reason: string }): Refusal {
    const { hook, reason } = verdict;
    this.deps.audit.append({ actor: req.actor, event: "spawn_vetoed", ...(parent ? { parentPid: parent.pid } : {}), data: { agent: spec.name, hook, reason } });
    return fail(403, "spawn_vetoed", `Spawn vetoed by hook ${hook}: ${reason}`, { hook, reason });
  }

  /**
   * Right before the rows are written, synchronously: a replay (a concurrent call with the same key
   * won), the parent still live, the admission rules again, and the grant (inherit-and-restrict, or
   * a restore's saved rights).
   */
  plan(req: SpawnInput, spec: AgentSpec, parent: ProcRow | null, facts = this.facts()): Outcome<Planned> {
    const again = this.replay(req.idempotencyKey, facts);
    if (again) return ok({ kind: "replay", process: again });
    const fresh = parent ? facts.parent(parent.pid) : null;
    if (parent && (!fresh || !isLive(fresh.state))) return fail(409, "process_not_running", `Parent process ${parent.pid} has exited.`);
    const late = this.admission(spec, fresh, !!req.delegation, facts);
    if (late) return late;
    // Globs expand to the tool names the tenant has now: MCP tools registered later reach new processes only.
    const known = this.knownTools();
    const grant = req.restore
      ? restoredGrant(spec, req.restore.saved.grant, known)
      : inheritedGrant(spec, fresh ? { pid: fresh.pid, tools: toolsOf(fresh), fs: fsOf(fresh), limits: limitsOf(fresh), headroom: facts.headroom(fresh) } : null, req.delegation, known);
    if (!grant.ok) return grant;
    return ok({
      kind: "new",
      plan: {
        req,
        spec,
        parent: fresh,
        grant: grant.value,
        // A restored process keeps its place in the tree's depth, so it cannot delegate deeper than it could.
        depth: req.restore ? req.restore.saved.grant.depth : fresh ? fresh.depth + 1 : 0,
        runNow: !fresh || fresh.started_children < limitsOf(fresh).maxChildren,
        delivery: req.delegation?.deliveryPolicy ?? "immediate",
      },
    });
  }

  /**
   * One transaction: the pid, the row, the idempotency key, the audit entries (spawn, restore,
   * delegate, task_state), the task of a delegation and the start order (held while the worker is
   * queued). Answers the pid and whether it starts now.
   */
  commit(plan: SpawnPlan, warnings: Warning[], facts = this.facts()): { pid: number; runNow: boolean } {
    const { req, spec, parent, grant, depth, runNow, delivery } = plan;
    const { tools, fs, limits, budget } = grant;
    const { table, tasks, audit, outbox } = this.deps;
    const at = new Date().toISOString();
    const taskId = req.delegation || req.ownTask ? crypto.randomUUID() : null;
    const parentPid = parent?.pid ?? null;
    // A worker's own metadata says where it comes from and on what terms.
    const metadata = req.delegation && taskId ? withDelegationTerms(req.metadata, { taskId, copilotPid: parentPid!, deliveryPolicy: delivery, budget }) : req.metadata;
    // A restore's saved state can be megabytes: the start order names the checkpoint, never copies it.
    const start: StartOrder = req.restore ? { checkpointId: req.restore.checkpointId } : { input: req.input };
    // A new process whose start goes out now is running from this commit on: the start order is
    // durable with the row, and a fresh process answers `running` once it lands, so its landing
    // writes nothing to the row (no transaction of its own for a spawn), nor to a delegation's task,
    // written `working` with it. A queued worker waits in `created` (its task `submitted`) for its
    // slot, and a restore until its process answers the state it continues in.
    const running = runNow && !req.restore;
    return this.store.transactionSync(() => {
      const pid = facts.nextPid();
      const config: ProcessConfig = {
        tenant: this.deps.tenant(),
        pid,
        parentPid,
        taskId,
        delivery: req.delegation ? delivery : null,
        depth,
        spec,
        tools,
        fs,
        budget,
        limits,
        createdAt: at,
      };
      table.insert({
        pid,
        agent: spec.name,
        parentPid,
        taskId,
        mode: spec.mode,
        turnCount: req.restore?.saved.loop.turnCount ?? 0,
        usage: req.restore?.saved.loop.usage ?? zeroUsage(),
        tools,
        fs,
        budget,
        limits,
        depth,
        at,
        metadata,
        warnings,
        singletonOf: spec.singleton ? spec.name : null,
        started: runNow,
        state: running ? "running" : "created",
      });
      if (req.idempotencyKey) this.store.sql.exec("INSERT INTO idempotency (key, pid) VALUES (?, ?)", req.idempotencyKey, pid);
      const lineage = parentPid ? { parentPid } : {};
      audit.append({ actor: req.actor, event: "spawn", pid, ...lineage, ...(taskId ? { taskId } : {}), data: { agent: spec.name, tools, fs, budget, depth, ...(req.restore ? { restored: true } : {}) } });
      if (req.restore) audit.append({ actor: req.actor, event: "restore", pid, data: { checkpointId: req.restore.checkpointId, fromPid: req.restore.fromPid } });
      if (req.delegation && taskId) {
        const requested = { tools: req.delegation.tools ?? null, fs: req.delegation.fs ?? null, budget: req.delegation.budget ?? null };
        const granted = { tools, fs, budget, limits };
        tasks.insert({ id: taskId, copilotPid: parentPid!, workerPid: pid, agent: spec.name, delivery, budget, requested, granted, metadata: req.metadata, at, queued: !runNow, working: running }, req.actor);
      } else if (req.ownTask && taskId) {
        tasks.insert({ id: taskId, copilotPid: null, workerPid: pid, agent: spec.name, delivery, budget, requested: {}, granted: { tools, fs, budget, limits }, metadata: req.metadata, at, queued: false }, req.actor);
      }
      // `taskWorking`: the delegation's task was written `working` with the row (an A2A task stays `submitted` until its start lands).
      const taskWorking = running && !!req.delegation && !!taskId;
      outbox.add(pid, { kind: "start", payload: running ? { config, start, running, ...(taskWorking ? { taskWorking } : {}) } : { config, start } }, { held: !runNow });
      facts.committed({ pid, parentPid, runNow, ...(req.idempotencyKey ? { idempotencyKey: req.idempotencyKey } : {}) });
      return { pid, runNow };
    });
  }

  /** The facts admission rules need, read synchronously so the answer holds until the row is written. */
  private admission(spec: AgentSpec, parent: ProcRow | null, delegation: boolean, facts: SpawnFacts): Refusal | null {
    const { table } = this.deps;
    return admissionProblem({
      agent: spec.name,
      live: facts.liveCount(),
      maxLive: this.deps.maxLive(),
      singletonPid: spec.singleton ? table.singletonPid(spec.name) : null,
      parent: parent ? { pid: parent.pid, depth: parent.depth, limits: limitsOf(parent), startedChildren: parent.started_children } : null,
      delegation,
    });
  }
}
