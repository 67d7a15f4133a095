import { DurableObject } from "cloudflare:workers";
import {
  DEFAULT_SYSTEM_PROMPT,
  ExitCode,
  fail,
  ok,
  type AgentSpec,
  type BudgetUse,
  type CollectedTask,
  type DeliveryPolicy,
  type Budget,
  type ExitStatus,
  type FsScope,
  type Limits,
  type Message,
  type Outcome,
  type ProcessEvent,
  type ProcessEventType,
  type ToolCall,
  type ToolResult,
  type Warning,
} from "../contracts";
import { isFsTool, TASK_TOOL_ARGS } from "../contracts/tools";
import { isTerminalTask, type CollectInput, type CollectResult, type DelegateInput, type DelegateResult, type TaskState } from "../contracts/tasks";
import { collectResult, collectSatisfied, MAX_COLLECT_HTTP_CHARS, MAX_COLLECT_TOOL_CHARS } from "../agent/collect";
import { trimContext } from "../agent/context";
import { errorResult, LOOP_ONLY_TOOLS, okResult, pathsOf, precheck, withTimeout } from "../agent/dispatch";
import {
  afterModelError,
  afterModelResponse,
  afterToolResults,
  fitToBudget,
  isWaiting,
  ownUse,
  FINAL_CALL_PROMPT,
  initialLoopState,
  visibleState,
  withBudgetCheck,
  type LoopSettings,
  type LoopState,
  type Next,
} from "../agent/loop";
import { toolSchemas } from "../agent/tool-schemas";
import { kernelOf, processOf, workspaceOf, type Env } from "../env";
import { alarmTime } from "../lib/alarm";
import { EventLog } from "../process/event-log";
import type { PathFilter } from "../kernel/hook-chain";
import { Inbox } from "../process/inbox";
import { Conversation, describeRefusal, MAX_MESSAGE_BYTES } from "../process/conversation";
import type { Page } from "../lib/paging";
import { createModel, ModelError, type Model } from "../models";

/** What the kernel hands a process when it starts it; fixed for the process's life. */
export interface ProcessConfig {
  tenant: string;
  pid: number;
  parentPid: number | null;
  taskId: string | null;
  /** How this worker's progress and result reach its copilot (null unless delegated). */
  delivery: DeliveryPolicy | null;
  depth: number;
  spec: AgentSpec;
  tools: string[];
  fs: FsScope[];
  budget: Budget;
  limits: Required<Limits>;
  createdAt: string;
}

export type ProcessStart = { input: string } | { restore: ProcessSnapshot };

/** The saved state a checkpoint holds and a restore continues from. */
export interface ProcessSnapshot {
  agent: string;
  messages: Message[];
  loop: LoopState;
}

/** What the process tells its kernel after each step, so the process table stays current. */
export interface ProcessReport {
  state: "running" | "sleeping" | "paused";
  turnCount: number;
  usage: LoopState["usage"];
  /** The process's own usage; the kernel adds descendants' for the tree-wide view. */
  budgetUsed: BudgetUse;
}

/**
 * If the object dies mid-step, this alarm brings it back: it is armed before any risky work and
 * replaced by the next step's alarm when the step ends. While a step runs in this incarnation the
 * alarm only re-arms itself.
 */
const DEADMAN_MS = 5_000;
const TOOL_STEP_CONCURRENCY = 16;

