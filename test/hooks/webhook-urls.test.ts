import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/contracts";
import { callWebhook } from "../../src/kernel/hook-chain";
import { client, freshTenant } from "../support/http";
import { register, type Client } from "../support/agents";

// The test binding ALLOW_PRIVATE_HOSTS is "127.0.0.1,localhost" (vitest.config.ts): the receiver of
// test/global-setup.ts listens on 127.0.0.1. Every other private host stays refused.
const receiver = (query = "") => {
  const id = crypto.randomUUID();
  return { id, url: `${env.HOOK_SERVER_URL}/hook/${id}${query}`, log: async () => (await (await fetch(`${env.HOOK_SERVER_URL}/log/${id}`)).json()) as { body: string; headers: Record<string, string> }[] };
};
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;
const webhook = (url: string, extra: Record<string, unknown> = {}) => ({ kind: "webhook", url, events: ["post_spawn"], secret: "k", ...extra });

describe("webhook URLs cannot reach private networks", () => {
  it.each([
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8080/",
    "http://167772161/", // 10.0.0.1 as the URL parser (and fetch) reads it; http://2130706433/ is 127.0.0.1, allowed here
  ])("refuses %s with 400 invalid_request naming the url", async (url) => {
    const api = client(freshTenant());
    const res = await api.put("/v1/hooks/probe", webhook(url));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: { code: "invalid_request", message: expect.any(String), details: [{ path: ["url"], message: expect.stringContaining("ALLOW_PRIVATE_HOSTS"), code: "url_not_allowed" }] },
    });
    expect((await api.get("/v1/hooks")).body.hooks).toEqual([{ name: "audit", kind: "audit", position: 0 }]);
    expect((await auditOf(api)).filter((e) => e.event === "hook_changed")).toEqual([]);
  });

  it.each([
    "http://0x0a.1/", // 10.0.0.1
    "http://167772161/", // 10.0.0.1
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://printer.local/",
    "http://api.localhost/",
    "http://100.64.0.1/",
    "http://0.0.0.0:8080/",
    "http://127.0.0.2/", // loopback, but not the allowed 127.0.0.1
  ])("refuses %s too", async (url) => {
    const res = await client(freshTenant()).put("/v1/hooks/probe", webhook(url));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", details: [{ path: ["url"] }] });
  });

  it("accepts a host listed in ALLOW_PRIVATE_HOSTS, in any spelling of its address, and public hosts", async () => {
    const api = client(freshTenant());
    const hook = receiver();
    const numeric = receiver();
    expect((await api.put("/v1/hooks/local", webhook(hook.url))).status).toBe(200);
    // 2130706433 is 127.0.0.1 to the URL parser and to fetch: the check judges the address, not the spelling.
    expect((await api.put("/v1/hooks/numeric", webhook(numeric.url.replace("127.0.0.1", "2130706433")))).status).toBe(200);
    // (subscribed to an event that does not happen here, so nothing tries to reach them)
    expect((await api.put("/v1/hooks/local-name", webhook("http://LOCALHOST.:1/x", { events: ["pre_dispatch"] }))).status).toBe(200);
    expect((await api.put("/v1/hooks/public", webhook("https://hooks.example.com/kernel", { events: ["pre_dispatch"] }))).status).toBe(200);
    expect((await api.get("/v1/hooks")).body.hooks.map((h: { name: string }) => h.name)).toEqual(["audit", "local", "numeric", "local-name", "public"]);
    await register(api, "any", { script: [{ text: "x" }] });
    expect((await api.post("/v1/procs", { agent: "any", input: "x" })).status).toBe(201);
    expect(await hook.log()).toHaveLength(1);
    expect(await numeric.log()).toHaveLength(1);
  });

  it("does not call a stored hook whose host is refused now (a hook from before the setting changed)", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "any", { script: [{ text: "x" }] });
    // Stored behind the API's back, as a hook registered under a wider ALLOW_PRIVATE_HOSTS would be.
    const stale = { kind: "webhook", name: "stale", url: "http://10.0.0.1:1/hook", events: ["pre_spawn", "post_spawn"], secret: "k", timeoutMs: 2000, failMode: "closed" };
    await runInDurableObject(env.KERNEL.getByName(tenant), (instance, state) => {
      state.storage.sql.exec("INSERT INTO hooks (name, position, spec) VALUES (?, ?, ?)", "stale", 1, JSON.stringify(stale));
      (instance as unknown as { hookCache: unknown }).hookCache = null;
    });
    const vetoed = await api.post("/v1/procs", { agent: "any", input: "x" });
    expect(vetoed.status).toBe(403);
    expect(vetoed.body.error).toMatchObject({ code: "spawn_vetoed", details: { hook: "stale", reason: expect.stringMatching(/^Webhook hook "stale" was not called: its URL is not allowed\. The host 10\.0\.0\.1 is in 10\.0\.0\.0\/8/) } });

    await runInDurableObject(env.KERNEL.getByName(tenant), (instance, state) => {
      state.storage.sql.exec("UPDATE hooks SET spec = ? WHERE name = 'stale'", JSON.stringify({ ...stale, events: ["post_spawn"] }));
      (instance as unknown as { hookCache: unknown }).hookCache = null;
    });
    const res = await api.post("/v1/procs", { agent: "any", input: "x" });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([{ severity: "degraded", component: "stale", message: expect.stringContaining('Webhook hook "stale" was not called') }]);
  });

  it("checks the URL again at call time against the list it is given", async () => {
    const hook = receiver();
    const spec = { name: "gate", url: hook.url, events: ["pre_spawn" as const], secret: "k", failMode: "closed" as const };
    const ctx = { event: "pre_spawn" as const, tenant: "acme", agent: "x", parentPid: null };
    expect(await callWebhook(spec, ctx, fetch, ["127.0.0.1"])).toEqual({ verdict: { allow: true } });
    const refused = await callWebhook(spec, ctx, fetch, []);
    expect(refused.verdict).toMatchObject({ allow: false, hook: "gate" });
    expect(refused.error).toMatch(/^Webhook hook "gate" was not called: its URL is not allowed\. The host 127\.0\.0\.1 is in 127\.0\.0\.0\/8 \(loopback\)/);
    expect(await hook.log()).toHaveLength(1); // only the allowed call reached it
  });
});

