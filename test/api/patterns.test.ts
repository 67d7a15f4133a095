/**
 * Patterns run in bounded time, over the public surface: every glob and regex the kernel evaluates
 * for a tenant (or for a model acting for one) matches in one pass, within length caps.
 *
 * Each request below froze the tenant's objects (and, under wrangler dev, every tenant) when globs
 * compiled to backtracking RegExps and grep used `new RegExp`: the inputs are chosen so the old
 * matching would take minutes to forever. There are no timing assertions: matching is synchronous,
 * so a regression hangs the run (the objects' isolate cannot serve the test's timeout either).
 */
import { describe, expect, it } from "vitest";
import type { Process, ToolResult } from "../../src/contracts";
import type { CollectResult } from "../../src/contracts/tasks";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";
import { collect, delegate, registerCopilot } from "../support/tasks";

const as = (n: number) => "a".repeat(n);
/** Twelve `*a` then `b`: against a long run of `a`s the old RegExp tried every way to split it. */
const EVIL = "*a*a*a*a*a*a*a*a*a*a*a*a*b";
/** The same, but matching a run of `a`s (so a scope built from it grants those files). */
const EVIL_A = "*a*a*a*a*a*a*a*a*a*a*a*a*a";

const putFile = async (api: Client, path: string, text: string) => {
  const res = await api.call("PUT", `/v1/fs${path}`, text, { "content-type": "text/plain" });
  expect(res.status, `PUT ${path.slice(0, 40)}`).toBe(200);
};

/** A live, sleeping process of a fresh interactive agent, to dispatch tools as. */
async function sleeper(api: Client, name: string, spec: Parameters<typeof register>[2] = {}) {
  await register(api, name, { mode: "interactive", script: [{ text: "ready" }], ...spec });
  const p = await spawn(api, name);
  await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
  return p;
}

const dispatch = async (api: Client, pid: number, tool: string, args: Record<string, unknown>) => {
  const res = await api.post<ToolResult>(`/v1/procs/${pid}/dispatch`, { tool, arguments: args });
  expect(res.status).toBe(200);
  return res.body;
};

describe("GET /v1/fs?glob= as a viewer", () => {
  it("answers adversarial globs at once, an over-long one with 400", async () => {
    const tenant = freshTenant();
    const operator = client(tenant, "operator");
    const viewer = client(tenant, "viewer");
    const deep = "/deep" + "/a".repeat(400) + "/y";
    await putFile(operator, `/${as(100)}`, "x");
    await putFile(operator, `/d/${as(60)}b`, "x");
    await putFile(operator, deep, "x");

    const list = (glob: string) => viewer.get(`/v1/fs?glob=${encodeURIComponent(glob)}`);
    expect(await list(EVIL)).toEqual({ status: 200, body: [] });
    expect(await list(`**/${EVIL}`)).toEqual({ status: 200, body: [`/d/${as(60)}b`] });
    expect(await list(`/**/${EVIL_A}`)).toEqual({ status: 200, body: [`/${as(100)}`] });
    expect(await list("/deep/**/**/**/**/**/**/x")).toEqual({ status: 200, body: [] });
    expect(await list("/deep/**/**/**/**/**/**/y")).toEqual({ status: 200, body: [deep] });
    expect(await list("**/**/**/**/**/**/**/**/**/**/**/**/z")).toEqual({ status: 200, body: [] });
    expect(await list("/[z-a]")).toEqual({ status: 200, body: [] });
    expect(await list("/[!")).toEqual({ status: 200, body: [] });

    const tooLong = await list("*".repeat(1025));
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe("invalid_request");
    expect((await list("*a".repeat(512))).status).toBe(200);
  });
});

