import type { Outcome } from "../../contracts";
import type { DelegateInput, DelegateResult } from "../../contracts/tasks";
import type { Env } from "../../env";
import { forProcess } from "../../rpc/stubs";
import { ownUse } from "../machine";
import type { ProcessStore } from "../store";
import type { Dispatch, Settle } from "./dispatcher";
import { startDelegation } from "./tasks";
import type { ToolContext } from "./types";

/** One process's tools, bound to its kernel, its tenant's workspace and its store. */
export class ProcessTools {
  constructor(
    private readonly env: Env,
    private readonly store: ProcessStore,
  ) {}

  context(): ToolContext {
    const { tenant, pid, fs } = this.store.config;
    return {
      pid,
      runFsTool: (name, args, callId, hidden) => forProcess.workspace(this.env, tenant).runTool(name, args, fs, `${pid}:${callId}`, hidden),
      delegate: (args, key) => this.delegate(args, key),
      cancelTask: (taskId) => forProcess.kernel(this.env, tenant).cancelTask(taskId, { copilotPid: pid, actor: `process:${pid}` }),
      requestInput: (toolCallId, question) => forProcess.kernel(this.env, tenant).requestInput(pid, toolCallId, question),
      replyTask: (taskId, message) => forProcess.kernel(this.env, tenant).replyTask(taskId, message, { copilotPid: pid, actor: `process:${pid}` }),
      inputProvided: (toolCallId, by, answer) => forProcess.kernel(this.env, tenant).inputProvided(pid, toolCallId, by, answer),
      taskStatus: async (taskId) => {
        const task = await forProcess.kernel(this.env, tenant).getTask(taskId);
        return task.ok ? { state: task.value.status.state, ...(task.value.status.message !== undefined ? { message: task.value.status.message } : {}) } : null;
      },
      inbox: this.store.inbox,
      now: Date.now,
    };
  }

  /**
   * A dispatch of this process's calls: its effective tools, the kernel's hooks, its tool timeout.
   * `approved`: an approved call, gated only by the hooks after the one that asked.
   */
  dispatch(settle: Settle, parallel: boolean, wait: Dispatch["wait"] = () => {}, approved?: { afterHook: string; approvalId: string }): Dispatch {
    const { tenant, pid, tools, spec } = this.store.config;
    const kernel = forProcess.kernel(this.env, tenant);
    return {
      allowed: tools,
      context: this.context(),
      beforeDispatch: (calls, opts) => kernel.beforeDispatch(pid, calls, opts),
      ...(approved ? { gateOptions: { afterHook: approved.afterHook }, approvedId: approved.approvalId } : {}),
      afterDispatch: (report) => kernel.afterDispatch(pid, report),
      emitCall: (call) => this.store.emit("tool_call", call),
      exited: () => this.store.exit !== null,
      timeoutMs: spec.toolTimeoutMs,
      parallel,
      settle,
      wait,
    };
  }

  /** A delegation by the tool or over HTTP; the copilot's usage so far is charged first (the step that asked). */
  delegate(args: DelegateInput, idempotencyKey: string): Promise<Outcome<DelegateResult>> {
    const { tenant, pid } = this.store.config;
    const delegate = (a: DelegateInput, key: string) =>
      forProcess.kernel(this.env, tenant).delegate(pid, a, { idempotencyKey: key, actor: `process:${pid}`, copilotUse: ownUse(this.store.loop) });
    return startDelegation({ delegate, inbox: this.store.inbox, emit: (type, data) => this.store.emit(type, data) }, args, idempotencyKey);
  }
}
