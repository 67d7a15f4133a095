import { describe, expect, it } from "vitest";
import { ASK_TIMEOUT_DEFAULT_MS, ASK_TIMEOUT_MAX_MS, HookSpecInput, type HookContext, type HookSpec } from "../../../src/contracts";
import { evaluatePolicy, hooksAfter, pathFilters, runPreHooks } from "../../../src/kernel/hook-chain";
import { harness } from "./harness";

const ctx: HookContext = { event: "pre_dispatch", tenant: "acme", pid: 1, agent: "writer", tool: "write_file", paths: ["/etc/x"], arguments: {} };
const policy = (name: string, rules: unknown[]): Extract<HookSpec, { kind: "policy" }> => ({ name, ...(HookSpecInput.parse({ kind: "policy", rules }) as Extract<HookSpecInput, { kind: "policy" }>) });

describe("the ask action (SPEC §11)", () => {
  it("is valid only on pre_dispatch rules, with a bounded timeoutMs that only ask takes", () => {
    expect(HookSpecInput.safeParse({ kind: "policy", rules: [{ event: "pre_dispatch", action: "ask", timeoutMs: 5000 }] }).success).toBe(true);
    const onSpawn = HookSpecInput.safeParse({ kind: "policy", rules: [{ event: "pre_spawn", action: "ask" }] });
    expect(onSpawn.success).toBe(false);
    expect(onSpawn.error!.issues[0]).toMatchObject({ path: ["rules", 0, "action"], message: expect.stringContaining("only valid on pre_dispatch") });
    expect(HookSpecInput.safeParse({ kind: "policy", rules: [{ event: "pre_dispatch", action: "deny", timeoutMs: 5000 }] }).success).toBe(false);
    expect(HookSpecInput.safeParse({ kind: "policy", rules: [{ event: "pre_dispatch", action: "ask", timeoutMs: 999 }] }).success).toBe(false);
    expect(HookSpecInput.safeParse({ kind: "policy", rules: [{ event: "pre_dispatch", action: "ask", timeoutMs: ASK_TIMEOUT_MAX_MS + 1 }] }).success).toBe(false);
  });

  it("the first matching rule answers ask, with its reason and timeout (24 h by default)", () => {
    const hook = policy("guard", [
      { event: "pre_dispatch", match: { tool: "read_*" }, action: "allow" },
      { event: "pre_dispatch", match: { path: "/etc/**" }, action: "ask", reason: "system files need a person", timeoutMs: 60_000 },
      { event: "pre_dispatch", action: "ask" },
    ]);
    expect(evaluatePolicy(hook, ctx)).toEqual({ allow: "ask", hook: "guard", reason: "system files need a person", timeoutMs: 60_000 });
    expect(evaluatePolicy(hook, { ...ctx, paths: ["/tmp/x"] })).toEqual({ allow: "ask", hook: "guard", reason: expect.stringContaining("asks a person"), timeoutMs: ASK_TIMEOUT_DEFAULT_MS });
    expect(evaluatePolicy(hook, { ...ctx, tool: "read_file" })).toEqual({ allow: true });
  });

  it("stops the chain at an ask; afterHook runs only the hooks after the one that asked", async () => {
    const hooks = [
      policy("first", [{ event: "pre_dispatch", action: "ask", reason: "first asks" }]),
      policy("second", [{ event: "pre_dispatch", match: { path: "/etc/**" }, action: "deny", reason: "second denies" }]),
      policy("third", [{ event: "pre_dispatch", action: "ask", reason: "third asks" }]),
    ];
    expect((await runPreHooks(hooks, ctx)).verdict).toMatchObject({ allow: "ask", hook: "first" });
    expect((await runPreHooks(hooks, ctx, fetch, [], { afterHook: "first" })).verdict).toMatchObject({ allow: false, hook: "second" });
    expect((await runPreHooks(hooks, { ...ctx, paths: ["/tmp/x"] }, fetch, [], { afterHook: "first" })).verdict).toMatchObject({ allow: "ask", hook: "third" });
    expect((await runPreHooks(hooks, ctx, fetch, [], { afterHook: "third" })).verdict).toEqual({ allow: true });
    expect(hooksAfter(hooks, "gone").map((h) => h.name)).toEqual(["first", "second", "third"]);
    expect(hooksAfter(hooks, undefined)).toBe(hooks);
  });

  it("an ask about a path does not hide it from searches (only deny does)", () => {
    const hooks = [policy("p", [{ event: "pre_dispatch", match: { path: "/secret/**" }, action: "ask" }, { event: "pre_dispatch", match: { path: "/hidden/**" }, action: "deny" }])];
    expect(pathFilters(hooks, { ...ctx, tool: "grep" })).toEqual([{ hook: "p", rules: [{ path: "/secret/**", deny: false }, { path: "/hidden/**", deny: true }] }]);
  });

  it("the runner answers asks per call (not as vetoes), and none once past the asking hook", async () => {
    const k = harness();
    k.hookRegistry.put("guard", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", reason: "writes need a person", timeoutMs: 5000 }] }, "api:admin");
    const calls = [
      { id: "w", name: "write_file", arguments: { path: "/a", content: "" }, paths: ["/a"] },
      { id: "r", name: "read_file", arguments: { path: "/a" }, paths: ["/a"] },
    ];
    const verdicts = await k.hooks.beforeDispatch(1, () => ({ parent_pid: null, agent: "x" }), calls);
    expect(verdicts.asks).toEqual({ w: { hook: "guard", reason: "writes need a person", timeoutMs: 5000 } });
    expect(verdicts.vetoes).toEqual({});
    expect((await k.hooks.beforeDispatch(1, () => ({ parent_pid: null, agent: "x" }), calls, { afterHook: "guard" })).asks).toEqual({});
  });
});
