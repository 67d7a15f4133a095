import type { Outcome, Task, Warning } from "../../contracts";
import type { DelegateInput, DelegateResult } from "../../contracts/tasks";
import type { Env } from "../../env";
import { parseHostList } from "../../lib/net";
import { forProcess } from "../../rpc/stubs";
import { ownUse } from "../machine";
import type { ProcessStore } from "../store";
import type { Dispatch, Settle } from "./dispatcher";
import { McpSessions, mcpTool } from "./mcp";
import { builtinTools, isMcpToolName, type ToolRegistry } from "./registry";
import { startDelegation } from "./tasks";
import { Coalescer } from "./coalesce";
import type { ToolContext } from "./types";

type KernelDelegation = { task: Task; pid: number; warnings?: Warning[] };

/** One process's tools, bound to its kernel, its tenant's workspace and its store. */
export class ProcessTools {
  /**
   * The built-in tools and this process's MCP tools as the kernel's catalogue last answered them.
   * In memory only: the bindings carry the servers' header values, which are never persisted.
   */
  private current: ToolRegistry | null = null;
  /** Made when a tool first needs it: most processes have no MCP tools. */
  private mcpSessions: McpSessions | null = null;
  /** A turn's delegations, sent to the kernel together (one RPC, one transaction). */
  private readonly delegations: Coalescer<{ input: DelegateInput; idempotencyKey: string }, Outcome<KernelDelegation>>;

  constructor(
    private readonly env: Env,
    private readonly store: ProcessStore,
  ) {
    this.delegations = new Coalescer((items) => {
      const { tenant, pid } = this.store.config;
      // The copilot's usage as it is when the batch leaves: the step that asked is charged first.
      return forProcess.kernel(this.env, tenant).delegateMany(pid, items, { actor: `process:${pid}`, copilotUse: ownUse(this.store.loop) });
    });
  }

  /**
   * The tools as the catalogue has them now: asked of the kernel before each model call (and each
   * HTTP dispatch), so a refresh or a removal is seen from the next one. A process granted no MCP
   * tool asks nothing.
   */
  async refresh(): Promise<ToolRegistry> {
    const names = this.store.config.tools.filter(isMcpToolName);
    if (names.length === 0) return (this.current = builtinTools);
    const bindings = await forProcess.kernel(this.env, this.store.config.tenant).mcpTools(names);
    this.mcpSessions ??= McpSessions.over((input, init) => fetch(input, init), parseHostList(this.env.ALLOW_PRIVATE_HOSTS));
    const sessions = this.mcpSessions;
    return (this.current = builtinTools.with(bindings.map((b) => mcpTool(b, sessions))));
  }

  /** The tools of the turn in flight: those its model call saw, or (a new incarnation) the catalogue now. */
  async registry(): Promise<ToolRegistry> {
    return this.current ?? (await this.refresh());
  }

  /** The process exited: its MCP sessions end. */
  close() {
    this.mcpSessions?.closeAll();
  }

  context(): ToolContext {
    const { tenant, pid, fs } = this.store.config;
    return {
      pid,
      runFsTool: (name, args, callId, hidden) => forProcess.workspace(this.env, tenant).runTool(name, args, fs, `${pid}:${callId}`, hidden),
      delegate: (args, key) => this.delegate(args, key),
      cancelTask: (taskId) => forProcess.kernel(this.env, tenant).cancelTask(taskId, { copilotPid: pid, actor: `process:${pid}` }),
      requestInput: (toolCallId, question) => forProcess.kernel(this.env, tenant).requestInput(pid, toolCallId, question),
      replyTask: (taskId, message, key) => forProcess.kernel(this.env, tenant).replyTask(taskId, message, { copilotPid: pid, actor: `process:${pid}`, idempotencyKey: key }),
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
   * The loop's (`journaled`) runs its turn's tools and marks calls that act on the world as sent in
   * the journal; an HTTP dispatch sees the catalogue as it is now and is never resumed. `approved`: an
   * approved call, gated only by the hooks after the one that asked.
   */
  async dispatch(
    settle: Settle,
    parallel: boolean,
    { wait = () => {}, journaled = false, approved }: { wait?: Dispatch["wait"]; journaled?: boolean; approved?: { afterHook: string; approvalId: string } } = {},
  ): Promise<Dispatch> {
    const { tenant, pid, tools, spec } = this.store.config;
    const kernel = forProcess.kernel(this.env, tenant);
    const registry = journaled ? await this.registry() : await this.refresh();
    return {
      allowed: tools,
      registry,
      ...(journaled ? { beginSend: (callId: string, repeatable: boolean) => this.store.journal.beginSend(callId, repeatable) } : {}),
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
    const delegate = (input: DelegateInput, key: string) => this.delegations.run({ input, idempotencyKey: key });
    return startDelegation({ delegate, inbox: this.store.inbox, emit: (type, data) => this.store.emit(type, data) }, args, idempotencyKey);
  }
}
