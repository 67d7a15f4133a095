import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { HookContext, HookSpec, PolicyRule } from "../../src/contracts";
import { callWebhook, evaluatePolicy, hooksFor, runPostHooks, runPreHooks, signBody, type WebhookHook } from "../../src/kernel/hook-chain";

/** Base URL of the webhook receiver started by test/global-setup.ts. */
const HOOK_SERVER = (env as unknown as { HOOK_SERVER_URL: string }).HOOK_SERVER_URL;
/** The test hook server listens on loopback, which webhooks may reach only when the operator allows it. */
const LOCAL = ["127.0.0.1", "localhost"];

interface Recorded {
  method: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
}

/** A fresh receiver id per hook, so tests never see each other's requests. */
function receiver(query = "") {
  const id = crypto.randomUUID();
  return {
    url: `${HOOK_SERVER}/hook/${id}${query ? `?${query}` : ""}`,
    log: async (): Promise<Recorded[]> => (await fetch(`${HOOK_SERVER}/log/${id}`)).json(),
  };
}

const SECRET = "s3cr3t-hook-key-do-not-leak";
const webhook = (name: string, url: string, extra: Partial<WebhookHook> = {}): WebhookHook & HookSpec => ({
  kind: "webhook",
  name,
  url,
  events: ["pre_spawn", "post_spawn", "pre_dispatch", "post_dispatch", "post_terminate"],
  secret: SECRET,
  timeoutMs: 2000,
  failMode: "open",
  ...extra,
});
const policy = (name: string, rules: PolicyRule[]): HookSpec => ({ kind: "policy", name, rules });
const deny = (event: PolicyRule["event"], match: PolicyRule["match"], reason?: string): PolicyRule => ({ event, match, action: "deny", ...(reason ? { reason } : {}) });
const allow = (event: PolicyRule["event"], match: PolicyRule["match"]): PolicyRule => ({ event, match, action: "allow" });

const spawnCtx = (agent: string): HookContext => ({ event: "pre_spawn", tenant: "acme", agent, parentPid: null });
const dispatchCtx = (tool: string, paths?: string[], agent = "worker"): HookContext => ({
  event: "pre_dispatch",
  tenant: "acme",
  pid: 7,
  agent,
  tool,
  ...(paths ? { paths } : {}),
  arguments: { path: paths?.[0] },
});

describe("evaluatePolicy", () => {
  it("lets the first matching rule for the event decide", () => {
    const hook = { name: "guard", rules: [deny("pre_dispatch", { tool: "delete_*" }, "no deleting"), allow("pre_dispatch", {}), deny("pre_dispatch", {})] };
    expect(evaluatePolicy(hook, dispatchCtx("delete_file", ["/a"]))).toEqual({ allow: false, hook: "guard", reason: "no deleting" });
    expect(evaluatePolicy(hook, dispatchCtx("read_file", ["/a"]))).toEqual({ allow: true });
  });

  it("ignores rules for other events and has no opinion when nothing matches", () => {
    const hook = { name: "guard", rules: [deny("pre_spawn", {}), deny("pre_dispatch", { tool: "grep" })] };
    expect(evaluatePolicy(hook, dispatchCtx("read_file"))).toBeNull();
    expect(evaluatePolicy(hook, spawnCtx("anyone"))).toMatchObject({ allow: false });
  });

  it("requires every match glob to match", () => {
    const hook = { name: "guard", rules: [deny("pre_dispatch", { agent: "worker-*", tool: "write_file", path: "/etc/**" })] };
    expect(evaluatePolicy(hook, dispatchCtx("write_file", ["/etc/passwd"], "worker-1"))).toMatchObject({ allow: false });
    expect(evaluatePolicy(hook, dispatchCtx("write_file", ["/etc/passwd"], "copilot"))).toBeNull();
    expect(evaluatePolicy(hook, dispatchCtx("read_file", ["/etc/passwd"], "worker-1"))).toBeNull();
    expect(evaluatePolicy(hook, dispatchCtx("write_file", ["/home/x"], "worker-1"))).toBeNull();
  });

  it("matches a path rule when any path matches, and never without paths", () => {
    const hook = { name: "secrets", rules: [deny("pre_dispatch", { path: "/secrets/**" })] };
    expect(evaluatePolicy(hook, dispatchCtx("grep", ["/docs/a.md", "/secrets/key"]))).toMatchObject({ allow: false });
    expect(evaluatePolicy(hook, dispatchCtx("grep", ["/secrets"]))).toMatchObject({ allow: false });
    expect(evaluatePolicy(hook, dispatchCtx("grep", ["/docs/a.md"]))).toBeNull();
    expect(evaluatePolicy(hook, dispatchCtx("list_tasks"))).toBeNull();
    expect(evaluatePolicy(hook, dispatchCtx("list_tasks", []))).toBeNull();
  });

  it("never matches an agent or tool glob against a context that lacks the field", () => {
    const hook = { name: "guard", rules: [deny("pre_spawn", { tool: "*" }), deny("pre_dispatch", { agent: "*" })] };
    expect(evaluatePolicy(hook, spawnCtx("worker"))).toBeNull();
    expect(evaluatePolicy(hook, { event: "pre_dispatch", tenant: "acme", tool: "grep" })).toBeNull();
  });

  it("supports ?, [..] and [!..] globs", () => {
    const hook = { name: "guard", rules: [deny("pre_spawn", { agent: "w?-[0-9]" }), deny("pre_spawn", { agent: "[!a-m]*" })] };
    expect(evaluatePolicy(hook, spawnCtx("wx-3"))).toMatchObject({ allow: false });
    expect(evaluatePolicy(hook, spawnCtx("zeta"))).toMatchObject({ allow: false });
    expect(evaluatePolicy(hook, spawnCtx("alpha"))).toBeNull();
  });

  it("gives a readable default reason", () => {
    const hook = { name: "no-spawn", rules: [deny("pre_spawn", {})] };
    expect(evaluatePolicy(hook, spawnCtx("coder"))).toEqual({ allow: false, hook: "no-spawn", reason: 'Policy hook "no-spawn" denies spawning agent "coder".' });
  });
});

