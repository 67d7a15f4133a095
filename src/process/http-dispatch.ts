import { fail, ok, type Outcome, type ToolCall, type ToolResult, type Warning } from "../contracts";
import type { ProcessConfig } from "../rpc/messages";
import { chargedToolCall, withinBudget, type LoopState } from "./machine";
import type { ProcessStore } from "./store";
import type { ProcessTools } from "./tools/bind";
import { dispatchCalls, type Settle } from "./tools/dispatcher";
import { builtinTools } from "./tools/registry";
import { isApprovalWait, type ApprovalWait } from "./waits";

export interface HttpDispatchDeps {
  store: ProcessStore;
  config: ProcessConfig;
  tools: ProcessTools;
  /** Reports to the kernel; answers the tree's view of the budget, or null when the kernel did not answer. */
  reportProgress(): Promise<Pick<LoopState, "external" | "ancestorsLeft"> | null>;
}

/** Why a loop-only tool cannot be dispatched over HTTP, and what to do instead. */
const LOOP_ONLY_HINT: Record<string, string> = {
  collect: "use POST /v1/procs/:pid/collect instead",
  request_input: "a question waits for its answer inside the agent loop; an operator reaches a process with POST /v1/procs/:pid/messages",
};

/**
 * `POST /v1/procs/:pid/dispatch`: one tool, run as the process, outside its loop (not journaled, never
 * resumed). A call a policy asks a person about is refused with `403 approval_required` and runs
 * nothing: an HTTP dispatch has no turn to wait in, so the gate is only probed (no approval is made).
 */
export async function dispatchOverHttp(d: HttpDispatchDeps, tool: string, args: Record<string, unknown>): Promise<Outcome<ToolResult & { warnings?: Warning[] }>> {
  const notRunning = () => fail(409, "process_not_running", "The process has exited.");
  if (builtinTools.get(tool)?.loopOnly) {
    return fail(422, "tool_not_dispatchable", `${tool} waits inside the agent loop and cannot be dispatched over HTTP; ${LOOP_ONLY_HINT[tool] ?? "only the loop can run it"}.`, { tool });
  }
  const { store } = d;
  // Budgets are tree-wide: ask the kernel for the tree's current use before deciding.
  const tree = await d.reportProgress();
  if (store.exit) return notRunning();
  const loop = tree ? { ...store.loop, ...tree } : store.loop;
  const call: ToolCall = { id: `dispatch_${crypto.randomUUID()}`, name: tool, arguments: args };
  if (withinBudget(loop, [call], d.config.budget).refused.length > 0) {
    return fail(422, "limit_exceeded", "The process's tool-call budget is exhausted: no tool calls remain.", { limit: "budget", dimension: "toolCalls" });
  }
  // Charged before it runs, in the same synchronous stretch as the check: concurrent dispatches cannot all pass it.
  store.commit({ loop: chargedToolCall(loop) });
  const publish: Settle = async (_call, effect) => {
    const result = await effect();
    if (result) store.emit("tool_result", result);
    return result;
  };
  let asked: ApprovalWait | null = null;
  const dispatch = { ...(await d.tools.dispatch(publish, false, { wait: (_c, w) => void (isApprovalWait(w) && (asked = w)) })), gateOptions: { probe: true } };
  const { results, warnings } = await dispatchCalls([call], dispatch);
  if (asked !== null) {
    const { hook, reason } = asked as ApprovalWait;
    // Nothing ran: the charge is given back.
    store.commit({ loop: { ...store.loop, usage: { ...store.loop.usage, toolCalls: Math.max(0, store.loop.usage.toolCalls - 1) } } });
    return fail(
      403,
      "approval_required",
      `A policy (hook ${hook}) asks a person to approve every ${tool} call${reason ? `: ${reason}` : ""}. A dispatch over HTTP cannot wait for a decision, so nothing ran; inside the agent loop the call waits for approval (GET /v1/approvals).`,
      { hook, reason, tool },
    );
  }
  await d.reportProgress();
  const result = results[0]!;
  return ok(warnings.length ? { ...result, warnings } : result);
}