export class ProcessObject extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private config: ProcessConfig | null = null;
  private loop: LoopState | null = null;
  private exitStatus: ExitStatus | null = null;
  private stepping = false;
  private abort: AbortController | null = null;
  private readonly events: EventLog;
  private readonly inbox: Inbox;
  private readonly conversation: Conversation;
  private modelInstance: Model | null = null;
  /** A result landed while a step ran: the step's end must not sleep past it. */
  private wakeRequested = false;
  /** HTTP collects holding for results. */
  private collectWaiters = new Set<() => void>();
  /** One stub, so progress reaches the copilot in order (calls on one stub are delivered in order). */
  private copilotStub: ReturnType<typeof processOf> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.events = new EventLog(this.sql);
    this.inbox = new Inbox(this.sql);
    this.sql.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.conversation = new Conversation(this.sql);
  }

  // ---------- persistence ----------

  private read<T>(key: string): T | null {
    const row = this.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : null;
  }
  private write(key: string, value: unknown) {
    this.sql.exec("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, JSON.stringify(value));
  }
  private loaded(): boolean {
    if (!this.config) {
      this.config = this.read<ProcessConfig>("config");
      this.loop = this.read<LoopState>("loop");
      this.exitStatus = this.read<ExitStatus>("exit");
    }
    return this.config !== null;
  }
  private get cfg(): ProcessConfig {
    return this.config!;
  }
  private get state(): LoopState {
    return this.loop!;
  }
  private settings(): LoopSettings {
    return { mode: this.cfg.spec.mode, maxTurns: this.cfg.spec.maxTurns, budget: this.cfg.budget };
  }
  private appendMessages(messages: Message[]) {
    this.conversation.append(messages);
  }
  /** Loop state, new messages and events land in one transaction: a step is persisted whole or not at all. */
  private commit(loop: LoopState, append: Message[], events: [ProcessEventType, unknown][]) {
    const written: ProcessEvent[] = [];
    try {
      this.ctx.storage.transactionSync(() => {
        this.write("loop", loop);
        this.appendMessages(append);
        for (const [type, data] of events) written.push(this.events.insert(type, data));
      });
    } catch (err) {
      this.conversation.forgetSize();
      throw err;
    }
    this.loop = loop;
    this.publish(written);
  }
  private emit(type: ProcessEventType, data: unknown) {
    this.publish([this.events.insert(type, data)]);
  }

  // ---------- lifecycle RPC (called by the kernel) ----------

  /** Idempotent: the kernel may deliver a start more than once. */
  async start(config: ProcessConfig, start: ProcessStart): Promise<ProcessReport["state"]> {
    if (this.loaded()) return this.report().state;
    const loop = "restore" in start ? { ...start.restore.loop, paused: false, attempts: 0, retryAt: null } : initialLoopState();
    const messages = "restore" in start ? start.restore.messages : [{ role: "user" as const, content: start.input }];
    this.ctx.storage.transactionSync(() => {
      this.write("config", config);
      this.write("loop", loop);
      this.appendMessages(messages);
    });
    this.config = config;
    this.loop = loop;
    this.emit("state", { state: visibleState(loop) });
    if (loop.phase !== "sleeping") await this.armAlarm(Date.now());
    return this.report().state;
  }

  /** The kernel recorded this process's exit (kill, cascade): stop now, abandoning any in-flight call. */
  async terminate(exit: ExitStatus): Promise<void> {
    if (!this.loaded() || this.exitStatus) return;
    this.abort?.abort(new Error(exit.reason));
    this.finish(exit, this.state, []);
    await this.ctx.storage.deleteAlarm();
  }

  private finish(exit: ExitStatus, loop: LoopState, append: Message[], result: string | null = null) {
    const exited: LoopState = { ...loop, phase: "exited", pendingCalls: [] };
    this.ctx.storage.transactionSync(() => {
      this.write("exit", exit);
      this.write("result", result);
      this.write("exitReported", false);
    });
    this.exitStatus = exit;
    this.commit(exited, append, [
      ["state", { state: "exited" }],
      ["exit", { ...exit, result }],
    ]);
    this.events.close();
  }

  // ---------- the loop ----------

  override async alarm(): Promise<void> {
    if (!this.loaded()) return;
    if (this.stepping) {
      await this.armAlarm(Date.now() + DEADMAN_MS);
      return;
    }
    if (this.exitStatus) {
      await this.reportExit();
      return;
    }
    const loop = this.state;
    if (loop.paused || loop.phase === "sleeping" || loop.phase === "exited") return;
    if (loop.retryAt && loop.retryAt > Date.now()) {
      await this.armAlarm(loop.retryAt);
      return;
    }
    await this.armAlarm(Date.now() + DEADMAN_MS);
    // Until the next alarm is armed, a result delivered meanwhile only leaves a wake request that
    // scheduleNext honours; arming its own alarm it would be overwritten by scheduleNext's.
    this.stepping = true;
    const startedAt = Date.now();
    try {
      // A step is the model's answer and then its turn of tool calls; the answer is persisted first,
      // so a step cut short resumes with its tools (phase "tools"), never by asking the model again.
      if (loop.phase === "model") await this.callModel();
      if (this.state.phase === "tools" && !this.exitStatus && !this.state.paused) await this.dispatchTurn();
      if (this.exitStatus) {
        await this.reportExit();
        return;
      }
      // The step's wall time goes into the report; the tree's answer and the budget check land in one commit.
      this.loop = { ...this.state, wallMs: this.state.wallMs + (Date.now() - startedAt) };
      const tree = await this.reportProgress();
      this.commit(withBudgetCheck(tree ? { ...this.state, ...tree } : this.state, this.settings()), [], []);
      await this.scheduleNext();
    } finally {
      this.stepping = false;
    }
  }

  private armAlarm(at: number) {
    return this.ctx.storage.setAlarm(alarmTime(at));
  }

  private async scheduleNext() {
    const loop = this.state;
    const woken = this.wakeRequested;
    this.wakeRequested = false;
    if (loop.phase === "exited" || loop.paused || loop.phase === "sleeping") await this.ctx.storage.deleteAlarm();
    else if (isWaiting(loop)) await this.armAlarm(woken ? Date.now() : Math.min(...Object.values(loop.waiting!).map((w) => w.deadline)));
    else await this.armAlarm(loop.retryAt ?? Date.now());
  }

  private model(): Model {
    return (this.modelInstance ??= createModel(this.cfg.spec, this.env));
  }

  private async callModel() {
    this.injectResults();
    const loop = this.state;
    const messages = this.conversation.all();
    if (loop.finalCall) messages.push({ role: "user", content: FINAL_CALL_PROMPT });
    const context = trimContext(messages, this.cfg.spec.maxContextTokens);
    const abort = (this.abort = new AbortController());
    let next: Next;
    try {
      const response = await this.model().generate(
        {
          system: this.cfg.spec.systemPrompt ?? DEFAULT_SYSTEM_PROMPT,
          messages: context,
          tools: loop.finalCall ? [] : toolSchemas(this.cfg.tools),
          signal: abort.signal,
          onTextDelta: (delta) => this.events.publishTransient("model", { call: loop.modelCalls, delta }),
        },
        loop.modelCalls,
      );
      if (abort.signal.aborted || this.exitStatus) return;
      // Reduce the state as it is now: a pause or dispatch may have landed while the model ran.
      next = afterModelResponse(this.state, this.settings(), response);
      const room = this.conversation.fits(next.append);
      if (!room.ok) {
        // Nothing of the answer is kept, and the exit is persisted: it is never requested again.
        this.finish({ code: ExitCode.error, reason: describeRefusal(room, "the model's answer"), at: new Date().toISOString() }, { ...this.state, phase: "exited" }, []);
        return;
      }
      this.commit(next.state, next.append, [
        ["model", { call: loop.modelCalls, text: response.text, toolCalls: response.toolCalls, usage: response.usage }],
        ...(next.state.turnCount > loop.turnCount ? [["turn", { turn: next.state.turnCount }] as [ProcessEventType, unknown]] : []),
        ...(next.state.phase === "sleeping" ? [["state", { state: "sleeping" }] as [ProcessEventType, unknown]] : []),
      ]);
    } catch (err) {
      if (abort.signal.aborted || this.exitStatus) return;
      const e = err instanceof ModelError ? err : new ModelError(err instanceof Error ? err.message : String(err), null);
      next = afterModelError(this.state, { message: e.message, retryable: e.retryable, retryAfterMs: e.retryAfterMs }, Date.now());
      this.commit(next.state, [], [["model", { call: loop.modelCalls, error: e.message, status: e.status, retryAt: next.state.retryAt }]]);
    } finally {
      this.abort = null;
    }
    if (next.kind === "exit") {
      this.finish({ code: next.exit.code, reason: next.exit.reason, at: new Date().toISOString() }, next.state, [], next.exit.result);
    }
  }

  /**
   * Runs the turn's tool calls that have no persisted result yet; each result is persisted as it
   * lands. A collect that is not yet satisfied leaves the turn open: the process sleeps until a
   * result is delivered or the collect's deadline alarm fires, then this runs again.
   */
  private async dispatchTurn() {
    const loop = this.state;
    const done = new Set(
      this.conversation.all()
        .filter((m): m is Extract<Message, { role: "tool" }> => m.role === "tool")
        .map((m) => m.toolCallId),
    );
    const record = (produced: ToolResult) => {
      if (this.exitStatus) return;
      // A result too large to keep is replaced by an error the model can act on (read less at a time).
      const room = this.conversation.fits([toolMessage(produced)]);
      const result = room.ok ? produced : refusedResult(produced, describeRefusal(room, `the result of ${produced.name}`));
      this.commit(this.state, [toolMessage(result)], [["tool_result", result]]);
    };
    const external = loop.external?.toolCalls ?? 0;
    const { run, refused } = fitToBudget(loop.pendingCalls, this.cfg.budget, loop.usage.toolCalls + external, loop.ancestorsLeft?.toolCalls);
    const startedAt = Date.now();
    for (const call of refused) if (!done.has(call.id)) record(errorResult(call, "budget exhausted: no tool calls remain in this process's budget", startedAt));
    const waitingBefore = loop.waiting ?? {};
    const fresh = run.filter((c) => !done.has(c.id) && !waitingBefore[c.id]);
    await this.runCalls(fresh, record, this.cfg.spec.parallelToolCalls);
    if (this.exitStatus) return;
    // Collects that already waited are re-evaluated without running their hooks again.
    for (const call of run.filter((c) => waitingBefore[c.id] && !done.has(c.id))) {
      const outcome = this.evaluateCollect(call);
      if (outcome) record(okResult(call, outcome, startedAt));
    }
    if (isWaiting(this.state)) {
      this.commit(this.state, [], []);
      return;
    }
    this.commit(afterToolResults(this.state, this.settings(), run.length), [], []);
  }

  /**
   * Dispatches tool calls with this process's permissions and the kernel's dispatch hooks, in
   * parallel or one by one. Denials and failures become error results; none throws.
   */
  private async runCalls(calls: ToolCall[], onResult: (r: ToolResult) => void, parallel: boolean): Promise<{ results: ToolResult[]; warnings: Warning[] }> {
    const results: ToolResult[] = [];
    if (calls.length === 0) return { results, warnings: [] };
    const startedAt = Date.now();

    const denials: { call: ToolCall; reason: string }[] = [];
    const allowed: ToolCall[] = [];
    for (const call of calls) {
      const problem = precheck(call, this.cfg.tools);
      if (problem) {
        this.emit("tool_call", call);
        if (problem.startsWith("permission_denied")) denials.push({ call, reason: problem });
        const r = errorResult(call, problem, startedAt);
        results.push(r);
        onResult(r);
      } else allowed.push(call);
    }
    const kernel = kernelOf(this.env, this.cfg.tenant);
    const gate = allowed.length
      ? await kernel.beforeDispatch(this.cfg.pid, allowed.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, paths: pathsOf(c) })))
      : { vetoes: {}, hidden: {}, postHooks: false };

    // A tool_call event marks the moment a call starts, so each appears once unless a crash interrupted it.
    const runOne = async (call: ToolCall): Promise<ToolResult | null> => {
      const t0 = Date.now();
      this.emit("tool_call", call);
      const veto = gate.vetoes[call.id];
      if (veto) return errorResult(call, `vetoed by hook ${veto.hook}: ${veto.reason}`, t0);
      if (call.name === "collect") {
        const outcome = this.evaluateCollect(call);
        return outcome === null ? null : okResult(call, outcome, t0);
      }
      try {
        const output = await withTimeout(this.execute(call, gate.hidden[call.id]), this.cfg.spec.toolTimeoutMs, `tool ${call.name}`);
        if (output.ok) return okResult(call, output.output, t0);
        if (output.denied) denials.push({ call, reason: output.message });
        return errorResult(call, output.message, t0);
      } catch (err) {
        return errorResult(call, err instanceof Error ? err.message : String(err), t0);
      }
    };

    const settle = (r: ToolResult | null) => {
      if (!r) return;
      results.push(r);
      onResult(r);
    };
    // Collects run after the turn's other calls, so a delegate in the same turn is already known.
    const first = allowed.filter((c) => c.name !== "collect");
    const collects = allowed.filter((c) => c.name === "collect");
    if (parallel) {
      for (let i = 0; i < first.length; i += TOOL_STEP_CONCURRENCY) {
        await Promise.all(first.slice(i, i + TOOL_STEP_CONCURRENCY).map(async (call) => settle(await runOne(call))));
      }
    } else {
      for (const call of first) {
        if (this.exitStatus) break;
        settle(await runOne(call));
      }
    }
    for (const call of collects) if (!this.exitStatus) settle(await runOne(call));

    let warnings: Warning[] = [];
    if (denials.length || gate.postHooks) {
      warnings = await kernel.afterDispatch(this.cfg.pid, {
        denials: denials.map((d) => ({ tool: d.call.name, toolCallId: d.call.id, paths: pathsOf(d.call), reason: d.reason })),
        results: gate.postHooks ? results.map((r) => ({ toolCallId: r.toolCallId, name: r.name, success: r.success, durationMs: r.durationMs })) : [],
      });
    }
    return { results, warnings };
  }

  private async execute(call: ToolCall, hidden?: PathFilter[]): Promise<{ ok: true; output: string } | { ok: false; message: string; denied: boolean }> {
    if (isFsTool(call.name)) {
      const out = await workspaceOf(this.env, this.cfg.tenant).runTool(call.name, call.arguments, this.cfg.fs, `${this.cfg.pid}:${call.id}`, hidden);
      if (out.ok) return { ok: true, output: out.output };
      const denied = out.code === "permission_denied";
      return { ok: false, message: denied && !out.message.startsWith("permission_denied") ? `permission_denied: ${out.message}` : out.message, denied };
    }
    switch (call.name) {
      case "delegate":
        return this.delegateTool(call);
      case "cancel_task": {
        const args = TASK_TOOL_ARGS.cancel_task.safeParse(call.arguments);
        if (!args.success) return { ok: false, message: `invalid arguments: ${args.error.issues[0]?.message}`, denied: false };
        const out = await kernelOf(this.env, this.cfg.tenant).cancelTask(args.data.taskId, { copilotPid: this.cfg.pid, actor: `process:${this.cfg.pid}` });
        return out.ok ? { ok: true, output: JSON.stringify(out.value) } : { ok: false, message: `${out.error.code}: ${out.error.message}`, denied: false };
      }
      case "list_tasks":
        return { ok: true, output: JSON.stringify(this.inbox.list().map(({ taskId, pid, agent, state }) => ({ taskId, pid, agent, state }))) };
    }
    return { ok: false, message: `the tool ${call.name} is not available in this process`, denied: false };
  }

  // ---------- delegation (the copilot side) ----------

  private async delegateTool(call: ToolCall): Promise<{ ok: true; output: string } | { ok: false; message: string; denied: boolean }> {
    const args = TASK_TOOL_ARGS.delegate.safeParse(call.arguments);
    if (!args.success) return { ok: false, message: `invalid arguments: ${args.error.issues.map((i) => `${i.path.join(".") || "arguments"}: ${i.message}`).join("; ")}`, denied: false };
    // The call id is stable across a crash and re-run of this step, so the kernel answers a repeat
    // with the task it already made instead of spawning a second worker.
    const out = await this.startDelegation(args.data, `tool:${call.id}`);
    return out.ok ? { ok: true, output: JSON.stringify({ taskId: out.value.taskId, pid: out.value.pid }) } : { ok: false, message: `${out.error.code}: ${out.error.message}`, denied: false };
  }

  private async startDelegation(args: DelegateInput, idempotencyKey: string): Promise<Outcome<DelegateResult>> {
    const out = await kernelOf(this.env, this.cfg.tenant).delegate(this.cfg.pid, args, { idempotencyKey, actor: `process:${this.cfg.pid}`, copilotUse: ownUse(this.state) });
    if (!out.ok) return out;
    const { task, pid } = out.value;
    const state = task.status.state as TaskState;
    const delivery = task.metadata.deliveryPolicy;
    // A retried delegation may find its task already ended. Its result comes only with the kernel's
    // delivery, so until then the inbox knows it as working.
    const known = isTerminalTask(state) ? "working" : state;
    if (this.inbox.record({ taskId: task.id, pid, agent: task.metadata.agent, state: known }, delivery) && delivery !== "on_demand") {
      this.emit("task", { taskId: task.id, workerPid: pid, agent: task.metadata.agent, state });
    }
    return ok({ taskId: task.id, pid, state });
  }

  /** The collect tool: its answer when satisfied or past its deadline, else null (the turn waits). */
  private evaluateCollect(call: ToolCall): string | null {
    const parsed = TASK_TOOL_ARGS.collect.safeParse(call.arguments);
    const loop = this.state;
    const waiting = { ...(loop.waiting ?? {}) };
    let entry = waiting[call.id];
    if (!entry) {
      if (!parsed.success) return `Error: invalid arguments: ${parsed.error.issues[0]?.message}`;
      // The default selection is fixed when the collect starts: results of later delegations do not join it.
      const taskIds = parsed.data.taskIds ?? this.inbox.uncollectedIds();
      const unknown = this.inbox.unknown(taskIds);
      if (unknown.length) return `Error: unknown task ${unknown.join(", ")}`;
      entry = { taskIds, deadline: Date.now() + (parsed.data.timeoutMs ?? DEFAULT_COLLECT_TIMEOUT_MS) };
    }
    const args = parsed.success ? parsed.data : { mode: "all" as const, n: undefined };
    const tasks = this.inbox.list(entry.taskIds);
    const satisfied = collectSatisfied(tasks, args.mode, args.n);
    if (!satisfied && Date.now() < entry.deadline) {
      if (!waiting[call.id]) {
        waiting[call.id] = entry;
        this.commit({ ...loop, waiting }, [], [["state", { state: "sleeping", collect: { taskIds: entry.taskIds, deadline: new Date(entry.deadline).toISOString() } }]]);
      }
      return null;
    }
    delete waiting[call.id];
    this.inbox.markCollected(tasks);
    this.commit({ ...this.state, waiting }, [], []);
    return JSON.stringify(collectResult(tasks, satisfied, MAX_COLLECT_TOOL_CHARS));
  }

  /** Ended immediate and deferred tasks join the conversation before the next model call. */
  private injectResults() {
    this.ctx.storage.transactionSync(() => {
      const tasks = this.inbox.takeForConversation();
      for (const task of tasks) {
        const note: Message = { role: "user", content: describeTaskResult(task) };
        // A result with no room left is announced without its text (collect and GET /v1/tasks/:id have it).
        this.appendMessages([this.conversation.fits([note]).ok ? note : { role: "user", content: describeTaskResult({ ...task, result: null }) }]);
      }
    });
  }

  /**
   * A worker's final result, from the kernel's outbox (at least once): applied once, since a task's
   * terminal state never changes. Never calls out: it records, and arms the alarm when it must wake.
   */
  async deliverTask(task: CollectedTask, delivery: DeliveryPolicy): Promise<void> {
    if (!this.loaded()) return;
    // A delegation this object never recorded (its delegate call died after the kernel's commit) is recorded now.
    if (!this.inbox.applyResult(task) && !this.inbox.record(task, delivery)) return;
    if (delivery !== "on_demand") this.emit("task", { taskId: task.taskId, workerPid: task.pid, agent: task.agent, state: task.state, result: task.result });
    for (const wake of this.collectWaiters) wake();
    if (this.exitStatus) return;
    const loop = this.state;
    const wake = isWaiting(loop) || (delivery === "immediate" && loop.phase === "sleeping");
    if (!wake || loop.paused) return;
    if (loop.phase === "sleeping") this.commit({ ...loop, phase: "model" }, [], [["state", { state: "running" }]]);
    if (this.stepping) this.wakeRequested = true;
    else await this.armAlarm(Date.now());
  }

  /** Live progress of an immediate-policy worker: pushed to this copilot's event stream. */
  async taskProgress(taskId: string, workerPid: number, events: { type: string; data: unknown }[]): Promise<void> {
    if (!this.loaded() || this.exitStatus) return;
    for (const e of events) this.emit("task", { taskId, workerPid, progress: e });
  }

  private pushProgress(events: ProcessEvent[]) {
    const cfg = this.config;
    if (!cfg || cfg.delivery !== "immediate" || cfg.parentPid === null || !cfg.taskId) return;
    const progress = events.filter((e) => PROGRESS_EVENTS.has(e.type)).map((e) => ({ type: e.type, data: e.data }));
    if (progress.length === 0) return;
    this.copilotStub ??= processOf(this.env, cfg.tenant, cfg.parentPid);
    this.copilotStub.taskProgress(cfg.taskId, cfg.pid, progress).catch(() => {
      this.copilotStub = null; // progress is best effort; a broken stub is replaced on the next push
    });
  }

  // ---------- reporting to the kernel ----------

  private report(): ProcessReport {
    const state = visibleState(this.state);
    return { state: state === "exited" ? "running" : state, turnCount: this.state.turnCount, usage: this.state.usage, budgetUsed: ownUse(this.state) };
  }

  /** Answers the tree's view of this process's budget (descendants' usage, ancestors' headroom), when the kernel answered. */
  private async reportProgress(): Promise<{ external: BudgetUse; ancestorsLeft: Budget } | null> {
    try {
      return await kernelOf(this.env, this.cfg.tenant).report(this.cfg.pid, this.report());
    } catch (err) {
      // The table catches up at the next report; the process itself is unaffected.
      console.warn(`process ${this.cfg.pid}: progress report failed: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  /** Tells the kernel this process exited, until it has acknowledged (the alarm retries). */
  private async reportExit() {
    if (this.read<boolean>("exitReported")) return;
    const exit = this.exitStatus!;
    try {
      await kernelOf(this.env, this.cfg.tenant).exited(this.cfg.pid, exit, this.read<string>("result"), this.report());
      this.write("exitReported", true);
      await this.ctx.storage.deleteAlarm();
    } catch (err) {
      console.warn(`process ${this.cfg.pid}: exit report failed, will retry: ${err instanceof Error ? err.message : String(err)}`);
      await this.armAlarm(Date.now() + 1000);
    }
  }

  // ---------- RPC for routes ----------

  private missing(): { ok: false; error: import("../contracts").Failure } {
    return fail(404, "process_not_found", "No such process.");
  }

  async conversationPage(query: { limit: number; cursor?: string }): Promise<Outcome<Page<Message>>> {
    if (!this.loaded()) return this.missing();
    return ok(this.conversation.page(query.limit, query.cursor));
  }

  async message(content: string): Promise<Outcome<{ state: string }>> {
    if (!this.loaded()) return this.missing();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    const room = this.conversation.fits([{ role: "user", content }]);
    if (!room.ok) {
      return room.why === "message"
        ? fail(413, "payload_too_large", `${describeRefusal(room, "The message")}.`, { limit: "message", maxBytes: MAX_MESSAGE_BYTES })
        : fail(422, "limit_exceeded", `${describeRefusal(room, "The message")}.`, { limit: "conversation", roomBytes: room.room });
    }
    this.appendMessages([{ role: "user", content }]);
    this.emit("message", { role: "user", content });
    let loop = this.state;
    if (loop.phase === "sleeping") {
      loop = withBudgetCheck({ ...loop, phase: "model" }, this.settings());
      this.commit(loop, [], loop.paused ? [] : [["state", { state: "running" }]]);
      if (!loop.paused) await this.armAlarm(Date.now());
      await this.reportProgress();
    }
    return ok({ state: visibleState(loop) });
  }

  async pause(): Promise<Outcome<{ state: string }>> {
    if (!this.loaded()) return this.missing();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    if (!this.state.paused) {
      this.commit({ ...this.state, paused: true }, [], [["state", { state: "paused" }]]);
      // A step in flight finishes and persists; the alarm then finds the process paused.
      if (!this.stepping) await this.ctx.storage.deleteAlarm();
      await this.reportProgress();
    }
    return ok({ state: "paused" });
  }

  async resume(): Promise<Outcome<{ state: string }>> {
    if (!this.loaded()) return this.missing();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    if (this.state.paused) {
      const loop = { ...this.state, paused: false };
      this.commit(loop, [], [["state", { state: visibleState(loop) }]]);
      if (loop.phase !== "sleeping") await this.armAlarm(loop.retryAt ?? Date.now());
      await this.reportProgress();
    }
    return ok({ state: visibleState(this.state) });
  }

  /** Pauses and answers the state a restore continues from, and whether it was paused already (to undo a failed save). */
  async snapshot(): Promise<Outcome<{ snapshot: ProcessSnapshot; wasPaused: boolean }>> {
    if (!this.loaded()) return this.missing();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    const wasPaused = this.state.paused;
    const paused = await this.pause();
    if (!paused.ok) return paused;
    return ok({ snapshot: { agent: this.cfg.spec.name, messages: this.conversation.all(), loop: { ...this.state, paused: false } }, wasPaused });
  }

  /** `POST /v1/procs/:pid/dispatch`: one tool, run as this process. */
  async dispatch(tool: string, args: Record<string, unknown>): Promise<Outcome<ToolResult & { warnings?: Warning[] }>> {
    if (!this.loaded()) return this.missing();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    if (LOOP_ONLY_TOOLS.has(tool)) {
      return fail(422, "tool_not_dispatchable", `${tool} waits inside the agent loop and cannot be dispatched over HTTP; use POST /v1/procs/:pid/collect instead.`, { tool });
    }
    // Budgets are tree-wide: ask the kernel for the tree's current use before deciding.
    const tree = await this.reportProgress();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    const loop = tree ? { ...this.state, ...tree } : this.state;
    const call: ToolCall = { id: `dispatch_${crypto.randomUUID()}`, name: tool, arguments: args };
    const { refused } = fitToBudget([call], this.cfg.budget, loop.usage.toolCalls + (loop.external?.toolCalls ?? 0), loop.ancestorsLeft?.toolCalls);
    if (refused.length > 0) {
      return fail(422, "limit_exceeded", "The process's tool-call budget is exhausted: no tool calls remain.", { limit: "budget", dimension: "toolCalls" });
    }
    // Charged before it runs, in the same synchronous stretch as the check: concurrent dispatches cannot all pass it.
    this.commit({ ...loop, usage: { ...loop.usage, toolCalls: loop.usage.toolCalls + 1 } }, [], []);
    const { results, warnings } = await this.runCalls([call], (r) => this.emit("tool_result", r), false);
    await this.reportProgress();
    const result = results[0]!;
    return ok(warnings.length ? { ...result, warnings } : result);
  }

  /** `POST /v1/procs/:pid/delegate`: the delegate tool's path, driven by an operator. */
  async delegate(args: DelegateInput, idempotencyKey?: string): Promise<Outcome<DelegateResult>> {
    if (!this.loaded()) return this.missing();
    if (this.exitStatus) return fail(409, "process_not_running", "The process has exited.");
    return this.startDelegation(args, `http:${idempotencyKey ?? crypto.randomUUID()}`);
  }

  /** `POST /v1/procs/:pid/collect`: holds until the mode is satisfied or the deadline (at most 60 s) passes. */
  async collect(args: CollectInput): Promise<Outcome<CollectResult>> {
    if (!this.loaded()) return this.missing();
    const taskIds = args.taskIds ?? this.inbox.uncollectedIds();
    const unknown = this.inbox.unknown(taskIds);
    if (unknown.length) return fail(404, "task_not_found", `No task ${unknown.join(", ")} of process ${this.cfg.pid}.`, { taskIds: unknown });
    const deadline = Date.now() + Math.min(args.timeoutMs ?? 60_000, 60_000);
    for (;;) {
      const tasks = this.inbox.list(taskIds);
      const satisfied = collectSatisfied(tasks, args.mode, args.n);
      const left = deadline - Date.now();
      if (satisfied || left <= 0) {
        this.inbox.markCollected(tasks);
        return ok(collectResult(tasks, satisfied, MAX_COLLECT_HTTP_CHARS));
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.collectWaiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.collectWaiters.add(done);
      });
    }
  }

  // ---------- events (SSE) ----------

  override async fetch(request: Request): Promise<Response> {
    if (!this.loaded()) return Response.json({ error: { code: "process_not_found", message: "No such process." } }, { status: 404 });
    const after = Number.parseInt(request.headers.get("last-event-id") ?? "0", 10);
    return this.events.stream(Number.isFinite(after) && after > 0 ? after : 0, this.exitStatus !== null);
  }

  private publish(events: ProcessEvent[]) {
    if (events.length === 0) return;
    this.pushProgress(events);
    this.events.publish(events);
  }
}

const DEFAULT_COLLECT_TIMEOUT_MS = 10 * 60_000;
/** What an immediate-policy worker pushes to its copilot as it happens. */
const PROGRESS_EVENTS = new Set<ProcessEventType>(["turn", "tool_call", "tool_result", "state"]);

const toolMessage = (r: ToolResult): Message => ({ role: "tool", toolCallId: r.toolCallId, name: r.name, content: r.output, isError: !r.success });
const refusedResult = (r: ToolResult, message: string): ToolResult => ({ ...r, output: `Error: ${message}`, error: message, success: false });

/** A task result joins the conversation in full up to this size; GET /v1/tasks/:id has all of it. */
const MAX_INJECTED_RESULT_CHARS = 64 * 1024;

function describeTaskResult(t: CollectedTask): string {
  if (t.result && t.result.length > MAX_INJECTED_RESULT_CHARS) {
    t = { ...t, result: `${t.result.slice(0, MAX_INJECTED_RESULT_CHARS)}… [${t.result.length - MAX_INJECTED_RESULT_CHARS} more characters: GET /v1/tasks/${t.taskId}]` };
  }
  const outcome = t.state === "completed" ? `completed: ${t.result ?? ""}` : `${t.state}${t.reason ? ` (${t.reason})` : ""}${t.result ? `: ${t.result}` : ""}`;
  return `[task ${t.taskId} from ${t.agent} (pid ${t.pid}) ${outcome}]`;
}

