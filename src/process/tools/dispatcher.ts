import type { ToolCall, ToolResult, Warning } from "../../contracts";
import { pathsOf, withTimeout } from "../../agent/dispatch";
import type { DispatchGate, DispatchReport, GateOptions, McpCallRecord } from "../../rpc/messages";
import type { CallWait } from "../waits";
import { builtinTools, precheck, type ToolRegistry } from "./registry";
import { describeFailure, failedResult, failureOf, okResult } from "./result";
import type { ToolContext, ToolOutcome } from "./types";

/** What the kernel's pre_dispatch hooks answer for a batch of calls (`asks` may be missing from a gate that asks nothing). */
export type Gate = Omit<DispatchGate, "asks"> & { asks?: DispatchGate["asks"] };
export interface GateCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  paths: string[];
}
/** Where a call's result goes: the loop records it in its journal, an HTTP dispatch publishes it. */
export type Settle = (call: ToolCall, effect: () => Promise<ToolResult | undefined>) => Promise<ToolResult | undefined>;

export type { DispatchReport };

export interface Dispatch {
  /** The process's effective tools. */
  allowed: readonly string[];
  registry?: ToolRegistry;
  context: ToolContext;
  beforeDispatch(calls: GateCall[], opts?: GateOptions): Promise<Gate>;
  /** An approved call: only the pre_dispatch hooks after the one that asked run (they may veto, or ask again). */
  gateOptions?: GateOptions;
  /**
   * The approval already granted for these calls: the kernel keys approvals by call, so a later hook
   * that asks about an approved call answers this same approval, and it is the decision already made.
   */
  approvedId?: string;
  afterDispatch(report: DispatchReport): Promise<Warning[]>;
  /** A `tool_call` event marks the moment a call starts, so each appears once unless a crash interrupted it. */
  emitCall(call: ToolCall): void;
  exited(): boolean;
  timeoutMs: number;
  parallel: boolean;
  settle: Settle;
  /** A call waits (a loop-only tool, or a policy asked a person): the loop persists it, to resume it later. */
  wait(call: ToolCall, wait: CallWait): void;
  /** The journal's sent marker, for calls that act on the world; only the loop has one. */
  beginSend?: ToolContext["beginSend"];
}

const TOOL_STEP_CONCURRENCY = 16;
const NO_GATE: Gate = { vetoes: {}, hidden: {}, postHooks: false };

/**
 * Dispatches tool calls with the process's permissions and the kernel's dispatch hooks, in
 * parallel or one by one; loop-only calls run last, so a delegate of the same turn is already
 * known to a collect. Denials and failures become error results; none throws.
 */
export async function dispatchCalls(calls: readonly ToolCall[], d: Dispatch): Promise<{ results: ToolResult[]; warnings: Warning[] }> {
  const results: ToolResult[] = [];
  if (calls.length === 0) return { results, warnings: [] };
  const registry = d.registry ?? builtinTools;
  const startedAt = Date.now();
  const denials: { call: ToolCall; reason: string }[] = [];
  const reached = new Map<string, "sent" | "interrupted">();
  const settle = async (call: ToolCall, effect: () => Promise<ToolResult | undefined>) => {
    const r = await d.settle(call, effect);
    if (r) results.push(r);
  };

  const allowed: ToolCall[] = [];
  for (const call of calls) {
    const refusal = precheck(call, d.allowed, registry);
    if (!refusal) {
      allowed.push(call);
      continue;
    }
    if (refusal.code === "permission_denied") denials.push({ call, reason: describeFailure(refusal) });
    await settle(call, async () => {
      d.emitCall(call);
      return failedResult(call, refusal, startedAt);
    });
  }
  const gateCalls = allowed.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments, paths: pathsOf(c) }));
  const gate = allowed.length ? await (d.gateOptions ? d.beforeDispatch(gateCalls, d.gateOptions) : d.beforeDispatch(gateCalls)) : NO_GATE;

  const runOne = (call: ToolCall) =>
    settle(call, async () => {
      const t0 = Date.now();
      // A call a policy asks a person about does not run: it waits for the decision (the turn's other calls go on).
      const ask = gate.asks?.[call.id];
      if (ask && ask.approvalId !== d.approvedId) {
        d.wait(call, { kind: "approval", approvalId: ask.approvalId, hook: ask.hook, reason: ask.reason, deadline: ask.expiresAt });
        return undefined;
      }
      d.emitCall(call);
      const veto = gate.vetoes[call.id];
      if (veto) return failedResult(call, { code: "vetoed", hook: veto.hook, message: veto.reason }, t0);
      const tool = registry.get(call.name)!;
      // A call that outlives its timeout is abandoned: its signal tells a tool that calls out to stop waiting.
      const abort = new AbortController();
      const ctx: ToolContext = {
        ...d.context,
        hidden: gate.hidden[call.id],
        signal: abort.signal,
        timeoutMs: d.timeoutMs,
        ...(d.beginSend ? { beginSend: d.beginSend } : {}),
        reached: (how) => void reached.set(call.id, how),
      };
      let out: ToolOutcome;
      try {
        out = tool.loopOnly ? await tool.run(call, ctx) : await withTimeout(tool.run(call, ctx), d.timeoutMs, `tool ${call.name}`);
      } catch (err) {
        abort.abort(err);
        out = { ok: false, failure: failureOf(err) };
      }
      if ("wait" in out) {
        d.wait(call, out.wait);
        return undefined;
      }
      if (out.ok) return okResult(call, out.output, t0);
      if (out.failure.code === "permission_denied") denials.push({ call, reason: describeFailure(out.failure) });
      return failedResult(call, out.failure, t0);
    });

  const first = allowed.filter((c) => !registry.get(c.name)!.loopOnly);
  const last = allowed.filter((c) => registry.get(c.name)!.loopOnly);
  if (d.parallel) {
    for (let i = 0; i < first.length; i += TOOL_STEP_CONCURRENCY) await Promise.all(first.slice(i, i + TOOL_STEP_CONCURRENCY).map(runOne));
  } else {
    for (const call of first) {
      if (d.exited()) break;
      await runOne(call);
    }
  }
  for (const call of last) if (!d.exited()) await runOne(call);

  const mcpCalls: McpCallRecord[] = results
    .filter((r) => reached.has(r.toolCallId))
    .map((r) => ({ tool: r.name, toolCallId: r.toolCallId, ok: r.success, durationMs: r.durationMs, ...(reached.get(r.toolCallId) === "interrupted" ? { interrupted: true as const } : {}) }));
  let warnings: Warning[] = [];
  if (denials.length || gate.postHooks || mcpCalls.length) {
    warnings = await d.afterDispatch({
      denials: denials.map(({ call, reason }) => ({ tool: call.name, toolCallId: call.id, paths: pathsOf(call), reason })),
      results: gate.postHooks ? results.map((r) => ({ toolCallId: r.toolCallId, name: r.name, success: r.success, durationMs: r.durationMs })) : [],
      ...(mcpCalls.length ? { mcpCalls } : {}),
    });
  }
  return { results, warnings };
}