describe("the grep tool over POST /v1/procs/:pid/dispatch", () => {
  it("answers catastrophic regexes promptly, refuses lookaround, backreferences and over-long patterns", async () => {
    const api = client(freshTenant());
    await putFile(api, "/as.txt", `${as(20_000)}b\n${as(20_000)}\n`);
    const p = await sleeper(api, "searcher", { tools: ["grep", "glob"] });

    const backtracker = await dispatch(api, p.pid, "grep", { pattern: "(a+)+$" });
    expect(backtracker).toMatchObject({ success: true, output: `/as.txt:2: ${as(500)}…` });
    expect(await dispatch(api, p.pid, "grep", { pattern: "(a|aa)*c" })).toMatchObject({ success: true, output: "(no matches)" });
    expect(await dispatch(api, p.pid, "grep", { pattern: "^(a|a?)+b$", ignoreCase: true })).toMatchObject({ success: true, output: `/as.txt:1: ${as(500)}…` });
    expect(await dispatch(api, p.pid, "grep", { pattern: "(x+x+)+y" })).toMatchObject({ success: true, output: "(no matches)" });

    for (const pattern of ["a(?=b)", "a(?!b)", "(?<=a)b", "(a)\\1"]) {
      const refused = await dispatch(api, p.pid, "grep", { pattern });
      expect(refused.success, pattern).toBe(false);
      expect(refused.output).toMatch(/^Error: Invalid regular expression: .*no lookahead, lookbehind or backreferences/);
    }
    const complex = await dispatch(api, p.pid, "grep", { pattern: "(a?){1000}a{1000}" });
    expect(complex).toMatchObject({ success: false, output: expect.stringMatching(/^Error: Invalid regular expression: the pattern is too complex/) });
    const tooLong = await dispatch(api, p.pid, "grep", { pattern: "a".repeat(1025) });
    expect(tooLong).toMatchObject({ success: false, output: expect.stringMatching(/^Error: /) });

    // The glob tool and grep's glob filter over the same kind of glob.
    expect(await dispatch(api, p.pid, "glob", { pattern: `/**/${EVIL}` })).toMatchObject({ success: true, output: "(no matches)" });
    expect(await dispatch(api, p.pid, "grep", { pattern: "b", glob: EVIL })).toMatchObject({ success: true, output: "(no matches)" });
    const tooLongGlob = await dispatch(api, p.pid, "glob", { pattern: "*".repeat(1025) });
    expect(tooLongGlob).toMatchObject({ success: false, output: expect.stringMatching(/^Error: /) });

    // Still alive and well.
    expect(((await api.get(`/v1/procs/${p.pid}`)).body as Process).state).toBe("sleeping");
  });
});

describe("policy hooks with adversarial match globs", () => {
  it("match agents, tools and paths at once; an over-long glob is refused", async () => {
    const api = client(freshTenant());
    const longName = as(64);
    const put = await api.put("/v1/hooks/evil", {
      kind: "policy",
      rules: [
        { event: "pre_spawn", match: { agent: EVIL }, action: "deny", reason: "never matches" },
        { event: "pre_dispatch", match: { tool: EVIL }, action: "deny", reason: "never matches" },
        { event: "pre_dispatch", match: { path: `/**/${EVIL}` }, action: "deny", reason: "b files" },
      ],
    });
    expect(put.status).toBe(200);

    // The agent's name is 64 `a`s: the spawn rule must fail to match it.
    const p = await sleeper(api, longName, { tools: ["read_file"] });
    await putFile(api, `/${as(2000)}`, "plain");
    await putFile(api, `/x/${as(2000)}b`, "guarded");
    expect(await dispatch(api, p.pid, "read_file", { path: `/${as(2000)}` })).toMatchObject({ success: true, output: "plain" });
    expect(await dispatch(api, p.pid, "read_file", { path: `/x/${as(2000)}b` })).toMatchObject({ success: false, error: "vetoed by hook evil: b files" });

    const tooLong = await api.put("/v1/hooks/long", { kind: "policy", rules: [{ event: "pre_dispatch", match: { path: "*".repeat(1025) }, action: "deny" }] });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe("invalid_request");
  });
});

