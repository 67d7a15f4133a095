import { DurableObject } from "cloudflare:workers";
import {
  fail,
  ok,
  type AgentSpec,
  type AuditEntry,
  type AuditVerify,
  type Budget,
  type BudgetUse,
  type DelegateInput,
  type ExitStatus,
  type HookSpecInput,
  type HookView,
  type KillRequest,
  type KillResult,
  type ListQuery,
  type McpRefreshResult,
  type McpServer,
  type McpServerConfig,
  type McpToolBinding,
  type Metadata,
  type Outcome,
  type Process,
  type SpawnRequest,
  type Task,
  type TaskState,
  type WaitResult,
  type Warning,
} from "../contracts";
import { maxLiveProcesses } from "../kernel/admission";
import type { Actor } from "../kernel/audit-log";
import { savedGrant, sealCheckpoint, type CheckpointStore, type RestoreFrom, type SavedProcess } from "../kernel/checkpoints";
import type { PathFilter } from "../kernel/hook-chain";
import type { DispatchCall } from "../kernel/hook-runner";
import type { OutboxEntry } from "../kernel/outbox";
import { exitOf, toProcess, type TaskRow } from "../kernel/rows";
import { migrate } from "../kernel/schema";
import { kernelServices, type KernelServices } from "../kernel/services";
import { toTask } from "../kernel/tasks";
import type { TaskQuery } from "../kernel/task-store";
import { feedItem, TenantFeed } from "../kernel/tenant-feed";
import { lastEventId } from "../lib/sse";
import type { SqlStore } from "../lib/sql-store";
import { alarmTime } from "../lib/alarm";
import { parseHostList } from "../lib/net";
import { takePage, type Page } from "../lib/paging";
import type { Env } from "../env";
import { forKernel } from "../rpc/stubs";
import { checkModelConfig } from "../models";
import type { DispatchReport, ProcessReport } from "../rpc/messages";

export type { Actor };

const notFound = (pid: number) => fail(404, "process_not_found", `No process ${pid}.`);

/**
 * One per tenant: the process table, the agent registry, the hook chain, tasks, the outbox and the
 * audit log. A façade: the rules live in the services of src/kernel (and src/agent), which take its
 * SQLite store; this class wires them, opens the transactions that span several of them, keeps the
 * outbox's alarm, and talks RPC to the process objects.
 */
