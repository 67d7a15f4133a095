import { DurableObject } from "cloudflare:workers";
import {
  AgentSpec,
  DEFAULT_LIMITS,
  ExitCode,
  fail,
  isLive,
  ok,
  isTerminalTask,
  zeroUsage,
  type AuditDraft,
  type Budget,
  type BudgetUse,
  type CollectedTask,
  type DelegateInput,
  type DeliveryPolicy,
  type Failure,
  type FsScope,
  type Metadata,
  type Task,
  type TaskState,
  type Usage,
  type AuditEntry,
  type AuditVerify,
  type ExitStatus,
  type HookContext,
  type HookEvent,
  type HookSpec,
  type HookSpecInput,
  type HookView,
  type KillRequest,
  type KillResult,
  type Limits,
  type ListQuery,
  type Outcome,
  type Process,
  type ProcessState,
  type Signal,
  type SpawnRequest,
  type WaitResult,
  type Warning,
} from "../contracts";
import { addUse, BUDGET_KEYS, maxUse, outstanding, remaining, reserveBudget, spentDimension, subUse, zeroUse } from "../agent/budget";
import { clampLimits, clipScopes, effectiveTools, expandTools } from "../agent/capabilities";
import { collectedOf, taskOutcome, toTask, type TaskRow } from "../kernel/tasks";
import { canonicalJson, sha256hex } from "../kernel/audit-chain";
import { admissionProblem } from "../kernel/admission";
import { AuditLog } from "../kernel/audit-log";
import { alarmTime } from "../lib/alarm";
import { takePage, type Page } from "../lib/paging";
import { CheckpointStore } from "../kernel/checkpoints";
import { Outbox, type OutboxEntry, type OutboxKind } from "../kernel/outbox";
import { hooksFor, pathFilters, runPostHooks, runPreHooks, type PathFilter } from "../kernel/hook-chain";
import { SEARCH_TOOLS } from "../agent/dispatch";
import { parseHostList, redactUrlCredentials } from "../lib/net";
import { processOf, type Env } from "../env";
import { checkModelConfig } from "../models";
import type { ProcessConfig, ProcessReport, ProcessSnapshot, ProcessStart } from "./process";

interface ProcRow {
  pid: number;
  agent: string;
  parent_pid: number | null;
  task_id: string | null;
  state: ProcessState;
  mode: "task" | "interactive";
  turn_count: number;
  usage: string;
  tools: string;
  fs: string;
  budget_limit: string;
  budget_used: string;
  tree_used: string;
  limits: string;
  depth: number;
  created_at: string;
  updated_at: string;
  exit: string | null;
  result: string | null;
  metadata: string;
  warnings: string;
  singleton_of: string | null;
  /** 0 while a delegation waits for a free maxChildren slot. */
  started: number;
  [key: string]: SqlStorageValue;
}

/** Who asked: "api:<role>" for HTTP callers, "process:<pid>" for agents, "kernel" for itself. */
export type Actor = string;

const LIVE_SQL = "('created','running','sleeping','paused')";

const now = () => new Date().toISOString();

/**
 * One per tenant: the process table, the agent registry, the hook chain and the audit log. It is a
 * shell over SQLite and RPC; the rules live in src/agent and src/kernel.
 */
