import { DEFAULT_LIMITS, fail, ok, type AgentSpec, type Budget, type DelegateInput, type FsScope, type Limits, type Outcome } from "../contracts";
import { BUDGET_KEYS, reserveBudget, spentDimension } from "../agent/budget";
import { clampLimits, clipScopes, effectiveTools, expandTools } from "../agent/capabilities";
import { ALL_TOOL_NAMES } from "../contracts/tools";
import type { Headroom } from "./budget-ledger";
import type { SavedGrant } from "./checkpoints";

/** What a new process may do: its effective tools, fs scopes, limits and budget reservation. */
export interface Grant {
  tools: string[];
  fs: FsScope[];
  limits: Required<Limits>;
  budget: Budget;
}

/** What a grant needs to know of the parent. */
export interface ParentRights {
  pid: number;
  tools: string[];
  fs: FsScope[];
  limits: Required<Limits>;
  /** What it can still give (budget-ledger.ts). */
  headroom: Headroom;
}

/**
 * Inherit-and-restrict (SPEC §7): what a new process may do, given its agent, its parent and the
 * delegation's request. A top-level process gets its agent's own rights. `known` is every tool name
 * the tenant has now (built-in and exposed MCP tools): globs expand to these, once, at spawn.
 */
export function inheritedGrant(
  spec: AgentSpec,
  parent: ParentRights | null,
  delegation?: Pick<DelegateInput, "tools" | "fs" | "budget">,
  known: readonly string[] = ALL_TOOL_NAMES,
): Outcome<Grant> {
  const own = { ...DEFAULT_LIMITS, ...spec.limits };
  if (!parent) return ok({ tools: expandTools(spec.tools, known), fs: spec.fs, limits: own, budget: spec.budget });
  const tools = effectiveTools(spec.tools, parent.tools, delegation?.tools, known);
  let fs = clipScopes(spec.fs, parent.fs);
  if (delegation?.fs) fs = clipScopes(fs, delegation.fs);
  // Nothing left at all (actual usage), or nothing left to promise (usage plus live children's reservations).
  const { spent, left } = parent.headroom;
  const budget = reserveBudget(spec.budget, delegation?.budget, left);
  const unfunded = spent ?? BUDGET_KEYS.find((k) => budget[k] !== undefined && left[k] !== undefined && left[k]! <= 0) ?? null;
  if (unfunded) return fail(422, "limit_exceeded", `Process ${parent.pid} has no ${unfunded} budget left to give.`, { limit: "budget", dimension: unfunded });
  return ok({ tools, fs, limits: clampLimits(own, parent.limits), budget });
}

/**
 * A restored process keeps the rights of the process it was saved from, narrowed by its agent's
 * spec as it is now: never wider than either. A budget already spent is refused.
 */
export function restoredGrant(spec: AgentSpec, saved: SavedGrant, known: readonly string[] = ALL_TOOL_NAMES): Outcome<Grant> {
  const budget: Budget = {};
  for (const k of BUDGET_KEYS) {
    const caps = [spec.budget[k], saved.budget[k]].filter((v): v is number => v !== undefined);
    if (caps.length) budget[k] = Math.min(...caps);
  }
  const spent = spentDimension(budget);
  if (spent) return fail(422, "limit_exceeded", `The saved process has no ${spent} budget left.`, { limit: "budget", dimension: spent });
  return ok({
    tools: effectiveTools(spec.tools, saved.tools, undefined, known),
    fs: clipScopes(spec.fs, saved.fs),
    limits: clampLimits({ ...DEFAULT_LIMITS, ...spec.limits }, saved.limits),
    budget,
  });
}
