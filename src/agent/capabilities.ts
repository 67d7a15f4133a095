import type { Failure, FsMode, FsScope, Limits } from "../contracts";
import { ALL_TOOL_NAMES } from "../contracts/tools";
import { MCP_PREFIX } from "../contracts/mcp";
import { anyGlobMatch, globLiteralPrefix, globMatch } from "../lib/glob";

/** The concrete tool names a set of glob patterns allows. */
export const expandTools = (patterns: readonly string[], known: readonly string[] = ALL_TOOL_NAMES): string[] =>
  known.filter((name) => anyGlobMatch(patterns, name));

/** Tools a child may use: its own patterns, within its parent's effective tools, within what was asked for. */
export function effectiveTools(own: readonly string[], parent: readonly string[] | null, requested?: readonly string[], known: readonly string[] = ALL_TOOL_NAMES): string[] {
  let tools = expandTools(own, known);
  if (parent) tools = tools.filter((t) => parent.includes(t));
  if (requested) tools = tools.filter((t) => anyGlobMatch(requested, t));
  return tools;
}

/**
 * The patterns of a tool list that name nothing: a misspelt name (`"write_fiel"`) or a glob that
 * matches no known tool (`"wirte_*"`). `known` is every tool a process could be given: the built-in
 * ones and the tenant's exposed MCP tools.
 *
 * A pattern that starts with `mcp__` is never unknown: it names tools of an MCP server, which may be
 * registered (or refreshed into offering the tool) after the agent is. It matches what the catalogue
 * holds when a process is spawned (SPEC §10, docs/mcp.md).
 */
export const unknownToolPatterns = (patterns: readonly string[], known: readonly string[] = ALL_TOOL_NAMES): string[] =>
  [...new Set(patterns)].filter((p) => !p.startsWith(MCP_PREFIX) && !known.some((name) => globMatch(p, name)));

/**
 * `422 unknown_tool` when a tool list names a tool that exists nowhere; null when every pattern
 * matches a known tool. `where` says whose list it is, e.g. `agent greeter's tools` or `the delegation's tools`.
 */
export function unknownToolsFailure(patterns: readonly string[], where: string, known: readonly string[] = ALL_TOOL_NAMES): Failure | null {
  const unknown = unknownToolPatterns(patterns, known);
  if (unknown.length === 0) return null;
  const named = unknown.map((p) => (/[*?[]/.test(p) ? `${JSON.stringify(p)} (a pattern that matches no tool)` : JSON.stringify(p)));
  return {
    status: 422,
    code: "unknown_tool",
    // A tenant with many MCP tools would make the sentence endless: it names the first ones, details has all.
    message: `Unknown tool${unknown.length === 1 ? "" : "s"} ${named.join(", ")} in ${where}. Known tools: ${known.slice(0, 40).join(", ")}${known.length > 40 ? ` and ${known.length - 40} more` : ""}.`,
    details: { unknown, known: [...known] },
  };
}

/**
 * Why a new process's effective tools came out empty although its agent lists some, or null when
 * they did not (an agent that lists no tools asked for none). Mirrors `effectiveTools`, step by step.
 * `parentLabel` names what bounds it (`its copilot (process 2)`, `the checkpoint's saved rights`).
 */
export function emptyToolsReason(
  own: readonly string[],
  parent: { label: string; tools: readonly string[] } | null,
  requested?: readonly string[],
  known: readonly string[] = ALL_TOOL_NAMES,
): string | null {
  if (own.length === 0) return null;
  const mine = expandTools(own, known);
  if (mine.length === 0) return `none of the agent's tools (${own.join(", ")}) is a known tool`;
  const inherited = parent ? mine.filter((t) => parent.tools.includes(t)) : mine;
  if (inherited.length === 0) {
    const has = parent!.tools.length ? `only ${parent!.tools.join(", ")}` : "no tools at all";
    return `${parent!.label} holds none of the tools the agent lists (${mine.join(", ")}): it has ${has}`;
  }
  if (requested && !inherited.some((t) => anyGlobMatch(requested, t))) {
    return requested.length === 0
      ? "the delegation asked for no tools (tools: [])"
      : `the delegation asked only for ${requested.join(", ")}, which matches none of the tools it could have (${inherited.join(", ")})`;
  }
  return null;
}

const modeAllows = (have: FsMode, need: FsMode) => have === "rw" || need === "r";

/** Whether `scopes` grant `mode` on `path`. */
export const fsAllows = (scopes: readonly FsScope[], path: string, mode: FsMode): boolean =>
  scopes.some((s) => modeAllows(s.mode, mode) && globMatch(s.path, path));


/**
 * Clips `scopes` to `bound`: a scope survives only where a bound scope covers it, with the weaker of
 * the two modes. A scope is covered when the bound matches its literal prefix and every path the
 * scope can name (conservatively: the scope's glob tested as a path and its prefix) lies under the bound.
 */
export function clipScopes(scopes: readonly FsScope[], bound: readonly FsScope[]): FsScope[] {
  const out: FsScope[] = [];
  for (const scope of scopes) {
    for (const b of bound) {
      // Every bound scope is tried: a child asking for "/**" under a parent holding "/a/**" and
      // "/b/**" gets both, and the strongest mode any bound allows survives the dedupe.
      if (covers(b.path, scope.path)) out.push({ path: scope.path, mode: scope.mode === "rw" && b.mode === "rw" ? "rw" : "r" });
      else if (covers(scope.path, b.path)) out.push({ path: b.path, mode: scope.mode === "rw" && b.mode === "rw" ? "rw" : "r" });
    }
  }
  return dedupeScopes(out);
}

/** Whether every path matched by `inner` is matched by `outer` (sound for the globs scopes use). */
export function covers(outer: string, inner: string): boolean {
  if (outer === inner) return true;
  // Decided from the globs' literal heads ("/src/**" → "/src/"), without solving glob intersection in general.
  const prefix = globLiteralPrefix(inner);
  const wildcard = prefix !== inner;
  if (!wildcard) return globMatch(outer, inner);
  // inner has wildcards: outer must be a "dir/**" glob whose dir contains inner's literal prefix.
  if (!outer.endsWith("/**")) return false;
  const dir = outer.slice(0, -3);
  if (/[*?[]/.test(dir)) return false;
  return prefix === dir + "/" || prefix.startsWith(dir + "/") || (dir === "" && prefix.startsWith("/"));
}

function dedupeScopes(scopes: FsScope[]): FsScope[] {
  const best = new Map<string, FsScope>();
  for (const s of scopes) {
    const prev = best.get(s.path);
    if (!prev || (prev.mode === "r" && s.mode === "rw")) best.set(s.path, s);
  }
  return [...best.values()];
}

/** The smaller of each limit. */
export function clampLimits(own: Required<Limits>, parent: Required<Limits> | null): Required<Limits> {
  if (!parent) return own;
  return { maxChildren: Math.min(own.maxChildren, parent.maxChildren), maxDepth: Math.min(own.maxDepth, parent.maxDepth) };
}