describe("hooksFor", () => {
  it("names the hooks that care about an event, in chain order", () => {
    const hooks = [
      policy("p-spawn", [deny("pre_spawn", {})]),
      webhook("w-post", "http://x.test/", { events: ["post_terminate"] }),
      policy("p-post", [deny("post_spawn", {})]),
      webhook("w-spawn", "http://x.test/", { events: ["pre_spawn", "post_spawn"] }),
    ];
    expect(hooksFor(hooks, "pre_spawn").map((h) => h.name)).toEqual(["p-spawn", "w-spawn"]);
    expect(hooksFor(hooks, "post_spawn").map((h) => h.name)).toEqual(["w-spawn"]);
    expect(hooksFor(hooks, "post_terminate").map((h) => h.name)).toEqual(["w-post"]);
    expect(hooksFor(hooks, "pre_dispatch")).toEqual([]);
  });
});

describe("signBody", () => {
  it("is hex HMAC-SHA256 (RFC 4231 test case 2)", async () => {
    expect(await signBody("what do ya want for nothing?", "Jefe")).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });
});

describe("callWebhook", () => {
  it("POSTs the signed event, and the receiver can verify the signature from the raw body", async () => {
    const r = receiver();
    const ctx = dispatchCtx("write_file", ["/notes/ü.md"]);
    const outcome = await callWebhook(webhook("audit-sink", r.url), ctx, fetch, LOCAL);
    expect(outcome).toEqual({ verdict: { allow: true } });

    const [request, ...more] = await r.log();
    expect(more).toEqual([]);
    expect(request!.method).toBe("POST");
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers["x-kernel-signature"]).toBe(`sha256=${await signBody(request!.body, SECRET)}`);
    expect(request!.headers["x-kernel-signature"]).not.toBe(`sha256=${await signBody(request!.body, "wrong")}`);
    const payload = JSON.parse(request!.body);
    expect(payload).toMatchObject({ event: "pre_dispatch", tenant: "acme", hook: "audit-sink", pid: 7, agent: "worker", tool: "write_file", paths: ["/notes/ü.md"] });
    expect(Object.keys(payload).slice(0, 4)).toEqual(["event", "tenant", "hook", "at"]);
    expect(new Date(payload.at).toISOString()).toBe(payload.at);
    expect(request!.body).not.toContain(SECRET);
  });

  it("vetoes on {allow: false} with the receiver's reason, and allows on {allow: true}", async () => {
    const no = receiver("allow=false&reason=" + encodeURIComponent("agent is on the blocklist"));
    expect(await callWebhook(webhook("gate", no.url), spawnCtx("x"), fetch, LOCAL)).toEqual({ verdict: { allow: false, hook: "gate", reason: "agent is on the blocklist" } });

    const noReason = receiver("allow=false");
    expect(await callWebhook(webhook("gate", noReason.url), spawnCtx("x"), fetch, LOCAL)).toEqual({
      verdict: { allow: false, hook: "gate", reason: 'Webhook hook "gate" denied the request.' },
    });

    const yes = receiver("allow=true");
    expect(await callWebhook(webhook("gate", yes.url), spawnCtx("x"), fetch, LOCAL)).toEqual({ verdict: { allow: true } });
  });

  it("vetoes a pre_* event on a non-2xx answer, whatever the fail mode", async () => {
    for (const failMode of ["open", "closed"] as const) {
      const r = receiver("status=500&allow=true");
      const outcome = await callWebhook(webhook("gate", r.url, { failMode }), spawnCtx("x"), fetch, LOCAL);
      expect(outcome.verdict).toEqual({ allow: false, hook: "gate", reason: 'Webhook hook "gate" answered HTTP 500.' });
    }
    // Redirects are not followed: a 3xx is an answer like any other non-2xx.
    const redirect = receiver("status=307");
    expect((await callWebhook(webhook("gate", redirect.url), spawnCtx("x"), fetch, LOCAL)).verdict).toMatchObject({ allow: false, reason: 'Webhook hook "gate" answered HTTP 307.' });
  });

  it("on timeout allows when failMode is open and vetoes when closed, reporting the error either way", async () => {
    const open = receiver("delayMs=3000");
    const started = Date.now();
    const opened = await callWebhook(webhook("slow", open.url, { timeoutMs: 200, failMode: "open" }), spawnCtx("x"), fetch, LOCAL);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(opened).toEqual({ verdict: { allow: true }, error: 'Webhook hook "slow" is unreachable.' });
    expect(await open.log()).toHaveLength(1); // it was called, just too slow

    const closed = receiver("delayMs=3000");
    const shut = await callWebhook(webhook("slow", closed.url, { timeoutMs: 200, failMode: "closed" }), spawnCtx("x"), fetch, LOCAL);
    expect(shut).toEqual({
      verdict: { allow: false, hook: "slow", reason: 'Webhook hook "slow" is unreachable.' },
      error: 'Webhook hook "slow" is unreachable.',
    });
  });

  it("enforces the timeout even when the fetcher ignores the abort signal", async () => {
    const never = () => new Promise<Response>(() => {});
    const outcome = await callWebhook(webhook("stuck", "http://x.test/", { timeoutMs: 50, failMode: "closed" }), spawnCtx("x"), never, LOCAL);
    expect(outcome.verdict).toMatchObject({ allow: false, hook: "stuck" });
    expect(outcome.error).toBe('Webhook hook "stuck" is unreachable.');
  });

  it("treats an unreachable receiver like a timeout, with the same message and no runtime detail: fail open allows, fail closed vetoes", async () => {
    // A real refused connection (workerd also logs it as "Network connection lost", harmlessly).
    const closed = await callWebhook(webhook("gone", "http://127.0.0.1:1/hook", { failMode: "closed" }), spawnCtx("x"), fetch, LOCAL);
    expect(closed).toEqual({ verdict: { allow: false, hook: "gone", reason: 'Webhook hook "gone" is unreachable.' }, error: 'Webhook hook "gone" is unreachable.' });

    const refused = (): Promise<Response> => Promise.reject(new TypeError("Network connection lost."));
    const open = await callWebhook(webhook("gone", "http://x.test/", { failMode: "open" }), spawnCtx("x"), refused, LOCAL);
    expect(open).toEqual({ verdict: { allow: true }, error: 'Webhook hook "gone" is unreachable.' });
  });

  it("has no verdict for post_* events but reports failures", async () => {
    const ok = receiver("allow=false");
    expect(await callWebhook(webhook("sink", ok.url), { event: "post_spawn", tenant: "acme", pid: 1 }, fetch, LOCAL)).toEqual({ verdict: null });

    const failing = receiver("status=503");
    expect(await callWebhook(webhook("sink", failing.url), { event: "post_spawn", tenant: "acme", pid: 1 }, fetch, LOCAL)).toEqual({
      verdict: null,
      error: 'Webhook hook "sink" answered HTTP 503.',
    });
  });

  it("never puts the secret in a reason or an error", async () => {
    // A receiver that echoes the secret in its reason, and a URL carrying it that fails to connect.
    const echo = receiver("allow=false&reason=" + encodeURIComponent(`bad key ${SECRET}!`));
    const vetoed = await callWebhook(webhook("echo", echo.url), spawnCtx("x"), fetch, LOCAL);
    expect(vetoed.verdict).toEqual({ allow: false, hook: "echo", reason: "bad key [redacted]!" });

    const leaky = (): Promise<Response> => Promise.reject(new Error(`connect failed for http://u:${SECRET}@x.test/`));
    const failed = await callWebhook(webhook("leaky", "http://x.test/", { failMode: "closed" }), spawnCtx("x"), leaky, LOCAL);
    expect(JSON.stringify(failed)).not.toContain(SECRET);
    expect(failed.error).toBe('Webhook hook "leaky" is unreachable.'); // runtime error text never shows
  });
});

