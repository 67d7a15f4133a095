import { DurableObject } from "cloudflare:workers";
import { fail, ok, type CollectedTask, type DeliveryPolicy, type ExitStatus, type Message, type Outcome, type ProcessEvent, type ProcessEventType, type ToolResult, type Warning } from "../contracts";
import { type CollectInput, type CollectResult, type DelegateInput, type DelegateResult } from "../contracts/tasks";
import type { Approval } from "../contracts/approvals";
import { HTTP_COLLECT, MAX_COLLECT_HTTP_CHARS, refreshQuestions, settleCollect, startCollect } from "../agent/collect";
import type { Env } from "../env";
import { forProcess, type ProcessForWorker } from "../rpc/stubs";
import { alarmTime } from "../lib/alarm";
import type { Page } from "../lib/paging";
import { createModel, type Model } from "../models";
import { describeRefusal, MAX_MESSAGE_BYTES } from "../process/conversation";
import {
  afterMessage,
  DEADMAN_MS,
  EXIT_REPORT_RETRY_MS,
  idle,
  initialLoopState,
  leaseSpent,
  nextAlarm,
  ownUse,
  pausedLoop,
  restoredLoop,
  resumedLoop,
  stepDue,
  visibleState,
  withAnswer,
  type Incarnation,
  type LoopState,
} from "../process/machine";
import { runStep, settingsOf, type StepIO } from "../process/step";
import { exitChange, ProcessStore } from "../process/store";
import { Notifier } from "../process/notifier";
import { ProcessTools } from "../process/tools/bind";
import { dispatchCalls } from "../process/tools/dispatcher";
import { builtinTools } from "../process/tools/registry";
import { answerPersonQuestion, recordDecision, recordTaskAnswer } from "../process/people";
import { dispatchOverHttp } from "../process/http-dispatch";
import { applyTaskDeliveries, type TaskDelivery } from "../process/task-delivery";
import { mustReport, reportKey, type LastReport } from "../process/report-policy";
import type { ProcessConfig, ProcessReport, ProcessSnapshot, ProcessStart } from "../rpc/messages";

/** What an immediate-policy worker pushes to its copilot as it happens. */
const PROGRESS_EVENTS = new Set<ProcessEventType>(["turn", "tool_call", "tool_result", "state", "approval", "input"]);
const missing = () => fail(404, "process_not_found", "No such process.");
const notRunning = () => fail(409, "process_not_running", "The process has exited.");

/**
 * One agent process (SPEC §5), as a Durable Object: storage transactions, the alarm and RPC
 * plumbing over plain modules. The phases, transitions and alarm rule are src/process/machine.ts,
 * a step src/process/step.ts, the journal src/process/journal.ts, the tools src/process/tools/.
 */