describe("webhook URL credentials are never shown back", () => {
  it("keeps user:password out of the PUT answer, GET /v1/hooks, the audit log and warnings", async () => {
    const api = client(freshTenant());
    const hook = receiver("?status=500");
    const withCredentials = hook.url.replace("http://", "http://hook-user:hunter2-pw@");
    const put = await api.put("/v1/hooks/notify", webhook(withCredentials));
    expect(put.status).toBe(200);
    const shown = hook.url.replace("http://", "http://***@");
    expect(put.body).toMatchObject({ name: "notify", url: shown });
    const listed = await api.get("/v1/hooks");
    expect(listed.body.hooks[1]).toMatchObject({ name: "notify", url: shown });

    await register(api, "any", { script: [{ text: "x" }] });
    const spawned = await api.post("/v1/procs", { agent: "any", input: "x" });
    expect(spawned.status).toBe(201);
    expect(spawned.body.warnings).toEqual([{ severity: "degraded", component: "notify", message: 'Webhook hook "notify" answered HTTP 500.' }]);

    const audit = await auditOf(api);
    expect(audit.find((e) => e.event === "hook_changed")?.data).toEqual({ hook: "notify", kind: "webhook", url: shown, change: "added" });
    for (const text of [JSON.stringify(put.body), JSON.stringify(listed.body), JSON.stringify(audit), JSON.stringify(spawned.body)]) {
      expect(text).not.toContain("hunter2");
      expect(text).not.toContain("hook-user");
    }
  });
});

describe("an unreachable webhook tells nothing about why", () => {
  it("gives the same warning for a refused connection and a timeout, with no runtime error text", async () => {
    const warningFor = async (url: string, timeoutMs: number) => {
      const api = client(freshTenant());
      expect((await api.put("/v1/hooks/sink", webhook(url, { timeoutMs }))).status).toBe(200);
      await register(api, "any", { script: [{ text: "x" }] });
      const res = await api.post("/v1/procs", { agent: "any", input: "x" });
      expect(res.status).toBe(201);
      return res.body.warnings as { message: string }[];
    };
    const refused = await warningFor("http://127.0.0.1:1/hook", 2000); // nothing listens on port 1
    const slow = await warningFor(receiver("?delayMs=3000").url, 200);
    expect(refused).toEqual([{ severity: "degraded", component: "sink", message: 'Webhook hook "sink" is unreachable.' }]);
    expect(slow).toEqual(refused);
  });

  it("vetoes alike when failing closed, and the reason carries no runtime detail either", async () => {
    const reasonFor = async (url: string, timeoutMs: number) => {
      const api = client(freshTenant());
      await api.put("/v1/hooks/gate", webhook(url, { events: ["pre_spawn"], failMode: "closed", timeoutMs }));
      await register(api, "any", { script: [{ text: "x" }] });
      const res = await api.post("/v1/procs", { agent: "any", input: "x" });
      expect(res.status).toBe(403);
      return res.body.error.details;
    };
    const refused = await reasonFor("http://127.0.0.1:1/hook", 2000);
    const slow = await reasonFor(receiver("?delayMs=3000").url, 200);
    expect(refused).toEqual({ hook: "gate", reason: 'Webhook hook "gate" is unreachable.' });
    expect(slow).toEqual(refused);
  });
});
