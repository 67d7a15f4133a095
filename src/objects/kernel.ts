import { DurableObject } from "cloudflare:workers";
import {
  fail,
  ok,
  type AgentSpec,
  type Approval,
  type ApprovalListQuery,
  type DecideRequest,
  type InputRoute,
  type ReplyResult,
  type AuditEntry,
  type AuditVerify,
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
import { takeCheckpoint, type CheckpointStore, type RestoreFrom } from "../kernel/checkpoints";
import { feedItem } from "../kernel/deliveries";
import { OutboxDrain } from "../kernel/outbox-drain";
import { auditDispatch, type DispatchCall } from "../kernel/hook-runner";
import { toProcess } from "../kernel/rows";
import { migrate } from "../kernel/schema";
import { kernelServices, recordExits, recordReport, type ExitReport, type KernelServices } from "../kernel/services";
import { Batcher } from "../lib/batcher";
import { toTask } from "../kernel/tasks";
import type { TaskQuery } from "../kernel/task-store";
import { TenantFeed } from "../kernel/tenant-feed";
import { lastEventId } from "../lib/sse";
import { flatTransactions, type SqlStore } from "../lib/sql-store";
import { parseHostList } from "../lib/net";
import { takePage, type Page } from "../lib/paging";
import type { Env } from "../env";
import { forKernel } from "../rpc/stubs";
import { checkModelConfig } from "../models";
import type { DispatchGate, DispatchReport, GateOptions, LeaseAnswer, ProcessReport } from "../rpc/messages";

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
  private readonly outboxDrain: OutboxDrain;
  /** Exit reports that arrive together are written in one transaction (one commit for a burst of workers ending). */
  private readonly exits = new Batcher<ExitReport, ExitStatus>(async (items) => {
    const answers = recordExits(this.k, this.store, items);
    await this.drainOutbox();
    return answers;
  });
  private privateHostList: string[] | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = { sql: ctx.storage.sql, ...flatTransactions((fn) => ctx.storage.transactionSync(fn)) };
    migrate(this.store);
    this.feed = new TenantFeed(ctx.storage.sql, (type, ref) => feedItem(this.k, type, ref));
    this.k = kernelServices(this.store, {
      tenant: () => this.tenant,
      // The feed's live readers look for what was added once the current synchronous work (and so its transaction) is done.
      feedWritten: () => this.feed.flushSoon(),
      // The cap is read at each spawn, from the env as it is then.
      maxLive: () => maxLiveProcesses(this.env.MAX_LIVE_PROCESSES),
      privateHosts: () => (this.privateHostList ??= parseHostList(this.env.ALLOW_PRIVATE_HOSTS)),
      modelProblem: (spec) => checkModelConfig(spec, this.env),
      start: (pid) => this.drainOutbox([pid]),
      startMany: (pids) => this.drainOutbox(pids),
    });
    this.checkpoints = this.k.checkpoints;
    this.outboxDrain = new OutboxDrain({ k: this.k, store: this.store, process: (pid) => forKernel.process(this.env, this.tenant, pid) }, ctx.storage, () => this.tenant);
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

  /** A step's delegations in one call: admitted, written in one transaction and started together (`Spawner.delegateMany`). */
  async delegateMany(
    copilotPid: number,
    items: { input: DelegateInput; idempotencyKey?: string }[],
    opts: { actor: Actor; copilotUse?: BudgetUse },
  ): Promise<Outcome<{ task: Task; pid: number; warnings?: Warning[] }>[]> {
    return this.k.spawner.delegateMany(copilotPid, items, opts);
  }

  /** SendMessage over A2A (SPEC §12): a top-level process and its task, in one transaction. */
  async spawnTask(agent: string, input: string, opts: { actor: Actor; metadata?: Metadata; idempotencyKey?: string }): Promise<Outcome<{ task: Task; process: Process }>> {
    return this.k.spawner.spawnTask(agent, input, opts);
  }

  async restore(checkpointId: string, actor: Actor): Promise<Outcome<Process>> {
    return this.k.spawner.restore(checkpointId, actor);
  }

  /** Progress from a process object: the table's view, the tree's usage and the process's lease (`recordReport`). */
  async report(pid: number, report: ProcessReport): Promise<LeaseAnswer> {
    return recordReport(this.k, this.store, pid, report);
  }

  /** A process exited on its own. Idempotent: the first recorded exit wins (and is the answer). */
  async exited(pid: number, exit: ExitStatus, result: string | null, report: ProcessReport): Promise<ExitStatus> {
    return this.exits.submit({ pid, exit, result, report });
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
    if (!this.k.tasks.get(id)) return fail(404, "task_not_found", "No such task.");
    if (seen && this.k.tasks.isAt(id, seen)) await this.k.taskWaiters.wait(id, Math.min(timeoutMs, 60_000));
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

  /** pre_dispatch for a turn's calls; a policy's `ask` opens an approval (SPEC §11), answered in `asks`. */
  async beforeDispatch(pid: number, calls: DispatchCall[], opts: GateOptions = {}): Promise<DispatchGate> {
    const verdicts = await this.k.hooks.beforeDispatch(pid, () => this.k.table.get(pid), calls, opts);
    // The row only matters to a policy's ask (no ask: no read on this per-turn path).
    const gate = this.k.people.gate(Object.keys(verdicts.asks).length ? this.k.table.get(pid) : null, calls, verdicts, opts);
    // Arms the alarm for the new approvals' deadlines (and delivers a copilot's news of a waiting task).
    if (Object.keys(gate.asks).length) await this.drainOutbox();
    return gate;
  }

  async afterDispatch(pid: number, report: DispatchReport): Promise<Warning[]> {
    auditDispatch(this.k.audit, pid, report);
    if (report.results.length === 0) return [];
    const warnings = await this.k.hooks.afterDispatch(pid, this.k.table.get(pid)?.agent ?? null, report.results);
    this.k.table.addWarnings(pid, warnings, "post_dispatch", false);
    return warnings;
  }

  // ======================= people in the loop (SPEC §11) =======================

  async listApprovals(query: ApprovalListQuery): Promise<Page<Approval>> {
    return this.k.people.approvals.page(query);
  }

  async getApproval(id: string): Promise<Outcome<Approval>> {
    return this.k.people.approvals.find(id);
  }

  /** Routes only: a process holds no way to decide, so no model can approve its own call. */
  async decideApproval(id: string, body: DecideRequest, actor: Actor): Promise<Outcome<Approval>> {
    return this.drained(this.k.people.approvals.decide(id, body, actor));
  }

  /** The process's view of its approval, expired first when past its deadline. */
  async approvalState(pid: number, approvalId: string): Promise<Approval> {
    return this.k.people.approvals.state(pid, approvalId);
  }

  async requestInput(pid: number, toolCallId: string, question: string): Promise<InputRoute> {
    const row = this.k.table.get(pid);
    if (!row) throw new Error(`no process ${pid}`);
    return this.drained(this.k.people.questions.ask(row, toolCallId, question));
  }

  async replyTask(taskId: string, message: string, opts: { copilotPid?: number; actor: Actor; idempotencyKey?: string }): Promise<Outcome<ReplyResult>> {
    return this.drained(this.k.people.questions.reply(taskId, message, opts));
  }

  async inputProvided(pid: number, toolCallId: string, actor: Actor, answer?: string): Promise<void> {
    this.k.people.questions.provided(pid, toolCallId, actor, answer);
  }

  // ======================= checkpoint =======================

  async checkpoint(pid: number, actor: Actor): Promise<Outcome<{ checkpointId: string }>> {
    const row = this.k.table.get(pid);
    if (!row) return notFound(pid);
    if (row.exit) return fail(409, "process_not_running", `Process ${pid} has exited.`);
    // A field of its own (`this.checkpoints`): tests make saving fail.
    return takeCheckpoint({ k: { ...this.k, checkpoints: this.checkpoints }, store: this.store, process: forKernel.process(this.env, this.tenant, pid) }, row, actor);
  }

  // ======================= outbox =======================

  /** Delivers what the kernel promised other objects (src/kernel/outbox-drain.ts). */
  private drainOutbox(onlyPids?: number[]): Promise<void> {
    return this.outboxDrain.drain(onlyPids);
  }

  /** `value`, once what its call promised other objects is delivered or armed for the alarm. */
  private async drained<T>(value: T): Promise<T> {
    await this.drainOutbox();
    return value;
  }

  override async alarm(): Promise<void> {
    await this.outboxDrain.fired();
    this.feed.flushSoon();
  }
}