export class ProcessObject extends DurableObject<Env> {
  private readonly store: ProcessStore;
  /** What only this incarnation knows: a step running, a wake requested, a failed exit report. */
  private readonly run: Incarnation = idle();
  /** The alarm as this incarnation last set it (undefined: not known). */
  private armed: number | null | undefined = undefined;
  /** Aborts the model call in flight when the process is terminated. */
  private abort: AbortController | null = null;
  private modelInstance: Model | null = null;
  private readonly tools: ProcessTools;
  /** The last progress report the kernel acknowledged (this incarnation). */
  private lastReport: LastReport | null = null;
  /** HTTP collects hold until the next delivered result. */
  private readonly delivered = new Notifier();
  /** One stub, so progress reaches the copilot in order (calls on one stub are delivered in order). */
  private copilotStub: ProcessForWorker | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ProcessStore(ctx.storage, (events) => this.publish(events));
    this.tools = new ProcessTools(env, this.store);
  }

  private get cfg(): ProcessConfig {
    return this.store.config;
  }

  // ---------- the alarm: the one place it is armed or deleted ----------

  /** Applies `nextAlarm` of the stored state and this incarnation; called after every change. */
  private async schedule(): Promise<void> {
    if (!this.store.load()) return;
    const at = nextAlarm(this.store.stored, this.run, Date.now());
    if (at === this.armed) return;
    this.armed = at;
    try {
      if (at === null) await this.ctx.storage.deleteAlarm();
      else await this.ctx.storage.setAlarm(alarmTime(at));
    } catch (err) {
      this.armed = undefined;
      throw err;
    }
  }

  override async alarm(): Promise<void> {
    this.armed = null; // the alarm that fired is spent: none is armed (a throw makes the platform retry it)
    if (!this.store.load()) return;
    if (this.run.stepping) {
      // A step of this incarnation is still running: only its deadman moves on.
      this.run.deadman = Date.now() + DEADMAN_MS;
    } else if (this.store.exit) {
      await this.reportExit();
    } else if (stepDue(this.store.stored, Date.now())) {
      await this.step(false, true);
    }
    await this.schedule();
  }

  /** One step. A deadman is armed before any risky work, except in the alarm, which itself runs again unless its handler returns. */
  private async step(single = false, inAlarm = false) {
    Object.assign(this.run, { stepping: true, wake: false, deadman: Date.now() + DEADMAN_MS });
    try {
      if (!inAlarm) await this.schedule();
      await runStep(this.stepIO(), { single });
      if (this.store.exit) {
        this.tools.close();
        await this.reportExit();
      }
    } finally {
      this.run.stepping = false;
    }
  }

  private stepIO(): StepIO {
    return {
      config: this.cfg,
      store: this.store,
      generate: (request, call) => this.generate(request, call),
      tools: () => this.tools.refresh(),
      dispatch: async (calls, settle, wait, approved) =>
        dispatchCalls(calls, await this.tools.dispatch(settle, this.cfg.spec.parallelToolCalls, { wait, journaled: true, ...(approved ? { approved } : {}) })),
      resume: async (call, wait) => (await builtinTools.get(call.name)?.resume?.(call, wait, this.tools.context())) ?? null,
      approvalState: (approvalId) => forProcess.kernel(this.env, this.cfg.tenant).approvalState(this.cfg.pid, approvalId),
      report: (loop) => this.reportStep(loop),
      now: Date.now,
    };
  }

  private async generate(request: Parameters<StepIO["generate"]>[0], call: number) {
    const abort = (this.abort = new AbortController());
    try {
      this.modelInstance ??= createModel(this.cfg.spec, this.env);
      const onTextDelta = (delta: string) => this.store.events.publishTransient("model", { call, delta });
      return await this.modelInstance.generate({ ...request, signal: abort.signal, onTextDelta }, call);
    } finally {
      this.abort = null;
    }
  }

  // ---------- lifecycle RPC (called by the kernel) ----------

  /** Idempotent: the kernel may deliver a start more than once. */
  async start(config: ProcessConfig, start: ProcessStart): Promise<ProcessReport["state"]> {
    if (this.store.load()) return this.report().state;
    const loop = "restore" in start ? restoredLoop(start.restore.loop) : initialLoopState();
    const messages: Message[] = "restore" in start ? start.restore.messages : [{ role: "user", content: start.input }];
    this.store.create(config, loop, messages, [["state", { state: visibleState(loop) }]]);
    this.run.wake = true;
    await this.schedule();
    return this.report().state;
  }

  /** The kernel recorded this process's exit (kill, cascade): stop now, abandoning any in-flight call. */
  async terminate(exit: ExitStatus): Promise<void> {
    if (!this.store.load() || this.store.exit) return;
    this.abort?.abort(new Error(exit.reason));
    this.store.commit(exitChange(this.store.loop, exit, null, { reported: true }));
    await this.schedule();
  }

  /**
   * A worker's final result, from the kernel's outbox (at least once): applied once, since a task's
   * terminal state never changes. Never calls out: it records, and wakes the process when it must.
   */
  async deliverTask(task: CollectedTask, delivery: DeliveryPolicy): Promise<void> {
    return this.deliverTasks([{ task, delivery }]);
  }

  /** Several results for this copilot at once (the kernel batches them): applied together, one wake. */
  async deliverTasks(items: TaskDelivery[]): Promise<void> {
    if (!this.store.load()) return;
    const { changed, wake } = applyTaskDeliveries(this.store, items);
    if (changed) this.delivered.notify();
    if (!wake) return;
    this.run.wake = true;
    await this.schedule();
  }

  /** A person's decision on a call a policy asked about (the kernel's outbox, at least once): recorded; the alarm runs the call. */
  async deliverApproval(approval: Approval): Promise<void> {
    if (this.store.load() && recordDecision(this.store, approval)) await this.schedule();
  }

  /** The answer to this worker's question (request_input), from the kernel's outbox: recorded; the alarm makes it the call's result. */
  async deliverInput(toolCallId: string, answer: string): Promise<void> {
    if (this.store.load() && recordTaskAnswer(this.store, toolCallId, answer)) await this.schedule();
  }

  /** Live progress of an immediate-policy worker: pushed to this copilot's event stream. */
  async taskProgress(taskId: string, workerPid: number, events: { type: string; data: unknown }[]): Promise<void> {
    if (!this.store.load() || this.store.exit) return;
    for (const e of events) this.store.emit("task", { taskId, workerPid, progress: e });
  }

  // ---------- reporting to the kernel ----------

  private report(loop: LoopState = this.store.loop): ProcessReport {
    const state = visibleState(loop);
    // A top-level task (A2A) waits for its caller while the process sleeps for its next message.
    const awaiting = loop.phase === "sleeping" && this.cfg.taskId && this.cfg.parentPid === null ? { awaiting: { message: this.store.conversation.lastAnswer() } } : {};
    return { state: state === "exited" ? "running" : state, turnCount: loop.turnCount, usage: loop.usage, budgetUsed: ownUse(loop), ...awaiting };
  }

  /** A step's progress, when the kernel must hear of it now (src/process/report-policy.ts); null: not sent. */
  private async reportStep(loop: LoopState) {
    const report = this.report(loop);
    if (!mustReport({ leaseSpent: leaseSpent(loop), report, last: this.lastReport, now: Date.now() })) return null;
    return this.reportProgress(loop);
  }

  /** Answers the tree's view of this process's budget and its renewed lease, kept at once, when the kernel answered. */
  private async reportProgress(loop?: LoopState) {
    try {
      const report = this.report(loop);
      const tree = await forProcess.kernel(this.env, this.cfg.tenant).report(this.cfg.pid, report);
      this.lastReport = { key: reportKey(report), at: Date.now() };
      if (!this.store.exit) this.store.commit({ loop: withAnswer(this.store.loop, tree, report.budgetUsed) });
      return tree;
    } catch (err) {
      // The table catches up at the next report; the process itself is unaffected.
      console.warn(`process ${this.cfg.pid}: progress report failed: ${err instanceof Error ? err.message : String(err)}`);
      return null;
    }
  }

  /** Tells the kernel this process exited, until it has acknowledged (the alarm retries). */
  private async reportExit() {
    const exit = this.store.exit!;
    if (exit.reported) return;
    try {
      await forProcess.kernel(this.env, this.cfg.tenant).exited(this.cfg.pid, exit.status, exit.result, this.report());
      this.store.markReported();
      this.run.reportRetryAt = null;
    } catch (err) {
      console.warn(`process ${this.cfg.pid}: exit report failed, will retry: ${err instanceof Error ? err.message : String(err)}`);
      this.run.reportRetryAt = Date.now() + EXIT_REPORT_RETRY_MS;
    }
  }

  // ---------- RPC for routes ----------

  async conversationPage(query: { limit: number; cursor?: string }): Promise<Outcome<Page<Message>>> {
    if (!this.store.load()) return missing();
    return ok(this.store.conversation.page(query.limit, query.cursor));
  }

  async message(content: string, actor = "api"): Promise<Outcome<{ state: string }>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    // An open question to a person: the message is its answer (the request_input result), not a new turn.
    const answered = answerPersonQuestion(this.store, content, actor);
    if (answered) {
      await this.schedule();
      await this.tools
        .context()
        .inputProvided(answered.toolCallId, actor, content)
        .catch((err) => console.warn(`process ${this.cfg.pid}: inputProvided failed, the loop reports it again: ${err instanceof Error ? err.message : String(err)}`));
      // The answer is recorded: the process runs at once (the alarm settles the call).
      return ok({ state: this.store.loop.paused ? "paused" : "running" });
    }
    const message: Message = { role: "user", content };
    const room = this.store.conversation.fits([message]);
    if (!room.ok) {
      return room.why === "message"
        ? fail(413, "payload_too_large", `${describeRefusal(room, "The message")}.`, { limit: "message", maxBytes: MAX_MESSAGE_BYTES })
        : fail(422, "limit_exceeded", `${describeRefusal(room, "The message")}.`, { limit: "conversation", roomBytes: room.room });
    }
    const woken = this.store.loop.phase === "sleeping";
    const loop = afterMessage(this.store.loop, settingsOf(this.cfg));
    this.store.commit({
      ...(woken ? { loop } : {}),
      append: [message],
      events: [["message", { role: "user", content }], ...(woken && !loop.paused ? [["state", { state: "running" }] as const] : [])],
    });
    if (woken) {
      await this.schedule();
      await this.reportProgress();
    }
    return ok({ state: visibleState(loop) });
  }

  async pause(): Promise<Outcome<{ state: string }>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    if (!this.store.loop.paused) {
      // A step in flight finishes and persists; no other starts.
      this.store.commit({ loop: pausedLoop(this.store.loop), events: [["state", { state: "paused" }]] });
      await this.schedule();
      await this.reportProgress();
    }
    return ok({ state: "paused" });
  }

  /**
   * `POST /v1/procs/:pid/step`: on a paused process, exactly one step (the model call, or the turn of
   * tool calls it asked for), journaled and persisted like any other; the process stays paused.
   */
  async singleStep(): Promise<Outcome<{ state: string }>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    const { loop } = this.store;
    if (!loop.paused) return fail(409, "conflict", "Only a paused process can be stepped: pause it first.");
    if (this.run.stepping) return fail(409, "conflict", "A step of this process is already running.");
    if (loop.phase !== "model" && loop.phase !== "tools") {
      return fail(409, "conflict", "There is no step to run: the process waits for a message.", { phase: loop.phase });
    }
    await this.step(true);
    await this.schedule();
    return ok({ state: visibleState(this.store.loop) });
  }

  async resume(): Promise<Outcome<{ state: string }>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    if (this.store.loop.paused) {
      const loop = resumedLoop(this.store.loop);
      this.store.commit({ loop, events: [["state", { state: visibleState(loop) }]] });
      // Results that arrived while it was paused did not wake it: a collect that waits looks at once.
      this.run.wake = true;
      await this.schedule();
      await this.reportProgress();
    }
    return ok({ state: visibleState(this.store.loop) });
  }

  /** Pauses and answers the state a restore continues from, and whether it was paused already (to undo a failed save). */
  async snapshot(): Promise<Outcome<{ snapshot: ProcessSnapshot; wasPaused: boolean }>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    const wasPaused = this.store.loop.paused;
    const paused = await this.pause();
    if (!paused.ok) return paused;
    return ok({ snapshot: { agent: this.cfg.spec.name, messages: this.store.conversation.all(), loop: { ...this.store.loop, paused: false } }, wasPaused });
  }

  /** `POST /v1/procs/:pid/dispatch`: one tool, run as this process. */
  async dispatch(tool: string, args: Record<string, unknown>): Promise<Outcome<ToolResult & { warnings?: Warning[] }>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    return dispatchOverHttp({ store: this.store, config: this.cfg, tools: this.tools, reportProgress: () => this.reportProgress() }, tool, args);
  }

  /** `POST /v1/procs/:pid/delegate`: the delegate tool's path, driven by an operator. */
  async delegate(args: DelegateInput, idempotencyKey?: string): Promise<Outcome<DelegateResult>> {
    if (!this.store.load()) return missing();
    if (this.store.exit) return notRunning();
    return this.tools.delegate(args, `http:${idempotencyKey ?? crypto.randomUUID()}`);
  }

  /** `POST /v1/procs/:pid/collect`: holds until the mode is satisfied or the deadline (at most 60 s) passes. */
  async collect(args: CollectInput): Promise<Outcome<CollectResult>> {
    if (!this.store.load()) return missing();
    const { inbox } = this.store;
    const started = startCollect(inbox, args, Date.now(), HTTP_COLLECT);
    if (!started.ok) return fail(404, "task_not_found", `No task ${started.unknown.join(", ")} of process ${this.cfg.pid}.`, { taskIds: started.unknown });
    for (;;) {
      await refreshQuestions(inbox, started.wait.taskIds, this.tools.context().taskStatus);
      const result = settleCollect(inbox, started.wait, args, Date.now(), MAX_COLLECT_HTTP_CHARS);
      if (result) return ok(result);
      await this.delivered.next(started.wait.deadline - Date.now());
    }
  }

  // ---------- events (SSE) ----------

  override async fetch(request: Request): Promise<Response> {
    if (!this.store.load()) return Response.json({ error: { code: "process_not_found", message: "No such process." } }, { status: 404 });
    const after = Number.parseInt(request.headers.get("last-event-id") ?? "0", 10);
    return this.store.events.stream(Number.isFinite(after) && after > 0 ? after : 0, this.store.exit !== null);
  }

  private publish(events: ProcessEvent[]) {
    if (events.length === 0) return;
    this.pushProgress(events);
    this.store.events.publish(events);
  }

  private pushProgress(events: ProcessEvent[]) {
    const cfg = this.store.load() ? this.cfg : null;
    if (!cfg || cfg.delivery !== "immediate" || cfg.parentPid === null || !cfg.taskId) return;
    const progress = events.filter((e) => PROGRESS_EVENTS.has(e.type)).map((e) => ({ type: e.type, data: e.data }));
    if (progress.length === 0) return;
    this.copilotStub ??= forProcess.copilot(this.env, cfg.tenant, cfg.parentPid);
    this.copilotStub.taskProgress(cfg.taskId, cfg.pid, progress).catch(() => {
      this.copilotStub = null; // progress is best effort; a broken stub is replaced on the next push
    });
  }
}
