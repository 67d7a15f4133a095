import { describe, expect, it } from "vitest";
import type { HookContext, HookSpec } from "../../src/contracts";
import { hiddenByPolicies, pathFilters } from "../../src/kernel/hook-chain";

const ctx = (over: Partial<HookContext> = {}): HookContext => ({ event: "pre_dispatch", tenant: "t", agent: "a", tool: "grep", paths: ["/"], ...over });
const policy = (name: string, rules: unknown[]): HookSpec => ({ kind: "policy", name, rules } as HookSpec);

describe("policy path filters for searches", () => {
  const hooks = [
    policy("guard", [
      { event: "pre_dispatch", match: { path: "/secret/public/**" }, action: "allow" },
      { event: "pre_dispatch", match: { path: "/secret/**" }, action: "deny" },
    ]),
    policy("only-writers", [{ event: "pre_dispatch", match: { tool: "write_*", path: "/docs/**" }, action: "deny" }]),
  ];

  it("keeps the rules that apply to the caller, in order, and hides by the first rule that matches", () => {
    const filters = pathFilters(hooks, ctx());
    expect(filters).toEqual([{ hook: "guard", rules: [{ path: "/secret/public/**", deny: false }, { path: "/secret/**", deny: true }] }]);
    expect(hiddenByPolicies(filters, "/secret/keys.txt")).toBe(true);
    expect(hiddenByPolicies(filters, "/secret/public/readme.md")).toBe(false);
    expect(hiddenByPolicies(filters, "/docs/a.md")).toBe(false);
  });

  it("a path-less rule decides every path: later rules of that policy do not apply", () => {
    const filters = pathFilters([policy("p", [{ event: "pre_dispatch", match: { tool: "grep" }, action: "allow" }, { event: "pre_dispatch", match: { path: "/x/**" }, action: "deny" }])], ctx());
    expect(filters).toEqual([]);
  });

  it("ignores other events, other agents and policies that only allow", () => {
    expect(pathFilters([policy("p", [{ event: "pre_spawn", match: { path: "/x/**" }, action: "deny" }])], ctx())).toEqual([]);
    expect(pathFilters([policy("p", [{ event: "pre_dispatch", match: { agent: "b*", path: "/x/**" }, action: "deny" }])], ctx())).toEqual([]);
    expect(pathFilters([policy("p", [{ event: "pre_dispatch", match: { path: "/x/**" }, action: "allow" }])], ctx())).toEqual([]);
  });
});