export class KernelObject extends DurableObject<Env> {
  private readonly k: KernelServices;
  private readonly store: SqlStore;
  private readonly feed: TenantFeed;
  /** Saved states (a field of its own: tests make saving fail). */
  private readonly checkpoints: CheckpointStore;
  /** Outbox entries being delivered by this incarnation, so two drains never deliver one twice at once. */
  private readonly delivering = new Set<number>();
  private privateHostList: string[] | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Every statement tells the feed's live readers to look for what it added, once the current
    // synchronous work (and so its transaction) is done: nothing uncommitted is ever read for them.
    const sql = ctx.storage.sql;
    this.store = {
      sql: {
        exec: <T extends Record<string, SqlStorageValue>>(query: string, ...bindings: unknown[]) => {
          const cursor = sql.exec<T>(query, ...bindings);
          this.feed?.flushSoon();
          return cursor;
        },
      },
      transactionSync: (fn) => ctx.storage.transactionSync(fn),
    };
    migrate(this.store);
    this.feed = new TenantFeed(ctx.storage.sql, (type, ref) => feedItem(this.k, type, ref));
    this.k = kernelServices(this.store, {
      tenant: () => this.tenant,
      // The cap is read at each spawn, from the env as it is then.
      maxLive: () => maxLiveProcesses(this.env.MAX_LIVE_PROCESSES),
      privateHosts: () => (this.privateHostList ??= parseHostList(this.env.ALLOW_PRIVATE_HOSTS)),
      modelProblem: (spec) => checkModelConfig(spec, this.env),
      start: (pid) => this.drainOutbox(pid),
    });
    this.checkpoints = this.k.checkpoints;
  }

  private get tenant(): string {
    return this.ctx.id.name!;
  }

  // ======================= the tenant feed (GET /v1/events) =======================

  /** `GET /v1/events`: the feed after the reader's `Last-Event-ID`, then live. */
  override async fetch(request: Request): Promise<Response> {
    return this.feed.stream(lastEventId(request.headers.get("last-event-id")));
  }

  /** Drops the cached hook chain (tests write the hooks table behind the API's back). */
  protected set hookCache(_: null) {
    this.k.hookRegistry.invalidate();
  }

  // ======================= audit =======================

  async listAudit(afterSeq: number, limit: number): Promise<Page<AuditEntry>> {
    return takePage(this.k.audit.page(afterSeq, limit + 1), limit, (e) => e.seq);
  }

  async verifyAudit(full = false): Promise<AuditVerify> {
    return this.k.audit.verify({ full });
  }

  // ======================= agents and hooks =======================

  async registerAgent(spec: AgentSpec, actor: Actor): Promise<Outcome<AgentSpec>> {
    return this.k.agents.register(spec, actor);
  }

  async getAgent(name: string): Promise<Outcome<AgentSpec>> {
    return this.k.agents.find(name);
  }

  async listAgents(page: { limit: number; cursor?: string }): Promise<Page<AgentSpec>> {
    return this.k.agents.page(page);
  }

  async deleteAgent(name: string, actor: Actor): Promise<Outcome<{ deleted: string }>> {
    return this.k.agents.remove(name, actor);
  }

  async listHooks(): Promise<HookView[]> {
    return this.k.hookRegistry.views();
  }

  async putHook(name: string, input: HookSpecInput, actor: Actor): Promise<Outcome<HookView>> {
    return this.k.hookRegistry.put(name, input, actor);
  }

  async deleteHook(name: string, actor: Actor): Promise<Outcome<{ deleted: string }>> {
    return this.k.hookRegistry.remove(name, actor);
  }

  // ======================= MCP servers (src/kernel/mcp-registry.ts) =======================
  // Registering and refreshing talk to the server before anything is written, holding nothing.

  async registerMcp(name: string, config: McpServerConfig, actor: Actor): Promise<Outcome<McpServer>> { return this.k.mcp.register(name, config, actor); }
  async refreshMcp(name: string, actor: Actor): Promise<Outcome<McpRefreshResult>> { return this.k.mcp.refresh(name, actor); }
  async getMcp(name: string): Promise<Outcome<McpServer>> { return this.k.mcp.find(name); }
  async listMcp(page: { limit: number; cursor?: string }): Promise<Page<McpServer>> { return this.k.mcp.page(page); }
  async removeMcp(name: string, actor: Actor): Promise<Outcome<{ deleted: string }>> { return this.k.mcp.remove(name, actor); }

  /** A process's MCP tools as the catalogue has them now, with their connections; names not there are absent. */
  async mcpTools(names: string[]): Promise<McpToolBinding[]> {
    return this.k.mcp.bindings(names);
  }

  // ======================= processes =======================

  /** Whether the table has this pid: routes ask before they reach a process object. */
  async hasProcess(pid: number): Promise<boolean> {
    return this.k.table.has(pid);
  }

  async getProcess(pid: number): Promise<Outcome<Process>> {
    const row = this.k.table.get(pid);
    return row ? ok(toProcess(row)) : notFound(pid);
  }

  async listProcesses(query: ListQuery): Promise<Page<Process>> {
    return this.k.table.page(query);
  }

  /** spawn(2) over HTTP: a top-level process, or a child of `parentPid` (src/kernel/spawn.ts). */
  async spawn(request: SpawnRequest, actor: Actor, restore?: RestoreFrom): Promise<Outcome<Process>> {
    return this.k.spawner.spawn(request, actor, restore);
  }

  /** Delegation (SPEC §7): task, worker and reservation in one transaction with the spawn. */
  async delegate(copilotPid: number, input: DelegateInput, opts: { idempotencyKey?: string; actor: Actor; copilotUse?: BudgetUse }): Promise<Outcome<{ task: Task; pid: number; warnings?: Warning[] }>> {
    return this.k.spawner.delegate(copilotPid, input, opts);
  }

  /** SendMessage over A2A (SPEC §12): a top-level process and its task, in one transaction. */
  async spawnTask(agent: string, input: string, opts: { actor: Actor; metadata?: Metadata; idempotencyKey?: string }): Promise<Outcome<{ task: Task; process: Process }>> {
    return this.k.spawner.spawnTask(agent, input, opts);
  }

  async restore(checkpointId: string, actor: Actor): Promise<Outcome<Process>> {
    return this.k.spawner.restore(checkpointId, actor);
  }

  /**
   * Progress from a process object: keeps the table's view of a live process current, and charges
   * its new usage to every ancestor (budgets are tree-wide). Answers what the process's descendants
   * have used or still hold reserved, which its own budget check adds to its usage.
   */
  async report(pid: number, report: ProcessReport): Promise<{ external: BudgetUse; ancestorsLeft: Budget }> {
    if (this.k.table.has(pid)) {
      this.store.transactionSync(() => {
        this.k.ledger.charge(pid, report.budgetUsed);
        this.k.table.recordReport(pid, report);
        // A top-level process's own task (A2A) follows whether it waits for its caller.
        const row = this.k.table.get(pid);
        if (row?.task_id && row.parent_pid === null) this.k.tasks.followReport(row.task_id, pid, report.awaiting);
      });
    }
    return this.k.ledger.treeBudget(pid);
  }

  /** A process exited on its own. Idempotent: the first recorded exit wins. */
  async exited(pid: number, exit: ExitStatus, result: string | null, report: ProcessReport): Promise<ExitStatus> {
    const row = this.k.table.get(pid);
    if (!row) return exit;
    const recorded = exitOf(row);
    if (recorded) return recorded;
    this.store.transactionSync(() => {
      this.k.ledger.charge(pid, report.budgetUsed);
      this.k.table.exitedOnItsOwn(pid, exit, result, report);
    });
    await this.drainOutbox();
    return exit;
  }

  async kill(pid: number, request: KillRequest, actor: Actor): Promise<Outcome<KillResult>> {
    const row = this.k.table.get(pid);
    if (!row) return notFound(pid);
    const result = this.k.table.kill(row, request, actor);
    await this.drainOutbox();
    return ok(result);
  }

  /** wait(2): reaps an exited process; holds until it exits or `timeoutMs` passes. */
  async wait(pid: number, timeoutMs: number, actor: Actor, opts: { reap: boolean } = { reap: true }): Promise<Outcome<WaitResult>> {
    let row = this.k.table.get(pid);
    if (!row) return notFound(pid);
    if (!row.exit && timeoutMs > 0) {
      await this.k.waiters.wait(pid, timeoutMs);
      row = this.k.table.get(pid)!;
    }
    return ok(this.k.table.waitResult(row, actor, opts.reap));
  }

  // ======================= tasks =======================

  async getTask(id: string, v1 = false): Promise<Outcome<Task>> {
    const row = this.k.tasks.get(id);
    return row ? ok(toTask(row, v1)) : fail(404, "task_not_found", "No such task.");
  }

  async listTasks(query: TaskQuery & { limit: number; cursor?: string; total?: boolean }): Promise<Page<Task> & { total?: number }> {
    return { ...this.k.tasks.page(query), ...(query.total ? { total: this.k.tasks.count(query) } : {}) };
  }

  /**
   * Holds until the task is no longer as `seen` describes it (its state and when that began), or
   * `timeoutMs` passes; answers the task as it is then. An A2A caller follows a task with it.
   */
  async awaitTask(id: string, seen: { state: string; timestamp: string } | null, timeoutMs: number): Promise<Outcome<Task>> {
    const same = (row: TaskRow) => seen !== null && row.state === seen.state && row.status_at === seen.timestamp;
    const row = this.k.tasks.get(id);
    if (!row) return fail(404, "task_not_found", "No such task.");
    if (same(row)) await this.k.taskWaiters.wait(id, Math.min(timeoutMs, 60_000));
    return ok(toTask(this.k.tasks.get(id)!));
  }

  /** Cancels a task: its worker and the worker's descendants end with `delegation cancelled`; siblings go on. */
  async cancelTask(id: string, opts: { copilotPid?: number; actor: Actor }): Promise<Outcome<{ taskId: string; state: TaskState }>> {
    const task = this.k.tasks.cancelable(id, opts.copilotPid);
    if (!task.ok) return task;
    this.k.table.cancelTasks([task.value], opts.actor);
    await this.drainOutbox();
    return ok({ taskId: id, state: this.k.tasks.get(id)!.state });
  }

  /** `POST /v1/procs/:pid/cancel-all`: every unfinished task of a copilot. */
  async cancelAll(copilotPid: number, actor: Actor): Promise<Outcome<{ canceled: string[] }>> {
    if (!this.k.table.has(copilotPid)) return notFound(copilotPid);
    const canceled = this.k.table.cancelOpenTasks(copilotPid, actor);
    await this.drainOutbox();
    return ok({ canceled });
  }

  // ======================= dispatch hooks =======================

  async beforeDispatch(pid: number, calls: DispatchCall[]): Promise<{ vetoes: Record<string, { hook: string; reason: string }>; hidden: Record<string, PathFilter[]>; postHooks: boolean }> {
    return this.k.hooks.beforeDispatch(pid, () => this.k.table.get(pid), calls);
  }

  async afterDispatch(pid: number, report: DispatchReport): Promise<Warning[]> {
    for (const d of report.denials) this.k.audit.append({ actor: `process:${pid}`, event: "dispatch_denied", pid, data: { tool: d.tool, toolCallId: d.toolCallId, paths: d.paths, reason: d.reason } });
    // What was called and how it went; never the arguments, the result or the server's headers.
    for (const c of report.mcpCalls ?? []) this.k.audit.append({ actor: `process:${pid}`, event: "mcp_call", pid, data: { tool: c.tool, toolCallId: c.toolCallId, durationMs: c.durationMs, ok: c.ok, ...(c.interrupted ? { interrupted: true } : {}) } });
    if (report.results.length === 0) return [];
    const warnings = await this.k.hooks.afterDispatch(pid, this.k.table.get(pid)?.agent ?? null, report.results);
    this.k.table.addWarnings(pid, warnings, "post_dispatch", false);
    return warnings;
  }

  // ======================= checkpoint =======================

  async checkpoint(pid: number, actor: Actor): Promise<Outcome<{ checkpointId: string }>> {
    const row = this.k.table.get(pid);
    if (!row) return notFound(pid);
    if (row.exit) return fail(409, "process_not_running", `Process ${pid} has exited.`);
    const process = forKernel.process(this.env, this.tenant, pid);
    const snap = await process.snapshot();
    if (!snap.ok) return snap;
    const { snapshot, wasPaused } = snap.value;
    // The rights are the kernel's record, not the process's: a restore gets exactly these, or less.
    const saved: SavedProcess = { ...snapshot, grant: savedGrant(this.k.table.get(pid)!, this.k.ledger.savedBudget(pid)) };
    // A checkpoint that cannot be saved leaves the process as it found it.
    const undo = () => (wasPaused ? Promise.resolve() : process.resume().then(() => undefined));
    const sealed = sealCheckpoint(saved);
    if (!sealed.ok) {
      await undo();
      return sealed;
    }
    const { id, text } = sealed.value;
    try {
      this.store.transactionSync(() => {
        this.checkpoints.save(id, pid, row.agent, text);
        this.k.table.recordPause(pid);
        this.k.audit.append({ actor, event: "checkpoint", pid, data: { checkpointId: id } });
      });
    } catch (err) {
      await undo();
      throw err;
    }
    return ok({ checkpointId: id });
  }

  // ======================= outbox =======================

  /**
   * Delivers what the kernel promised other objects (start, terminate, task results) and webhooks
   * (post_terminate): at least once, retried from the alarm with backoff until it lands.
   */
  private async drainOutbox(onlyPid?: number, fromAlarm = false): Promise<void> {
    const { outbox } = this.k;
    const due = outbox.due({ ...(onlyPid !== undefined ? { onlyPid } : {}), fromAlarm }).filter((r) => !this.delivering.has(r.id));
    for (const r of due) this.delivering.add(r.id);
    // The next attempt is armed before any delivery runs, so a crash mid-delivery is retried.
    if (due.length) await this.armOutboxAlarm(Date.now() + 5_000);
    await Promise.all(
      due.map(async (entry) => {
        try {
          await this.deliver(entry);
          outbox.delivered(entry.id);
        } catch (err) {
          console.warn(`kernel ${this.tenant}: ${entry.kind} for ${entry.pid} failed (attempt ${entry.attempts + 1}): ${err instanceof Error ? err.message : String(err)}`);
          outbox.retryLater(entry);
        } finally {
          this.delivering.delete(entry.id);
        }
      }),
    );
    const next = outbox.nextDue();
    if (next !== null) await this.armOutboxAlarm(next);
  }

  /** Arms the alarm for `at` unless an earlier one is pending; an overdue one is taken as lost. */
  private async armOutboxAlarm(at: number) {
    const when = alarmTime(at);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > when || current <= Date.now()) await this.ctx.storage.setAlarm(when);
  }

  private async deliver(entry: OutboxEntry): Promise<void> {
    const process = () => forKernel.process(this.env, this.tenant, entry.pid);
    switch (entry.kind) {
      case "start": {
        const { config, start: order } = entry.payload;
        const start = "input" in order ? order : this.checkpoints.startOf(order.checkpointId);
        // A checkpoint is never deleted, so a missing one is a broken store, not a retryable delivery.
        if (!start) throw new Error(`checkpoint of process ${entry.pid} is missing`);
        const state = await process().start(config, start);
        this.store.transactionSync(() => {
          this.k.table.recordStart(entry.pid, state);
          if (config.taskId) this.k.tasks.markWorking(config.taskId, entry.pid);
        });
        return;
      }
      case "terminate":
        return process().terminate(entry.payload);
      case "post_terminate":
        return this.k.table.addWarnings(entry.pid, await this.k.hooks.postTerminate(entry.payload), "post_terminate");
      case "deliver":
        return process().deliverTask(entry.payload.task, entry.payload.delivery);
    }
  }

  override async alarm(): Promise<void> {
    await this.drainOutbox(undefined, true);
    this.feed.flushSoon();
  }
}
