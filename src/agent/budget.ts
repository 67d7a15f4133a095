import type { Budget, BudgetUse } from "../contracts";

export const BUDGET_KEYS = ["tokens", "toolCalls", "wallMs"] as const;
export const zeroUse = (): BudgetUse => ({ tokens: 0, toolCalls: 0, wallMs: 0 });
export const addUse = (a: BudgetUse, b: BudgetUse): BudgetUse => ({ tokens: a.tokens + b.tokens, toolCalls: a.toolCalls + b.toolCalls, wallMs: a.wallMs + b.wallMs });
export const maxUse = (a: BudgetUse, b: BudgetUse): BudgetUse => ({ tokens: Math.max(a.tokens, b.tokens), toolCalls: Math.max(a.toolCalls, b.toolCalls), wallMs: Math.max(a.wallMs, b.wallMs) });
export const subUse = (a: BudgetUse, b: BudgetUse): BudgetUse => ({ tokens: a.tokens - b.tokens, toolCalls: a.toolCalls - b.toolCalls, wallMs: a.wallMs - b.wallMs });

/** What is left of `limit` after `spent` (only the dimensions the limit sets). */
export function remaining(limit: Budget, spent: BudgetUse): Budget {
  const out: Budget = {};
  for (const k of BUDGET_KEYS) if (limit[k] !== undefined) out[k] = Math.max(0, limit[k]! - spent[k]);
  return out;
}

/**
 * A child's reservation: in each dimension its agent's own budget or the delegation sets, the
 * smallest of those and what its parent has left to promise. A dimension neither sets is not
 * reserved: the child shares its ancestors' headroom there, and stops when an ancestor runs out.
 */
export function reserveBudget(own: Budget, requested: Budget | undefined, parentLeft: Budget): Budget {
  const out: Budget = {};
  for (const k of BUDGET_KEYS) {
    if (own[k] === undefined && requested?.[k] === undefined) continue;
    const caps = [own[k], requested?.[k], parentLeft[k]].filter((v): v is number => v !== undefined);
    out[k] = Math.min(...caps);
  }
  return out;
}

/** The part of a reservation a live child has not used yet: it still counts against its parent. */
export function outstanding(reserved: Budget, used: BudgetUse): BudgetUse {
  const out = zeroUse();
  for (const k of BUDGET_KEYS) if (reserved[k] !== undefined) out[k] = Math.max(0, reserved[k]! - used[k]);
  return out;
}

/** The first dimension in which `left` is spent, among those `limit` sets. */
export function spentDimension(left: Budget): keyof Budget | null {
  for (const k of BUDGET_KEYS) if (left[k] !== undefined && left[k]! <= 0) return k;
  return null;
}
