import { ok, type Outcome, type ToolCall, type Warning } from "../../contracts";
import { isTerminalTask, type DelegateInput, type DelegateResult, type DeliveryPolicy, type Task, type TaskState } from "../../contracts/tasks";
import { TASK_TOOL_ARGS, TOOL_DESCRIPTIONS } from "../../contracts/tools";
import { MAX_COLLECT_TOOL_CHARS, refreshQuestions, settleCollect, startCollect, TOOL_COLLECT } from "../../agent/collect";
import { isCollectWait, type CallWait } from "../waits";
import { describeFailure, type ToolFailure } from "./result";
import type { Tool, ToolContext, ToolOutcome } from "./types";

/** The delegation tools (SPEC §7): the copilot's side of its tasks. */

const delegate: Tool = {
  name: "delegate",
  description: TOOL_DESCRIPTIONS.delegate!,
  args: TASK_TOOL_ARGS.delegate,
  loopOnly: false,
  async run(call, ctx) {
    const args = TASK_TOOL_ARGS.delegate.safeParse(call.arguments);
    if (!args.success) return invalid(argumentProblem(args.error));
    // The call id is stable across a crash and re-run of this step, so the kernel answers a repeat
    // with the task it already made instead of spawning a second worker.
    const out = await ctx.delegate(args.data, `tool:${call.id}`);
    if (!out.ok) return kernelFailure(out);
    const { taskId, pid, warnings } = out.value;
    return { ok: true, output: JSON.stringify({ taskId, pid, ...(warnings ? { warnings: warnings.map((w) => w.message) } : {}) }) };
  },
};

const cancelTask: Tool = {
  name: "cancel_task",
  description: TOOL_DESCRIPTIONS.cancel_task!,
  args: TASK_TOOL_ARGS.cancel_task,
  loopOnly: false,
  async run(call, ctx) {
    const args = TASK_TOOL_ARGS.cancel_task.safeParse(call.arguments);
    if (!args.success) return invalid(argumentProblem(args.error));
    const out = await ctx.cancelTask(args.data.taskId);
    return out.ok ? { ok: true, output: JSON.stringify(out.value) } : kernelFailure(out);
  },
};

const listTasks: Tool = {
  name: "list_tasks",
  description: TOOL_DESCRIPTIONS.list_tasks!,
  args: TASK_TOOL_ARGS.list_tasks,
  loopOnly: false,
  async run(_call, ctx) {
    return { ok: true, output: JSON.stringify(ctx.inbox.list().map(({ taskId, pid, agent, state }) => ({ taskId, pid, agent, state }))) };
  },
};

/**
 * collect waits inside the loop: satisfied at once, it answers; otherwise it answers `wait` (the
 * loop persists the wait and sleeps) and is resumed when a result is delivered or its deadline passes.
 */
const collect: Tool = {
  name: "collect",
  description: TOOL_DESCRIPTIONS.collect!,
  args: TASK_TOOL_ARGS.collect,
  loopOnly: true,
  async run(call, ctx) {
    const args = TASK_TOOL_ARGS.collect.safeParse(call.arguments);
    if (!args.success) return answeredFailure({ code: "invalid_arguments", message: argumentProblem(args.error) });
    const started = startCollect(ctx.inbox, args.data, ctx.now(), TOOL_COLLECT);
    if (!started.ok) return answeredFailure({ code: "tool_error", message: `unknown task ${started.unknown.join(", ")}` });
    return (await this.resume!(call, started.wait, ctx)) ?? { wait: started.wait };
  },
  async resume(call: ToolCall, wait: CallWait, ctx: ToolContext): Promise<ToolOutcome | null> {
    if (!isCollectWait(wait)) return null;
    await refreshQuestions(ctx.inbox, wait.taskIds, ctx.taskStatus);
    const parsed = TASK_TOOL_ARGS.collect.safeParse(call.arguments);
    const args = parsed.success ? parsed.data : { mode: "all" as const, n: undefined };
    const result = settleCollect(ctx.inbox, wait, args, ctx.now(), MAX_COLLECT_TOOL_CHARS);
    return result && { ok: true, output: JSON.stringify(result) };
  },
};

export const taskTools: Tool[] = [delegate, collect, cancelTask, listTasks];

export const invalid = (message: string): ToolOutcome => ({ ok: false, failure: { code: "invalid_arguments", message } });

/** Why a call's arguments do not fit its tool's contract, every issue named by its path. */
export function argumentProblem(error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] }): string {
  return `invalid arguments: ${error.issues.map((i) => `${i.path.map(String).join(".") || "arguments"}: ${i.message}`).join("; ")}`;
}
export const kernelFailure = (out: { error: { code: string; message: string } }): ToolOutcome => ({
  ok: false,
  failure: { code: "tool_error", cause: out.error.code, message: out.error.message },
});
/**
 * collect has always answered its refusals as a successful result whose text reads `Error: ...`
 * (`ToolResult.error` null): kept so, as the loop's behaviour is, until that is decided otherwise.
 */
const answeredFailure = (failure: ToolFailure): ToolOutcome => ({ ok: true, output: `Error: ${describeFailure(failure)}` });

/** What a delegation needs: the kernel's delegate, the copilot's inbox, its event stream. */
export interface DelegationDeps {
  delegate(args: DelegateInput, idempotencyKey: string): Promise<Outcome<{ task: Task; pid: number; warnings?: Warning[] }>>;
  inbox: { record(task: { taskId: string; pid: number; agent: string; state: TaskState }, delivery: DeliveryPolicy): boolean };
  emit(type: "task", data: unknown): void;
}

/** A delegation, by the tool or over HTTP: the kernel makes the task and its worker, the inbox learns of it. */
export async function startDelegation(deps: DelegationDeps, args: DelegateInput, idempotencyKey: string): Promise<Outcome<DelegateResult>> {
  const out = await deps.delegate(args, idempotencyKey);
  if (!out.ok) return out;
  const { task, pid, warnings } = out.value;
  const state = task.status.state as TaskState;
  const delivery = task.metadata.deliveryPolicy;
  // A retried delegation may find its task already ended. Its result comes only with the kernel's
  // delivery, so until then the inbox knows it as working.
  const known = isTerminalTask(state) ? "working" : state;
  if (deps.inbox.record({ taskId: task.id, pid, agent: task.metadata.agent, state: known }, delivery) && delivery !== "on_demand") {
    deps.emit("task", { taskId: task.id, workerPid: pid, agent: task.metadata.agent, state });
  }
  return ok({ taskId: task.id, pid, state, ...(warnings?.length ? { warnings } : {}) });
}