describe("agent specs and delegations with adversarial globs", () => {
  it("tool globs and fs scope globs of an AgentSpec match at once; over-long ones are refused", async () => {
    const api = client(freshTenant());
    await putFile(api, `/${as(3000)}`, "mine");
    await putFile(api, `/${as(3000)}b`, "not mine");
    // Tool globs that match no tool are refused (422 unknown_tool), after matching every known name at once.
    const unmatched = await api.put("/v1/agents/scoped", { model: "scripted", script: [{ text: "x" }], tools: [EVIL, `*${EVIL}`, "read_*", "list_dir"] });
    expect(unmatched.status).toBe(422);
    expect(unmatched.body.error).toMatchObject({ code: "unknown_tool", details: { unknown: [EVIL, `*${EVIL}`] } });
    const p = await sleeper(api, "scoped", { tools: ["read_*", "list_dir"], fs: [{ path: `/**/${EVIL_A}`, mode: "r" }] });
    expect(((await api.get(`/v1/procs/${p.pid}`)).body as Process).tools).toEqual(["read_file", "list_dir"]);

    expect(await dispatch(api, p.pid, "read_file", { path: `/${as(3000)}` })).toMatchObject({ success: true, output: "mine" });
    expect(await dispatch(api, p.pid, "read_file", { path: `/${as(3000)}b` })).toMatchObject({ success: false, error: expect.stringMatching(/^permission_denied/) });
    expect(await dispatch(api, p.pid, "list_dir", { path: "/" })).toMatchObject({ success: true, output: as(3000) });

    for (const spec of [{ tools: ["x".repeat(129)] }, { fs: [{ path: "*".repeat(1025), mode: "r" }] }]) {
      const res = await api.put("/v1/agents/too-long", { model: "scripted", script: [{ text: "x" }], ...spec });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });

  it("scopes and tool globs a copilot (a model) asks for in a delegation match at once", async () => {
    const api = client(freshTenant());
    await putFile(api, `/${as(3000)}`, "granted");
    await putFile(api, `/${as(3000)}b`, "withheld");
    await register(api, "reader", {
      tools: ["read_file"],
      script: [
        { toolCalls: [{ name: "read_file", arguments: { path: `/${as(3000)}b` } }] },
        { toolCalls: [{ name: "read_file", arguments: { path: `/${as(3000)}` } }] },
        { text: "{{lastToolResult}}" },
      ],
    });
    const asked = { tools: ["read_*"], fs: [{ path: `/**/${EVIL_A}`, mode: "r" }] };
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("reader", "read", asked)] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], {
      tools: ["read_file"],
    });
    const copilot = await spawn(api, "boss");
    const result = JSON.parse((await waitExit(api, copilot.pid)).result ?? "null") as CollectResult;
    expect(result.completed.map((t) => t.result)).toEqual(["granted"]);
    const worker = (await api.get(`/v1/procs/${result.completed[0]!.pid}`)).body as Process;
    expect(worker.fs).toEqual([{ path: `/**/${EVIL_A}`, mode: "r" }]);

    // Over HTTP, past the caps: 400 before anything is spawned.
    const live = await sleeper(api, "boss2", { tools: ["delegate"] });
    // A tool glob that matches no tool: 422 unknown_tool, at once.
    const unmatched = await api.post(`/v1/procs/${live.pid}/delegate`, { agent: "reader", message: "x", tools: [EVIL, "read_*"] });
    expect(unmatched.status).toBe(422);
    expect(unmatched.body.error).toMatchObject({ code: "unknown_tool", details: { unknown: [EVIL] } });
    for (const extra of [{ tools: ["x".repeat(129)] }, { fs: [{ path: "*".repeat(1025), mode: "r" }] }, { fs: Array.from({ length: 65 }, () => ({ path: "/**", mode: "r" })) }]) {
      const res = await api.post(`/v1/procs/${live.pid}/delegate`, { agent: "reader", message: "x", ...extra });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
  });
});