describe("runPreHooks", () => {
  it("allows when no hook objects", async () => {
    expect(await runPreHooks([], spawnCtx("x"), fetch, LOCAL)).toEqual({ verdict: { allow: true }, warnings: [] });
    expect(await runPreHooks([policy("p", [allow("pre_spawn", {})])], spawnCtx("x"), fetch, LOCAL)).toEqual({ verdict: { allow: true }, warnings: [] });
  });

  it("lets a later hook veto after a policy's explicit allow", async () => {
    const hooks = [policy("first", [allow("pre_spawn", {}), deny("pre_spawn", {})]), policy("second", [deny("pre_spawn", { agent: "evil-*" }, "evil")])];
    expect((await runPreHooks(hooks, spawnCtx("evil-bot"), fetch, LOCAL)).verdict).toEqual({ allow: false, hook: "second", reason: "evil" });
    expect((await runPreHooks(hooks, spawnCtx("good-bot"), fetch, LOCAL)).verdict).toEqual({ allow: true });
  });

  it("stops at the first veto: later webhooks are not called", async () => {
    const before = receiver();
    const after = receiver();
    const hooks = [webhook("before", before.url), policy("wall", [deny("pre_spawn", {}, "closed for maintenance")]), webhook("after", after.url)];
    expect(await runPreHooks(hooks, spawnCtx("x"), fetch, LOCAL)).toEqual({ verdict: { allow: false, hook: "wall", reason: "closed for maintenance" }, warnings: [] });
    expect(await before.log()).toHaveLength(1);
    expect(await after.log()).toHaveLength(0);
  });

  it("calls only webhooks subscribed to the event", async () => {
    const spawnOnly = receiver("allow=false");
    const dispatchOnly = receiver();
    const hooks = [webhook("spawn-gate", spawnOnly.url, { events: ["pre_spawn"] }), webhook("dispatch-gate", dispatchOnly.url, { events: ["pre_dispatch"] })];
    expect((await runPreHooks(hooks, dispatchCtx("grep", ["/x"]), fetch, LOCAL)).verdict).toEqual({ allow: true });
    expect(await spawnOnly.log()).toHaveLength(0);
    expect(await dispatchOnly.log()).toHaveLength(1);
  });

  it("turns a fail-open webhook failure into a warning and goes on", async () => {
    const slow = receiver("delayMs=3000");
    const gate = receiver("allow=false&reason=nope");
    const hooks = [webhook("slow", slow.url, { timeoutMs: 100 }), webhook("gate", gate.url)];
    expect(await runPreHooks(hooks, spawnCtx("x"), fetch, LOCAL)).toEqual({
      verdict: { allow: false, hook: "gate", reason: "nope" },
      warnings: [{ severity: "degraded", component: "slow", message: 'Webhook hook "slow" is unreachable.' }],
    });
  });
});

