import type { ToolCall } from "../contracts";
import { normalizePath } from "../workspace/paths";

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

/** A tool that did not answer in time. */
export class ToolTimeout extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = "ToolTimeout";
  }
}

/** Rejects with a ToolTimeout after `ms` so a hung tool becomes an error result the model sees. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ToolTimeout(what, ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => {
    if (timer !== null) clearTimeout(timer);
  });
}
