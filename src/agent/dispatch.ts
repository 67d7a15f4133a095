import type { ToolCall, ToolResult } from "../contracts";
import { ALL_TOOL_NAMES } from "../contracts/tools";
import { normalizePath } from "../workspace/paths";

/**
 * Tools that wait for other processes inside the agent loop (the turn stays open while they wait):
 * only the loop can finish them, so they are never dispatched over HTTP.
 */
export const LOOP_ONLY_TOOLS: ReadonlySet<string> = new Set(["collect"]);

/** Tools that read below a directory: without a `path` they search the whole workspace. */
export const SEARCH_TOOLS: ReadonlySet<string> = new Set(["list_dir", "glob", "grep"]);

/**
 * The workspace paths a tool call touches, normalized, for hook rules and audit entries: the paths
 * it names and, for a search, the directory it resolves to (`/` when it names none), so a rule on a
 * path is asked about every call that can reach it.
 */
export function pathsOf(call: Pick<ToolCall, "name" | "arguments">): string[] {
  const v = call.arguments.path ?? (SEARCH_TOOLS.has(call.name) ? "/" : undefined);
  if (typeof v !== "string") return [];
  const p = normalizePath(v);
  return p.ok ? [p.path] : [];
}

export const errorResult = (call: ToolCall, message: string, startedAt: number): ToolResult => ({
  toolCallId: call.id,
  name: call.name,
  output: `Error: ${message}`,
  error: message,
  success: false,
  durationMs: Date.now() - startedAt,
});

export const okResult = (call: ToolCall, output: string, startedAt: number): ToolResult => ({
  toolCallId: call.id,
  name: call.name,
  output,
  error: null,
  success: true,
  durationMs: Date.now() - startedAt,
});

/** Why a call may not run at all (before any hook or workspace is asked), or null. */
export function precheck(call: ToolCall, tools: readonly string[]): string | null {
  if (!tools.includes(call.name)) {
    return ALL_TOOL_NAMES.includes(call.name)
      ? `permission_denied: the tool ${call.name} is not among this process's tools`
      : `unknown tool ${call.name}`;
  }
  return null;
}

/** Rejects after `ms` so a hung tool becomes an error result the model sees. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}
