import type { Message, ToolCall, ToolResult } from "../../contracts";
import { ToolTimeout } from "../../agent/dispatch";

/**
 * Why a tool call failed. Every failure becomes a tool result the model reads as `Error: <text>`
 * (`describeFailure` is the text; it is also `ToolResult.error`), and the loop goes on.
 */
export type ToolFailure =
  /** The tool is not among the process's tools, or a path is outside its fs scopes. */
  | { code: "permission_denied"; message: string }
  /** No tool has this name. */
  | { code: "unknown_tool"; message: string }
  | { code: "invalid_arguments"; message: string }
  /** A pre_dispatch hook said no. */
  | { code: "vetoed"; hook: string; message: string }
  /** The tool did not answer within the agent's toolTimeoutMs. */
  | { code: "timeout"; message: string }
  /** The call does not fit the tool-call budget: it is not run. */
  | { code: "budget_exhausted"; message: string }
  /** A person rejected the call a policy asked about, or nobody decided in time (the message says which). */
  | { code: "rejected"; message: string }
  /** The result is too large to join the conversation. */
  | { code: "too_large"; message: string }
  /** Granted, but its MCP server no longer offers it (removed, or the tool left its catalogue). */
  | { code: "tool_unavailable"; message: string }
  /** A call to the world was in flight when its process died, and repeating it is not known to be harmless. */
  | { code: "interrupted"; message: string }
  /** The tool ran and failed; `cause` is the error code of the kernel's answer, when it was one. */
  | { code: "tool_error"; message: string; cause?: string };

/** The one rendering of a failure: what follows `Error: ` in the result the model sees. */
export function describeFailure(f: ToolFailure): string {
  switch (f.code) {
    case "permission_denied":
      return f.message.startsWith("permission_denied") ? f.message : `permission_denied: ${f.message}`;
    case "vetoed":
      return `vetoed by hook ${f.hook}: ${f.message}`;
    case "budget_exhausted":
      return `budget exhausted: ${f.message}`;
    case "tool_unavailable":
    case "interrupted":
      return `${f.code}: ${f.message}`;
    case "tool_error":
      return f.cause ? `${f.cause}: ${f.message}` : f.message;
    default:
      return f.message;
  }
}

/** A thrown error as a failure: a timeout, or the tool (or the object it runs in) failing. */
export const failureOf = (err: unknown): ToolFailure =>
  err instanceof ToolTimeout ? { code: "timeout", message: err.message } : { code: "tool_error", message: err instanceof Error ? err.message : String(err) };

export const failedResult = (call: ToolCall, failure: ToolFailure, startedAt: number): ToolResult => {
  const error = describeFailure(failure);
  return { toolCallId: call.id, name: call.name, output: `Error: ${error}`, error, success: false, durationMs: Date.now() - startedAt };
};

export const okResult = (call: ToolCall, output: string, startedAt: number): ToolResult => ({
  toolCallId: call.id,
  name: call.name,
  output,
  error: null,
  success: true,
  durationMs: Date.now() - startedAt,
});

/** A result replaced by an error the model can act on (read less at a time), keeping its call and duration. */
export const replacedResult = (r: ToolResult, failure: ToolFailure): ToolResult => {
  const error = describeFailure(failure);
  return { ...r, output: `Error: ${error}`, error, success: false };
};

/** A result as it joins the conversation. */
export const toolMessage = (r: ToolResult): Message => ({ role: "tool", toolCallId: r.toolCallId, name: r.name, content: r.output, isError: !r.success });

/** A result as a conversation holds it (a restored process's turn): what its message says. */
export const resultOfMessage = (m: Extract<Message, { role: "tool" }>): ToolResult => ({
  toolCallId: m.toolCallId,
  name: m.name,
  output: m.content,
  error: m.isError ? m.content.replace(/^Error: /, "") : null,
  success: !m.isError,
  durationMs: 0,
});