describe("runPostHooks", () => {
  it("runs every subscribed webhook and turns failures into degraded warnings, in chain order", async () => {
    const ok = receiver();
    const broken = receiver("status=500");
    const slow = receiver("delayMs=3000");
    const unsubscribed = receiver();
    const hooks = [
      policy("p", [deny("pre_spawn", {})]),
      webhook("broken", broken.url),
      webhook("ok", ok.url),
      webhook("slow", slow.url, { timeoutMs: 100 }),
      webhook("unsubscribed", unsubscribed.url, { events: ["post_spawn"] }),
    ];
    const ctx: HookContext = { event: "post_terminate", tenant: "acme", pid: 4, exit: { code: 0, reason: "Completed." } };
    const warnings = await runPostHooks(hooks, ctx, fetch, LOCAL);
    expect(warnings).toEqual([
      { severity: "degraded", component: "broken", message: 'Webhook hook "broken" answered HTTP 500.' },
      { severity: "degraded", component: "slow", message: 'Webhook hook "slow" is unreachable.' },
    ]);
    expect(JSON.stringify(warnings)).not.toContain(SECRET);
    expect(await ok.log()).toHaveLength(1);
    expect(await broken.log()).toHaveLength(1);
    expect(await unsubscribed.log()).toHaveLength(0);
    expect(JSON.parse((await ok.log())[0]!.body)).toMatchObject({ event: "post_terminate", exit: { code: 0, reason: "Completed." } });
  });

  it("never throws, even when the fetcher does", async () => {
    const throwing = (): Promise<Response> => {
      throw new TypeError("synchronous failure");
    };
    expect(await runPostHooks([webhook("w", "http://x.test/")], { event: "post_spawn", tenant: "acme" }, throwing, LOCAL)).toEqual([
      { severity: "degraded", component: "w", message: 'Webhook hook "w" is unreachable.' },
    ]);
  });
});