export class KernelObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly waiters = new Map<number, Set<() => void>>();
  private readonly delivering = new Set<number>();
  private hookCache: HookSpec[] | null = null;
  private privateHostList: string[] | null = null;

  private readonly auditLog: AuditLog;
  private readonly outbox: Outbox;
  private readonly checkpoints: CheckpointStore;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.auditLog = new AuditLog(this.sql);
    this.outbox = new Outbox(this.sql);
    this.checkpoints = new CheckpointStore(this.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, spec TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS procs (
        pid INTEGER PRIMARY KEY, agent TEXT NOT NULL, parent_pid INTEGER, task_id TEXT, state TEXT NOT NULL,
        mode TEXT NOT NULL, turn_count INTEGER NOT NULL DEFAULT 0, usage TEXT NOT NULL, tools TEXT NOT NULL, fs TEXT NOT NULL,
        budget_limit TEXT NOT NULL, budget_used TEXT NOT NULL, tree_used TEXT NOT NULL, limits TEXT NOT NULL, depth INTEGER NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, exit TEXT, result TEXT, metadata TEXT NOT NULL, warnings TEXT NOT NULL DEFAULT '[]',
        singleton_of TEXT, started INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX IF NOT EXISTS procs_state ON procs (state);
      CREATE INDEX IF NOT EXISTS procs_parent ON procs (parent_pid);
      CREATE UNIQUE INDEX IF NOT EXISTS procs_singleton ON procs (singleton_of);
      CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, pid INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS hooks (name TEXT PRIMARY KEY, position INTEGER NOT NULL, spec TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY, copilot_pid INTEGER NOT NULL, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
        status_message TEXT, status_at TEXT NOT NULL, result TEXT, delivery TEXT NOT NULL, budget TEXT NOT NULL,
        requested TEXT NOT NULL, granted TEXT NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL, idem_key TEXT
      );
      CREATE INDEX IF NOT EXISTS tasks_copilot ON tasks (copilot_pid);
    `);
  }

  private get tenant(): string {
    return this.ctx.id.name!;
  }

  // ======================= audit =======================

  private audit(draft: AuditDraft): AuditEntry {
    return this.auditLog.append(draft);
  }

  async listAudit(afterSeq: number, limit: number): Promise<Page<AuditEntry>> {
    return takePage(this.auditLog.page(afterSeq, limit + 1), limit, (e) => e.seq);
  }

  async verifyAudit(full = false): Promise<AuditVerify> {
    return this.auditLog.verify({ full });
  }

  // ======================= agents =======================

  async registerAgent(spec: AgentSpec, actor: Actor): Promise<AgentSpec> {
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        "INSERT INTO agents (name, spec, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        spec.name,
        JSON.stringify(spec),
        now(),
      );
      this.audit({ actor, event: "agent_registered", data: { agent: spec.name, model: spec.model } });
    });
    return spec;
  }

  private agent(name: string): AgentSpec | null {
    const row = this.sql.exec<{ spec: string }>("SELECT spec FROM agents WHERE name = ?", name).toArray()[0];
    return row ? (JSON.parse(row.spec) as AgentSpec) : null;
  }

  async getAgent(name: string): Promise<Outcome<AgentSpec>> {
    const spec = this.agent(name);
    return spec ? ok(spec) : fail(404, "agent_not_found", `No agent named ${name} is registered.`);
  }

  /** Specs can be large (scripts): a page is bounded by size as well as count. */
  async listAgents(page: { limit: number; cursor?: string }): Promise<Page<AgentSpec>> {
    const rows = this.sql.exec<{ spec: string }>("SELECT spec FROM agents WHERE name > ? ORDER BY name LIMIT ?", page.cursor ?? "", page.limit + 1);
    return takePage(mapRows(rows, (r) => JSON.parse(r.spec) as AgentSpec), page.limit, (a) => a.name);
  }

  async deleteAgent(name: string, actor: Actor): Promise<Outcome<{ deleted: string }>> {
    let found = false;
    this.ctx.storage.transactionSync(() => {
      found = this.sql.exec("DELETE FROM agents WHERE name = ?", name).rowsWritten > 0;
      if (found) this.audit({ actor, event: "agent_deleted", data: { agent: name } });
    });
    return found ? ok({ deleted: name }) : fail(404, "agent_not_found", `No agent named ${name} is registered.`);
  }

  // ======================= hooks =======================

  private hooks(): HookSpec[] {
    return (this.hookCache ??= this.sql
      .exec<{ spec: string }>("SELECT spec FROM hooks ORDER BY position")
      .toArray()
      .map((r) => JSON.parse(r.spec) as HookSpec));
  }

  async listHooks(): Promise<HookView[]> {
    return [{ name: "audit", kind: "audit", position: 0 }, ...this.hooks().map((h, i) => viewOf(h, i + 1))];
  }

  async putHook(name: string, input: HookSpecInput, actor: Actor): Promise<Outcome<HookView>> {
    if (name === "audit") return fail(409, "conflict", "The built-in audit hook cannot be replaced.");
    const spec = { ...input, name } as HookSpec;
    this.ctx.storage.transactionSync(() => {
      const existing = this.sql.exec<{ position: number }>("SELECT position FROM hooks WHERE name = ?", name).toArray()[0];
      const position = existing?.position ?? (this.sql.exec<{ p: number | null }>("SELECT max(position) AS p FROM hooks").one().p ?? 0) + 1;
      this.sql.exec("INSERT INTO hooks (name, position, spec) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET spec = excluded.spec", name, position, JSON.stringify(spec));
      // A webhook's URL is audited without its credentials (user:password@).
      const where = spec.kind === "webhook" ? { url: redactUrlCredentials(spec.url) } : {};
      this.audit({ actor, event: "hook_changed", data: { hook: name, kind: spec.kind, ...where, change: existing ? "replaced" : "added" } });
    });
    this.hookCache = null;
    const index = this.hooks().findIndex((h) => h.name === name);
    return ok(viewOf(this.hooks()[index]!, index + 1));
  }

  async deleteHook(name: string, actor: Actor): Promise<Outcome<{ deleted: string }>> {
    if (name === "audit") return fail(409, "conflict", "The built-in audit hook cannot be removed.");
    let found = false;
    this.ctx.storage.transactionSync(() => {
      found = this.sql.exec("DELETE FROM hooks WHERE name = ?", name).rowsWritten > 0;
      if (found) this.audit({ actor, event: "hook_changed", data: { hook: name, change: "removed" } });
    });
    this.hookCache = null;
    return found ? ok({ deleted: name }) : fail(404, "not_found", `No hook named ${name}.`);
  }

  // ======================= processes =======================

  private row(pid: number): ProcRow | null {
    return this.sql.exec<ProcRow>("SELECT * FROM procs WHERE pid = ?", pid).toArray()[0] ?? null;
  }

  private liveCount(): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM procs WHERE state IN ${LIVE_SQL}`).one().n;
  }

  /** Hosts the operator lets webhooks reach although they are loopback or private (`ALLOW_PRIVATE_HOSTS`). */
  private privateHosts(): string[] {
    return (this.privateHostList ??= parseHostList(this.env.ALLOW_PRIVATE_HOSTS));
  }

  private maxLive(): number {
    const n = Number.parseInt(this.env.MAX_LIVE_PROCESSES ?? "", 10);
    return Number.isFinite(n) && n > 0 ? n : 1000;
  }

  /** Whether the table has this pid: routes ask before they reach a process object. */
  async hasProcess(pid: number): Promise<boolean> {
    return this.sql.exec("SELECT 1 FROM procs WHERE pid = ?", pid).toArray().length > 0;
  }

  async getProcess(pid: number): Promise<Outcome<Process>> {
    const row = this.row(pid);
    return row ? ok(toProcess(row)) : fail(404, "process_not_found", `No process ${pid}.`);
  }

  async listProcesses(query: ListQuery): Promise<Page<Process>> {
    const where: string[] = ["pid > ?"];
    const args: SqlStorageValue[] = [Number(query.cursor ?? 0)];
    if (query.state) (where.push("state = ?"), args.push(query.state));
    if (query.parentPid !== undefined) (where.push("parent_pid = ?"), args.push(query.parentPid));
    if (query.agent) (where.push("agent = ?"), args.push(query.agent));
    const rows = this.sql.exec<ProcRow>(`SELECT * FROM procs WHERE ${where.join(" AND ")} ORDER BY pid LIMIT ?`, ...args, query.limit + 1);
    return takePage(mapRows(rows, toProcess), query.limit, (p) => p.pid);
  }

  /** spawn(2) over HTTP: a top-level process, or a child of `parentPid`. */
  async spawn(request: SpawnRequest, actor: Actor, restore?: RestoreFrom): Promise<Outcome<Process>> {
    const created = await this.create({
      agent: request.agent,
      input: request.input,
      parentPid: request.parentPid ?? null,
      metadata: request.metadata ?? {},
      ...(request.idempotencyKey ? { idempotencyKey: `spawn:${request.idempotencyKey}` } : {}),
      ...(restore ? { restore } : {}),
      actor,
    });
    return created.ok ? ok(created.value.process) : created;
  }

  /**
   * Delegation (SPEC §7): the A2A task, the worker's row with its inherited-and-restricted
   * capabilities and its budget reservation are written in one transaction with the spawn, so a
   * delegation happens whole or not at all; the idempotency key makes a retried call return the
   * same task.
   */
  async delegate(
    copilotPid: number,
    input: DelegateInput,
    opts: { idempotencyKey?: string; actor: Actor; copilotUse?: BudgetUse },
  ): Promise<Outcome<{ task: Task; pid: number }>> {
    const copilot = this.row(copilotPid);
    if (!copilot) return fail(404, "process_not_found", `No process ${copilotPid}.`);
    if (!(JSON.parse(copilot.tools) as string[]).includes("delegate")) {
      return fail(403, "forbidden", `Process ${copilotPid} may not delegate: delegate is not among its tools.`);
    }
    // The model call that asked for this delegation has used budget the kernel has not heard of yet:
    // charge it first, so the worker is granted at most what is really left.
    if (opts.copilotUse && !copilot.exit) this.ctx.storage.transactionSync(() => this.chargeUsage(copilot, opts.copilotUse!));
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
    const task = this.taskRow(created.value.process.taskId!);
    return ok({ task: toTask(task!), pid: created.value.process.pid });
  }

  /**
   * The one way a process comes to exist: checks, pre_spawn hooks, then the row (and for a
   * delegation the task), the audit entries and the start order in one transaction, then the start
   * itself (retried from the outbox if it fails), then post_spawn hooks.
   */
  private async create(req: {
    agent: string;
    input: string;
    parentPid: number | null;
    metadata: Metadata;
    idempotencyKey?: string;
    restore?: RestoreFrom;
    actor: Actor;
    delegation?: DelegateInput;
  }): Promise<Outcome<{ process: Process }>> {
    const replay = this.idempotentReplay(req.idempotencyKey);
    if (replay) return ok({ process: replay });
    const spec = this.agent(req.agent);
    if (!spec) return fail(404, "agent_not_found", `No agent named ${req.agent} is registered.`);
    const problem = checkModelConfig(spec, this.env);
    if (problem) return fail(422, "model_not_configured", problem.message, { setting: problem.setting });
    const parent = req.parentPid !== null ? this.row(req.parentPid) : null;
    if (req.parentPid !== null && !parent) return fail(404, "process_not_found", `No process ${req.parentPid}.`);
    if (parent && !isLive(parent.state)) return fail(409, "process_not_running", `Parent process ${parent.pid} has exited.`);
    const early = this.admissionProblem(spec, parent, !!req.delegation);
    if (early) return early;

    const hooks = this.hooks();
    let warnings: Warning[] = [];
    if (hooksFor(hooks, "pre_spawn").length > 0) {
      const ctx: HookContext = { event: "pre_spawn", tenant: this.tenant, agent: spec.name, parentPid: parent?.pid ?? null };
      const pre = await runPreHooks(hooks, ctx, fetch, this.privateHosts());
      warnings = pre.warnings;
      if (!pre.verdict.allow) {
        const { hook, reason } = pre.verdict;
        this.audit({ actor: req.actor, event: "spawn_vetoed", ...(parent ? { parentPid: parent.pid } : {}), data: { agent: spec.name, hook, reason } });
        return fail(403, "spawn_vetoed", `Spawn vetoed by hook ${hook}: ${reason}`, { hook, reason });
      }
    }

    // Everything from here to the transaction's end is synchronous: no other event can interleave,
    // so the singleton, cap, children and idempotency checks cannot race a concurrent spawn.
    const again = this.idempotentReplay(req.idempotencyKey);
    if (again) return ok({ process: again });
    const freshParent = parent ? this.row(parent.pid) : null;
    if (parent && (!freshParent || !isLive(freshParent.state))) return fail(409, "process_not_running", `Parent process ${parent.pid} has exited.`);
    const late = this.admissionProblem(spec, freshParent, !!req.delegation);
    if (late) return late;

    const grant = req.restore ? restoredGrant(spec, req.restore.saved.grant) : this.grantFor(spec, freshParent, req.delegation);
    if (!grant.ok) return grant;
    const { tools, fs, limits, budget } = grant.value;
    const at = now();
    const pid = this.nextPid();
    const taskId = req.delegation ? crypto.randomUUID() : null;
    const delivery = req.delegation?.deliveryPolicy ?? "immediate";
    // A delegation beyond the parent's maxChildren waits (task submitted) until a slot frees up.
    const runNow = !freshParent || this.startedChildren(freshParent.pid) < limitsOf(freshParent).maxChildren;
    const config: ProcessConfig = {
      tenant: this.tenant,
      pid,
      parentPid: freshParent?.pid ?? null,
      taskId,
      delivery: taskId ? delivery : null,
      // A restored process keeps its place in the tree's depth, so it cannot delegate deeper than it could.
      depth: req.restore ? req.restore.saved.grant.depth : freshParent ? freshParent.depth + 1 : 0,
      spec,
      tools,
      fs,
      budget,
      limits,
      createdAt: at,
    };
    // A restore's saved state can be megabytes: the start order names the checkpoint, never copies it.
    const start: StartOrder = req.restore ? { checkpointId: req.restore.checkpointId } : { input: req.input };
    // A worker's own metadata says where it comes from and on what terms.
    const metadata = taskId ? { ...req.metadata, delegation: { taskId, copilotPid: config.parentPid, deliveryPolicy: delivery, budget } } : req.metadata;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec(
        `INSERT INTO procs (pid, agent, parent_pid, task_id, state, mode, turn_count, usage, tools, fs, budget_limit, budget_used, tree_used, limits, depth,
          created_at, updated_at, exit, result, metadata, warnings, singleton_of, started) VALUES (?,?,?,?,'created',?,?,?,?,?,?,?,?,?,?,?,?,NULL,NULL,?,?,?,?)`,
        pid,
        spec.name,
        config.parentPid,
        taskId,
        spec.mode,
        req.restore?.saved.loop.turnCount ?? 0,
        JSON.stringify(req.restore?.saved.loop.usage ?? zeroUsage()),
        JSON.stringify(tools),
        JSON.stringify(fs),
        JSON.stringify(budget),
        JSON.stringify(zeroUse()),
        JSON.stringify(zeroUse()),
        JSON.stringify(limits),
        config.depth,
        at,
        at,
        JSON.stringify(metadata),
        JSON.stringify(warnings),
        spec.singleton ? spec.name : null,
        runNow ? 1 : 0,
      );
      if (req.idempotencyKey) this.sql.exec("INSERT INTO idempotency (key, pid) VALUES (?, ?)", req.idempotencyKey, pid);
      const lineage = config.parentPid ? { parentPid: config.parentPid } : {};
      this.audit({ actor: req.actor, event: "spawn", pid, ...lineage, ...(taskId ? { taskId } : {}), data: { agent: spec.name, tools, fs, budget, depth: config.depth, ...(req.restore ? { restored: true } : {}) } });
      if (req.restore) this.audit({ actor: req.actor, event: "restore", pid, data: { checkpointId: req.restore.checkpointId, fromPid: req.restore.fromPid } });
      if (req.delegation && taskId) {
        const requested = { tools: req.delegation.tools ?? null, fs: req.delegation.fs ?? null, budget: req.delegation.budget ?? null };
        const granted = { tools, fs, budget, limits };
        this.sql.exec(
          `INSERT INTO tasks (id, copilot_pid, worker_pid, agent, state, status_message, status_at, result, delivery, budget, requested, granted, metadata, created_at)
           VALUES (?,?,?,?,'submitted',NULL,?,NULL,?,?,?,?,?,?)`,
          taskId,
          config.parentPid,
          pid,
          spec.name,
          at,
          delivery,
          JSON.stringify(budget),
          JSON.stringify(requested),
          JSON.stringify(granted),
          JSON.stringify(req.metadata),
          at,
        );
        this.audit({ actor: req.actor, event: "delegate", pid: config.parentPid!, taskId, data: { workerPid: pid, agent: spec.name, deliveryPolicy: delivery, requested, granted, queued: !runNow } });
        this.audit({ actor: "kernel", event: "task_state", pid, taskId, data: { state: "submitted" } });
      }
      this.enqueue("start", pid, { config, start }, !runNow);
    });
    if (runNow) await this.drainOutbox(pid);

    this.addWarnings(pid, warnings, "pre_spawn", false);
    if (hooksFor(hooks, "post_spawn").length > 0) {
      const post = await runPostHooks(hooks, { event: "post_spawn", tenant: this.tenant, pid, agent: spec.name, parentPid: config.parentPid }, fetch, this.privateHosts());
      this.addWarnings(pid, post, "post_spawn");
      warnings = [...warnings, ...post];
    }
    const process = toProcess(this.row(pid)!);
    return ok({ process: warnings.length ? { ...process, warnings } : process });
  }

  /** Inherit-and-restrict (SPEC §7): what a new process may do, given its agent, its parent and the delegation's request. */
  private grantFor(spec: AgentSpec, parent: ProcRow | null, delegation?: DelegateInput): Outcome<{ tools: string[]; fs: FsScope[]; limits: Required<Limits>; budget: Budget }> {
    const own = { ...DEFAULT_LIMITS, ...spec.limits };
    if (!parent) return ok({ tools: expandTools(spec.tools), fs: spec.fs, limits: own, budget: spec.budget });
    const tools = effectiveTools(spec.tools, JSON.parse(parent.tools) as string[], delegation?.tools);
    let fs = clipScopes(spec.fs, JSON.parse(parent.fs) as FsScope[]);
    if (delegation?.fs) fs = clipScopes(fs, delegation.fs);
    const parentLimit = JSON.parse(parent.budget_limit) as Budget;
    const treeUsed = JSON.parse(parent.tree_used) as BudgetUse;
    // Nothing left at all (actual usage), or nothing left to promise (usage plus live children's reservations).
    const spent = spentDimension(remaining(parentLimit, treeUsed));
    const left = remaining(parentLimit, addUse(treeUsed, this.outstandingReservations(parent.pid)));
    const budget = reserveBudget(spec.budget, delegation?.budget, left);
    const unfunded = spent ?? BUDGET_KEYS.find((k) => budget[k] !== undefined && left[k] !== undefined && left[k]! <= 0) ?? null;
    if (unfunded) return fail(422, "limit_exceeded", `Process ${parent.pid} has no ${unfunded} budget left to give.`, { limit: "budget", dimension: unfunded });
    return ok({ tools, fs, limits: clampLimits(own, limitsOf(parent)), budget });
  }

  /** The unused part of the reservations of `pid`'s live children: promised, so not to be promised again. */
  private outstandingReservations(pid: number): BudgetUse {
    let sum = zeroUse();
    for (const child of this.sql.exec<{ budget_limit: string; tree_used: string }>(`SELECT budget_limit, tree_used FROM procs WHERE parent_pid = ? AND state IN ${LIVE_SQL}`, pid)) {
      sum = addUse(sum, outstanding(JSON.parse(child.budget_limit) as Budget, JSON.parse(child.tree_used) as BudgetUse));
    }
    return sum;
  }

  private startedChildren(pid: number): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM procs WHERE parent_pid = ? AND started = 1 AND state IN ${LIVE_SQL}`, pid).one().n;
  }

  private idempotentReplay(key: string | undefined): Process | null {
    if (!key) return null;
    const hit = this.sql.exec<{ pid: number }>("SELECT pid FROM idempotency WHERE key = ?", key).toArray()[0];
    const row = hit ? this.row(hit.pid) : null;
    return row ? toProcess(row) : null;
  }

  /** The facts admission rules need, read synchronously so the answer holds until the row is written. */
  private admissionProblem(spec: AgentSpec, parent: ProcRow | null, delegation: boolean): { ok: false; error: Failure } | null {
    return admissionProblem({
      agent: spec.name,
      live: this.liveCount(),
      maxLive: this.maxLive(),
      singletonPid: spec.singleton ? (this.sql.exec<{ pid: number }>("SELECT pid FROM procs WHERE singleton_of = ?", spec.name).toArray()[0]?.pid ?? null) : null,
      parent: parent ? { pid: parent.pid, depth: parent.depth, limits: limitsOf(parent), startedChildren: this.startedChildren(parent.pid) } : null,
      delegation,
    });
  }

  private nextPid(): number {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'next_pid'").toArray()[0];
    const pid = row ? Number(row.value) : 1;
    this.sql.exec("INSERT INTO meta (key, value) VALUES ('next_pid', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", String(pid + 1));
    return pid;
  }

  /** A hook that failed or could not be asked: kept on the process row (`wait` shows it) and in the audit log. */
  private addWarnings(pid: number, warnings: Warning[], event: HookEvent, onRow = true) {
    if (warnings.length === 0) return;
    this.ctx.storage.transactionSync(() => {
      for (const w of warnings) this.audit({ actor: "kernel", event: "hook_warning", pid, data: { hook: w.component, hookEvent: event, message: w.message } });
      const row = onRow ? this.row(pid) : null;
      if (row) this.sql.exec("UPDATE procs SET warnings = ? WHERE pid = ?", JSON.stringify([...JSON.parse(row.warnings), ...warnings]), pid);
    });
  }

  /**
   * Progress from a process object: keeps the table's view of a live process current, and charges
   * its new usage to every ancestor (budgets are tree-wide). Answers what the process's descendants
   * have used or still hold reserved, which its own budget check adds to its usage.
   */
  async report(pid: number, report: ProcessReport): Promise<{ external: BudgetUse; ancestorsLeft: Budget }> {
    const row = this.row(pid);
    if (!row) return { external: zeroUse(), ancestorsLeft: {} };
    this.ctx.storage.transactionSync(() => {
      this.chargeUsage(row, report.budgetUsed);
      this.sql.exec(
        `UPDATE procs SET state = ?, turn_count = ?, usage = ?, updated_at = ? WHERE pid = ? AND exit IS NULL`,
        report.state,
        report.turnCount,
        JSON.stringify(report.usage),
        now(),
        pid,
      );
    });
    return this.treeBudget(pid);
  }

  /** Records a process's own usage and adds what is new to its own and every ancestor's tree usage. */
  private chargeUsage(row: ProcRow, reported: BudgetUse) {
    // Usage only grows: a report that arrives after a fresher one (a delegation charges mid-step) changes nothing.
    const before = JSON.parse(row.budget_used) as BudgetUse;
    const own = maxUse(before, reported);
    const delta = subUse(own, before);
    if (delta.tokens === 0 && delta.toolCalls === 0 && delta.wallMs === 0) return;
    this.sql.exec("UPDATE procs SET budget_used = ? WHERE pid = ?", JSON.stringify(own), row.pid);
    for (let at: number | null = row.pid; at !== null; ) {
      const r: { parent_pid: number | null; tree_used: string } | undefined = this.sql
        .exec<{ parent_pid: number | null; tree_used: string }>("SELECT parent_pid, tree_used FROM procs WHERE pid = ?", at)
        .toArray()[0];
      if (!r) break;
      this.sql.exec("UPDATE procs SET tree_used = ? WHERE pid = ?", JSON.stringify(addUse(JSON.parse(r.tree_used) as BudgetUse, delta)), at);
      at = r.parent_pid;
    }
  }

  /**
   * A process's budget as the tree sees it: what its descendants have used (it counts against its
   * own limit) and the least headroom of any ancestor (when an ancestor's budget is spent, the whole
   * subtree makes its last call).
   */
  private treeBudget(pid: number): { external: BudgetUse; ancestorsLeft: Budget } {
    const row = this.row(pid)!;
    const external = subUse(JSON.parse(row.tree_used) as BudgetUse, JSON.parse(row.budget_used) as BudgetUse);
    const ancestorsLeft: Budget = {};
    for (let at = row.parent_pid; at !== null; ) {
      const a = this.row(at);
      if (!a) break;
      const left = remaining(JSON.parse(a.budget_limit) as Budget, JSON.parse(a.tree_used) as BudgetUse);
      for (const k of BUDGET_KEYS) if (left[k] !== undefined) ancestorsLeft[k] = Math.min(ancestorsLeft[k] ?? Infinity, left[k]!);
      at = a.parent_pid;
    }
    return { external, ancestorsLeft };
  }

  /** A process exited on its own. Idempotent: the first recorded exit wins. */
  async exited(pid: number, exit: ExitStatus, result: string | null, report: ProcessReport): Promise<ExitStatus> {
    const row = this.row(pid);
    if (!row) return exit;
    if (row.exit) return JSON.parse(row.exit) as ExitStatus;
    this.ctx.storage.transactionSync(() => {
      this.chargeUsage(row, report.budgetUsed);
      this.sql.exec("UPDATE procs SET turn_count = ?, usage = ? WHERE pid = ?", report.turnCount, JSON.stringify(report.usage), pid);
      this.markExited(this.row(pid)!, exit, result, `process:${pid}`, false);
      // No process outlives its parent: live descendants are terminated.
      for (const d of this.liveDescendants(pid)) {
        this.markExited(d, { code: ExitCode.terminated, reason: "parent exited", at: exit.at }, null, "kernel", true);
      }
    });
    await this.drainOutbox();
    return exit;
  }

  /**
   * The one place a live row becomes a zombie: audit entry, the task's outcome and its delivery to
   * the copilot, post_terminate order and (when the kernel decided the exit) the order to stop the
   * process object, all in the caller's transaction. The `exit IS NULL` guard makes post_terminate
   * fire, and a task end, exactly once per process.
   */
  private markExited(row: ProcRow, exit: ExitStatus, result: string | null, actor: Actor, stopObject: boolean): boolean {
    const changed =
      this.sql.exec("UPDATE procs SET state = 'zombie', exit = ?, result = ?, singleton_of = NULL, updated_at = ? WHERE pid = ? AND exit IS NULL", JSON.stringify(exit), result, exit.at, row.pid)
        .rowsWritten > 0;
    if (!changed) return false;
    this.audit({
      actor,
      event: "terminate",
      pid: row.pid,
      ...(row.parent_pid ? { parentPid: row.parent_pid } : {}),
      ...(row.task_id ? { taskId: row.task_id } : {}),
      data: { agent: row.agent, code: exit.code, reason: exit.reason },
    });
    // A worker that never started has nothing to stop; its queued start is void.
    this.outbox.dropHeldStart(row.pid);
    if (stopObject && row.started) this.enqueue("terminate", row.pid, exit);
    if (hooksFor(this.hooks(), "post_terminate").length > 0) {
      const ctx: HookContext = { event: "post_terminate", tenant: this.tenant, pid: row.pid, parentPid: row.parent_pid, agent: row.agent, exit: { code: exit.code, reason: exit.reason } };
      this.enqueue("post_terminate", row.pid, ctx);
    }
    if (row.task_id) this.endTask(row, exit, result);
    if (row.parent_pid !== null) this.startQueuedChildren(row.parent_pid);
    const waiting = this.waiters.get(row.pid);
    if (waiting) for (const wake of waiting) wake();
    return true;
  }

  /** A worker's exit ends its task; the result goes to the copilot from the kernel's next alarm. */
  private endTask(worker: ProcRow, exit: ExitStatus, result: string | null) {
    const state = taskOutcome(exit);
    const message = state === "completed" ? null : exit.reason;
    const changed = this.sql.exec(
      `UPDATE tasks SET state = ?, status_message = ?, status_at = ?, result = ? WHERE id = ? AND state NOT IN ('completed','failed','canceled','rejected')`,
      state,
      message,
      exit.at,
      result,
      worker.task_id,
    ).rowsWritten;
    if (!changed) return;
    this.audit({ actor: "kernel", event: "task_state", pid: worker.pid, taskId: worker.task_id!, data: { state, ...(message ? { message } : {}) } });
    const task = this.taskRow(worker.task_id!)!;
    const copilot = this.row(task.copilot_pid);
    if (copilot && isLive(copilot.state)) {
      this.enqueue("deliver", task.copilot_pid, { task: collectedOf(task, JSON.parse(worker.usage) as Usage), delivery: task.delivery }, false, true);
    }
  }

  /** Frees queued delegations of `parentPid` into the slots its maxChildren leaves. */
  private startQueuedChildren(parentPid: number) {
    const parent = this.row(parentPid);
    if (!parent || !isLive(parent.state)) return;
    let free = limitsOf(parent).maxChildren - this.startedChildren(parentPid);
    if (free <= 0) return;
    const queued = this.sql
      .exec<{ pid: number }>(`SELECT pid FROM procs WHERE parent_pid = ? AND started = 0 AND state IN ${LIVE_SQL} ORDER BY pid LIMIT ?`, parentPid, free)
      .toArray();
    for (const { pid } of queued) {
      this.sql.exec("UPDATE procs SET started = 1 WHERE pid = ?", pid);
      this.outbox.release(pid);
      free--;
    }
  }

  private liveDescendants(pid: number): ProcRow[] {
    return this.sql
      .exec<ProcRow>(
        `WITH RECURSIVE tree(pid) AS (SELECT pid FROM procs WHERE parent_pid = ? UNION SELECT p.pid FROM procs p JOIN tree t ON p.parent_pid = t.pid)
         SELECT * FROM procs WHERE pid IN (SELECT pid FROM tree) AND state IN ${LIVE_SQL} ORDER BY pid`,
        pid,
      )
      .toArray();
  }

  async kill(pid: number, request: KillRequest, actor: Actor): Promise<Outcome<KillResult>> {
    const row = this.row(pid);
    if (!row) return fail(404, "process_not_found", `No process ${pid}.`);
    const result: KillResult = { killed: [], alreadyExited: [] };
    this.ctx.storage.transactionSync(() => {
      const code = signalCode(request.signal);
      const at = now();
      const targets = [row, ...(request.cascade ? this.liveDescendants(pid) : [])];
      for (const target of targets) {
        const reason = target.pid === pid ? (request.reason ?? `killed by ${request.signal}`) : `killed by ${request.signal}: ancestor ${pid} was killed`;
        if (this.markExited(target, { code, reason, at }, null, actor, true)) {
          result.killed.push(target.pid);
          this.audit({ actor, event: "kill", pid: target.pid, data: { signal: request.signal, reason, cascadeFrom: target.pid === pid ? null : pid } });
        } else result.alreadyExited.push(target.pid);
      }
    });
    await this.drainOutbox();
    return ok(result);
  }

  /** wait(2): reaps an exited process; holds until it exits or `timeoutMs` passes. */
  async wait(pid: number, timeoutMs: number, actor: Actor, opts: { reap: boolean } = { reap: true }): Promise<Outcome<WaitResult>> {
    let row = this.row(pid);
    if (!row) return fail(404, "process_not_found", `No process ${pid}.`);
    if (!row.exit && timeoutMs > 0) {
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(pid) ?? new Set();
        this.waiters.set(pid, set);
        const done = () => {
          clearTimeout(timer);
          set.delete(done);
          if (set.size === 0) this.waiters.delete(pid);
          resolve();
        };
        const timer = setTimeout(done, timeoutMs);
        set.add(done);
      });
      row = this.row(pid)!;
    }
    if (!row.exit) return ok({ pid, exited: false, state: row.state });
    if (row.state === "zombie" && opts.reap) {
      this.ctx.storage.transactionSync(() => {
        if (this.sql.exec("UPDATE procs SET state = 'stopped' WHERE pid = ? AND state = 'zombie'", pid).rowsWritten > 0) {
          this.audit({ actor, event: "reap", pid, data: {} });
        }
      });
    }
    const exit = JSON.parse(row.exit) as ExitStatus;
    const warnings = JSON.parse(row.warnings) as Warning[];
    return ok({ pid, exited: true, code: exit.code, reason: exit.reason, at: exit.at, result: row.result, ...(warnings.length ? { warnings } : {}) });
  }

  // ======================= tasks =======================

  private taskRow(id: string): TaskRow | null {
    return this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE id = ?", id).toArray()[0] ?? null;
  }

  async getTask(id: string, v1 = false): Promise<Outcome<Task>> {
    const row = this.taskRow(id);
    return row ? ok(toTask(row, v1)) : fail(404, "task_not_found", "No such task.");
  }

  /** Tasks in creation order (a task's worker pid grows with it), a page at a time. */
  async listTasks(query: { copilotPid?: number; v1?: boolean; limit: number; cursor?: string }): Promise<Page<Task>> {
    const after = Number(query.cursor ?? 0);
    const rows =
      query.copilotPid === undefined
        ? this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE worker_pid > ? ORDER BY worker_pid LIMIT ?", after, query.limit + 1)
        : this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE copilot_pid = ? AND worker_pid > ? ORDER BY worker_pid LIMIT ?", query.copilotPid, after, query.limit + 1);
    return takePage(mapRows(rows, (r) => toTask(r, query.v1 ?? false)), query.limit, (t) => t.metadata.workerPid);
  }

  /** Cancels a task: its worker and the worker's descendants end with `delegation cancelled`; siblings go on. */
  async cancelTask(id: string, opts: { copilotPid?: number; actor: Actor }): Promise<Outcome<{ taskId: string; state: TaskState }>> {
    const task = this.taskRow(id);
    if (!task || (opts.copilotPid !== undefined && task.copilot_pid !== opts.copilotPid)) return fail(404, "task_not_found", "No such task.");
    if (isTerminalTask(task.state)) return fail(409, "task_not_cancelable", `Task ${id} has already ended (${task.state}).`, { state: task.state });
    this.ctx.storage.transactionSync(() => this.cancelWorker(task, opts.actor));
    await this.drainOutbox();
    return ok({ taskId: id, state: this.taskRow(id)!.state });
  }

  /** `POST /v1/procs/:pid/cancel-all`: every unfinished task of a copilot. */
  async cancelAll(copilotPid: number, actor: Actor): Promise<Outcome<{ canceled: string[] }>> {
    if (!this.row(copilotPid)) return fail(404, "process_not_found", `No process ${copilotPid}.`);
    const canceled: string[] = [];
    this.ctx.storage.transactionSync(() => {
      const open = this.sql.exec<TaskRow>("SELECT * FROM tasks WHERE copilot_pid = ? AND state NOT IN ('completed','failed','canceled','rejected') ORDER BY worker_pid", copilotPid).toArray();
      for (const task of open) {
        this.cancelWorker(task, actor);
        canceled.push(task.id);
      }
    });
    await this.drainOutbox();
    return ok({ canceled });
  }

  private cancelWorker(task: TaskRow, actor: Actor) {
    const at = now();
    this.audit({ actor, event: "cancel", pid: task.worker_pid, taskId: task.id, data: { copilotPid: task.copilot_pid } });
    const worker = this.row(task.worker_pid)!;
    for (const target of [worker, ...this.liveDescendants(worker.pid)]) {
      this.markExited(target, { code: ExitCode.terminated, reason: "delegation cancelled", at }, null, actor, true);
    }
  }

  // ======================= dispatch hooks =======================

  async beforeDispatch(
    pid: number,
    calls: { id: string; name: string; arguments: Record<string, unknown>; paths: string[] }[],
  ): Promise<{ vetoes: Record<string, { hook: string; reason: string }>; hidden: Record<string, PathFilter[]>; postHooks: boolean }> {
    const hooks = this.hooks();
    const vetoes: Record<string, { hook: string; reason: string }> = {};
    const hidden: Record<string, PathFilter[]> = {};
    const postHooks = hooksFor(hooks, "post_dispatch").length > 0;
    if (hooksFor(hooks, "pre_dispatch").length === 0) return { vetoes, hidden, postHooks };
    const row = this.row(pid);
    await Promise.all(
      calls.map(async (call) => {
        const ctx: HookContext = {
          event: "pre_dispatch",
          tenant: this.tenant,
          pid,
          parentPid: row?.parent_pid ?? null,
          ...(row ? { agent: row.agent } : {}),
          tool: call.name,
          paths: call.paths,
          arguments: call.arguments,
        };
        const { verdict } = await runPreHooks(hooks, ctx, fetch, this.privateHosts());
        if (!verdict.allow) {
          vetoes[call.id] = { hook: verdict.hook, reason: verdict.reason };
          this.audit({ actor: `process:${pid}`, event: "dispatch_vetoed", pid, data: { tool: call.name, paths: call.paths, hook: verdict.hook, reason: verdict.reason } });
          return;
        }
        // A search reads below the path it names: what the policies deny there is filtered from its results.
        if (SEARCH_TOOLS.has(call.name)) {
          const filters = pathFilters(hooks, ctx);
          if (filters.length) hidden[call.id] = filters;
        }
      }),
    );
    return { vetoes, hidden, postHooks };
  }

  async afterDispatch(
    pid: number,
    report: { denials: { tool: string; toolCallId: string; paths: string[]; reason: string }[]; results: { toolCallId: string; name: string; success: boolean; durationMs: number }[] },
  ): Promise<Warning[]> {
    for (const d of report.denials) this.audit({ actor: `process:${pid}`, event: "dispatch_denied", pid, data: { tool: d.tool, toolCallId: d.toolCallId, paths: d.paths, reason: d.reason } });
    if (report.results.length === 0) return [];
    const row = this.row(pid);
    const warnings = (
      await Promise.all(
        report.results.map((r) =>
          runPostHooks(this.hooks(), { event: "post_dispatch", tenant: this.tenant, pid, ...(row ? { agent: row.agent } : {}), tool: r.name, arguments: { toolCallId: r.toolCallId, success: r.success, durationMs: r.durationMs } }, fetch, this.privateHosts()),
        ),
      )
    ).flat();
    this.addWarnings(pid, warnings, "post_dispatch", false);
    return warnings;
  }

  // ======================= checkpoint / restore =======================

  async checkpoint(pid: number, actor: Actor): Promise<Outcome<{ checkpointId: string }>> {
    const row = this.row(pid);
    if (!row) return fail(404, "process_not_found", `No process ${pid}.`);
    if (row.exit) return fail(409, "process_not_running", `Process ${pid} has exited.`);
    const process = processOf(this.env, this.tenant, pid);
    const snap = await process.snapshot();
    if (!snap.ok) return snap;
    const { snapshot, wasPaused } = snap.value;
    // The rights are the kernel's record, not the process's: a restore gets exactly these, or less.
    const saved: SavedProcess = { ...snapshot, grant: this.savedGrant(this.row(pid)!) };
    const text = canonicalJson(saved);
    // A checkpoint that cannot be saved leaves the process as it found it.
    const undo = () => (wasPaused ? Promise.resolve() : process.resume().then(() => undefined));
    if (text.length > MAX_CHECKPOINT_CHARS) {
      await undo();
      return fail(413, "payload_too_large", `The saved state would be ${text.length} characters; checkpoints are limited to ${MAX_CHECKPOINT_CHARS}.`);
    }
    const id = sha256hex(text);
    try {
      this.ctx.storage.transactionSync(() => {
        this.checkpoints.save(id, pid, row.agent, text);
        this.sql.exec("UPDATE procs SET state = 'paused', updated_at = ? WHERE pid = ? AND exit IS NULL", now(), pid);
        this.audit({ actor, event: "checkpoint", pid, data: { checkpointId: id } });
      });
    } catch (err) {
      await undo();
      throw err;
    }
    return ok({ checkpointId: id });
  }

  /** What a process may do, as a restore of it inherits: its effective rights and what is left of its tree's budget. */
  private savedGrant(row: ProcRow): SavedGrant {
    const { ancestorsLeft } = this.treeBudget(row.pid);
    const own = remaining(JSON.parse(row.budget_limit) as Budget, JSON.parse(row.tree_used) as BudgetUse);
    const budget: Budget = {};
    for (const k of BUDGET_KEYS) {
      const caps = [own[k], ancestorsLeft[k]].filter((v): v is number => v !== undefined);
      if (caps.length) budget[k] = Math.min(...caps);
    }
    return { tools: JSON.parse(row.tools) as string[], fs: JSON.parse(row.fs) as FsScope[], limits: limitsOf(row), budget, depth: row.depth };
  }

  async restore(checkpointId: string, actor: Actor): Promise<Outcome<Process>> {
    const saved = this.checkpoints.load(checkpointId);
    if (!saved) return fail(404, "not_found", "No such checkpoint.");
    const { pid: fromPid, text } = saved;
    const state = JSON.parse(text) as SavedProcess;
    // Saved before checkpoints recorded rights: restoring it could widen them, so it is refused.
    if (!state.grant) return fail(409, "conflict", "This checkpoint does not record the rights of the process it saved, so it cannot be restored.");
    const input = state.messages.find((m) => m.role === "user")?.content ?? "";
    return this.spawn({ agent: state.agent, input, metadata: { restoredFrom: checkpointId, checkpointPid: fromPid } }, actor, { checkpointId, fromPid, saved: state });
  }

  // ======================= outbox =======================

  private enqueue(kind: OutboxKind, pid: number, payload: unknown, held = false, viaAlarm = false) {
    this.outbox.add(kind, pid, payload, { held, viaAlarm });
  }

  /**
   * Delivers what the kernel promised other objects (start, terminate, task results) and webhooks
   * (post_terminate): at least once, retried from the alarm with backoff until it lands.
   */
  private async drainOutbox(onlyPid?: number, fromAlarm = false): Promise<void> {
    const due = this.outbox.due({ ...(onlyPid !== undefined ? { onlyPid } : {}), fromAlarm }).filter((r) => !this.delivering.has(r.id));
    for (const r of due) this.delivering.add(r.id);
    // The next attempt is armed before any delivery runs, so a crash mid-delivery is retried.
    if (due.length) await this.armOutboxAlarm(Date.now() + 5_000);
    await Promise.all(
      due.map(async (entry) => {
        try {
          await this.deliver(entry);
          this.outbox.delivered(entry.id);
        } catch (err) {
          console.warn(`kernel ${this.tenant}: ${entry.kind} for ${entry.pid} failed (attempt ${entry.attempts + 1}): ${err instanceof Error ? err.message : String(err)}`);
          this.outbox.retryLater(entry);
        } finally {
          this.delivering.delete(entry.id);
        }
      }),
    );
    const next = this.outbox.nextDue();
    if (next !== null) await this.armOutboxAlarm(next);
  }

  /** Arms the alarm for `at` unless an earlier one is pending; an overdue one is taken as lost. */
  private async armOutboxAlarm(at: number) {
    const when = alarmTime(at);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > when || current <= Date.now()) await this.ctx.storage.setAlarm(when);
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const payload = JSON.parse(entry.payload);
    switch (entry.kind) {
      case "start": {
        const { config, start: order } = payload as { config: ProcessConfig; start: StartOrder };
        const start = this.startOf(order);
        // A checkpoint is never deleted, so a missing one is a broken store, not a retryable delivery.
        if (!start) throw new Error(`checkpoint of process ${entry.pid} is missing`);
        const state = await processOf(this.env, this.tenant, entry.pid).start(config, start);
        this.ctx.storage.transactionSync(() => {
          this.sql.exec("UPDATE procs SET state = ?, updated_at = ? WHERE pid = ? AND state = 'created'", state, now(), entry.pid);
          if (config.taskId && this.sql.exec("UPDATE tasks SET state = 'working', status_at = ? WHERE id = ? AND state = 'submitted'", now(), config.taskId).rowsWritten > 0) {
            this.audit({ actor: "kernel", event: "task_state", pid: entry.pid, taskId: config.taskId, data: { state: "working" } });
          }
        });
        return;
      }
      case "terminate":
        await processOf(this.env, this.tenant, entry.pid).terminate(payload as ExitStatus);
        return;
      case "post_terminate": {
        this.addWarnings(entry.pid, await runPostHooks(this.hooks(), payload as HookContext, fetch, this.privateHosts()), "post_terminate");
        return;
      }
      case "deliver": {
        const { task, delivery } = payload as { task: CollectedTask; delivery: DeliveryPolicy };
        await processOf(this.env, this.tenant, entry.pid).deliverTask(task, delivery);
        return;
      }
    }
  }

  override async alarm(): Promise<void> {
    await this.drainOutbox(undefined, true);
  }

  private startOf(order: StartOrder): ProcessStart | null {
    if ("input" in order) return order;
    const saved = this.checkpoints.load(order.checkpointId);
    if (!saved) return null;
    const { agent, messages, loop } = JSON.parse(saved.text) as SavedProcess;
    return { restore: { agent, messages, loop } };
  }
}

/** Saved states are read back whole into one RPC answer: far below its 32 MiB. */
const MAX_CHECKPOINT_CHARS = 16 * 1024 * 1024;

/** What the kernel records with a checkpoint: the process's effective rights when it was saved. */
interface SavedGrant {
  tools: string[];
  fs: FsScope[];
  limits: Required<Limits>;
  /** What was left, per dimension, of its own and its ancestors' budgets. */
  budget: Budget;
  depth: number;
}
type SavedProcess = ProcessSnapshot & { grant: SavedGrant };
interface RestoreFrom {
  checkpointId: string;
  fromPid: number;
  saved: SavedProcess;
}
/** How the outbox holds a start order: the first message, or the checkpoint to continue from. */
type StartOrder = { input: string } | { checkpointId: string };

/**
 * A restored process keeps the rights of the process it was saved from, narrowed by its agent's
 * spec as it is now: never wider than either. A budget already spent is refused.
 */
function restoredGrant(spec: AgentSpec, saved: SavedGrant): Outcome<{ tools: string[]; fs: FsScope[]; limits: Required<Limits>; budget: Budget }> {
  const budget: Budget = {};
  for (const k of BUDGET_KEYS) {
    const caps = [spec.budget[k], saved.budget[k]].filter((v): v is number => v !== undefined);
    if (caps.length) budget[k] = Math.min(...caps);
  }
  const spent = spentDimension(budget);
  if (spent) return fail(422, "limit_exceeded", `The saved process has no ${spent} budget left.`, { limit: "budget", dimension: spent });
  return ok({
    tools: effectiveTools(spec.tools, saved.tools),
    fs: clipScopes(spec.fs, saved.fs),
    limits: clampLimits({ ...DEFAULT_LIMITS, ...spec.limits }, saved.limits),
    budget,
  });
}

const limitsOf = (row: ProcRow): Required<Limits> => JSON.parse(row.limits) as Required<Limits>;

function signalCode(signal: Signal): number {
  return signal === "SIGKILL" ? ExitCode.killed : ExitCode.terminated;
}

/** Maps rows lazily, so a page stops reading (and parsing) at its limit. */
function* mapRows<R, T>(rows: Iterable<R>, map: (row: R) => T): Iterable<T> {
  for (const row of rows) yield map(row);
}

function toProcess(r: ProcRow): Process {
  return {
    pid: r.pid,
    agent: r.agent,
    parentPid: r.parent_pid,
    taskId: r.task_id,
    state: r.state,
    mode: r.mode,
    turnCount: r.turn_count,
    usage: JSON.parse(r.usage),
    tools: JSON.parse(r.tools),
    fs: JSON.parse(r.fs),
    budget: { limit: JSON.parse(r.budget_limit), used: JSON.parse(r.tree_used) },
    depth: r.depth,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    exit: r.exit ? JSON.parse(r.exit) : null,
    result: r.result,
    metadata: JSON.parse(r.metadata),
  };
}

function viewOf(spec: HookSpec, position: number): HookView {
  if (spec.kind === "webhook") {
    // Neither the secret nor credentials in the URL (user:password@) are ever shown back.
    const { secret: _secret, ...rest } = spec;
    return { ...rest, url: redactUrlCredentials(rest.url), position };
  }
  return { ...spec, position };
}
