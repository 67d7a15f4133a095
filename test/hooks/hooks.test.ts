import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";

const receiver = (query = "") => {
  const id = crypto.randomUUID();
  return { id, url: `${env.HOOK_SERVER_URL}/hook/${id}${query}`, log: async () => (await (await fetch(`${env.HOOK_SERVER_URL}/log/${id}`)).json()) as { body: string; headers: Record<string, string> }[] };
};
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;

describe("the hook chain", () => {
  it("lists the built-in audit hook first; it cannot be removed or replaced; only admins manage hooks", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    expect((await api.get("/v1/hooks")).body.hooks).toEqual([{ name: "audit", kind: "audit", position: 0 }]);
    expect((await api.del("/v1/hooks/audit")).status).toBe(409);
    expect((await api.put("/v1/hooks/audit", { kind: "policy", rules: [] })).status).toBe(409);
    const hook = receiver();
    const put = await api.put("/v1/hooks/notify", { kind: "webhook", url: hook.url, events: ["post_spawn"], secret: "hunter2" });
    expect(put.body).toMatchObject({ name: "notify", kind: "webhook", position: 1, timeoutMs: 2000, failMode: "open" });
    await api.put("/v1/hooks/rules", { kind: "policy", rules: [] });
    const listed = await api.get("/v1/hooks");
    expect(listed.body.hooks.map((h: { name: string }) => h.name)).toEqual(["audit", "notify", "rules"]);
    expect(JSON.stringify(listed.body)).not.toContain("hunter2");
    expect((await client(tenant, "operator").get("/v1/hooks")).status).toBe(403);
    expect((await client(tenant, "operator").put("/v1/hooks/x", { kind: "policy", rules: [] })).status).toBe(403);
    expect((await api.del("/v1/hooks/notify")).status).toBe(200);
    expect((await api.del("/v1/hooks/notify")).status).toBe(404);
    const changes = (await auditOf(api)).filter((e) => e.event === "hook_changed").map((e) => e.data.change);
    expect(changes).toEqual(["added", "added", "removed"]);
  });

  it("vetoes a spawn by policy with 403 spawn_vetoed naming the hook; nothing is written", async () => {
    const api = client(freshTenant());
    await register(api, "miner", { script: [{ text: "mined" }] });
    await register(api, "helper", { script: [{ text: "helped" }] });
    await api.put("/v1/hooks/no-mining", {
      kind: "policy",
      rules: [
        { event: "pre_spawn", match: { agent: "help*" }, action: "allow" },
        { event: "pre_spawn", match: { agent: "*" }, action: "deny", reason: "mining is not allowed here" },
      ],
    });
    const vetoed = await api.post("/v1/procs", { agent: "miner", input: "x" });
    expect(vetoed.status).toBe(403);
    expect(vetoed.body.error).toMatchObject({ code: "spawn_vetoed", details: { hook: "no-mining", reason: "mining is not allowed here" } });
    expect((await api.get("/v1/procs")).body.processes).toEqual([]);
    expect((await api.post("/v1/procs", { agent: "helper", input: "x" })).status).toBe(201);
    expect((await auditOf(api)).find((e) => e.event === "spawn_vetoed")?.data).toMatchObject({ agent: "miner", hook: "no-mining" });
  });

  it("vetoes a spawn by webhook (allow:false or a non-2xx answer) and signs every call", async () => {
    const api = client(freshTenant());
    await register(api, "any", { script: [{ text: "x" }] });
    const no = receiver("?allow=false&reason=quota%20reached");
    await api.put("/v1/hooks/quota", { kind: "webhook", url: no.url, events: ["pre_spawn"], secret: "s3cret" });
    const vetoed = await api.post("/v1/procs", { agent: "any", input: "x" });
    expect(vetoed.body.error).toMatchObject({ code: "spawn_vetoed", details: { hook: "quota", reason: "quota reached" } });
    const [call] = await no.log();
    const expected = await hmacHex("s3cret", call!.body);
    expect(call!.headers["x-kernel-signature"]).toBe(`sha256=${expected}`);
    expect(JSON.parse(call!.body)).toMatchObject({ event: "pre_spawn", agent: "any" });

    const broken = receiver("?status=503");
    await api.put("/v1/hooks/quota", { kind: "webhook", url: broken.url, events: ["pre_spawn"], secret: "s3cret" });
    expect((await api.post("/v1/procs", { agent: "any", input: "x" })).status).toBe(403);
  });

  it("turns a failing post_spawn webhook into a degraded warning, and the spawn still succeeds", async () => {
    const api = client(freshTenant());
    await register(api, "any", { script: [{ text: "x" }] });
    const failing = receiver("?status=500");
    await api.put("/v1/hooks/flaky", { kind: "webhook", url: failing.url, events: ["post_spawn"], secret: "k" });
    const res = await api.post("/v1/procs", { agent: "any", input: "x" });
    expect(res.status).toBe(201);
    expect(res.body.warnings).toEqual([{ severity: "degraded", component: "flaky", message: expect.stringContaining("500") }]);
    expect((await auditOf(api)).find((e) => e.event === "hook_warning")).toMatchObject({ pid: res.body.pid, data: { hook: "flaky", hookEvent: "post_spawn" } });
    expect((await api.get(`/v1/procs/${res.body.pid}/wait?timeoutMs=10000`)).body.warnings).toEqual(res.body.warnings);
    expect(JSON.stringify(res.body)).not.toContain('"k"');
  });

  it("vetoes a tool call by pre_dispatch policy: an error result, an audit entry, nothing written", async () => {
    const api = client(freshTenant());
    await register(api, "vandal", {
      script: [
        { toolCalls: [{ name: "write_file", arguments: { path: "/etc/passwd", content: "pwned" } }, { name: "write_file", arguments: { path: "/tmp/ok", content: "fine" } }] },
        { text: "{{lastToolResult}}" },
      ],
    });
    await api.put("/v1/hooks/guard", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_*", path: "/etc/**" }, action: "deny", reason: "system files are read-only" }] });
    const p = await spawn(api, "vandal");
    const status = await waitExit(api, p.pid);
    expect(status.result).toContain("Error: vetoed by hook guard: system files are read-only");
    expect(status.result).toContain("wrote 4 bytes to /tmp/ok");
    expect((await api.call("GET", "/v1/fs/etc/passwd")).status).toBe(404);
    expect((await auditOf(api)).find((e) => e.event === "dispatch_vetoed")).toMatchObject({ pid: p.pid, data: { tool: "write_file", paths: ["/etc/passwd"], hook: "guard" } });
  });

  it("records fs-scope and tool denials as permission_denied results and audit entries, writing nothing", async () => {
    const api = client(freshTenant());
    await api.call("PUT", "/v1/fs/data/report.txt", "numbers", { "content-type": "text/plain" });
    await register(api, "reader", {
      tools: ["read_file", "write_file"],
      fs: [{ path: "/data/**", mode: "r" }],
      script: [
        {
          toolCalls: [
            { name: "read_file", arguments: { path: "/data/report.txt" } },
            { name: "write_file", arguments: { path: "/data/report.txt", content: "cooked" } },
            { name: "read_file", arguments: { path: "/data/../secrets.txt" } },
            { name: "delete_file", arguments: { path: "/data/report.txt" } },
          ],
        },
        { text: "{{lastToolResult}}" },
      ],
    });
    const p = await spawn(api, "reader");
    const lines = ((await waitExit(api, p.pid)).result as string).split("\n");
    expect(lines[0]).toBe("numbers");
    expect(lines.slice(1).every((l) => l.startsWith("Error: permission_denied"))).toBe(true);
    expect(await (await api.call("GET", "/v1/fs/data/report.txt")).text()).toBe("numbers");
    const denied = (await auditOf(api)).filter((e) => e.event === "dispatch_denied").map((e) => e.data.tool);
    expect(denied.sort()).toEqual(["delete_file", "read_file", "write_file"]);
  });

  it("fires post_terminate exactly once for every spawned process on every exit path", async () => {
    const api = client(freshTenant());
    const hook = receiver();
    await api.put("/v1/hooks/reaper", { kind: "webhook", url: hook.url, events: ["post_terminate"], secret: "k" });
    const list = { toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] };
    await register(api, "ok", { script: [{ text: "done" }] });
    await register(api, "fails", { script: [] });
    await register(api, "loops", { maxTurns: 1, script: [list, list, list] });
    await register(api, "spends", { budget: { toolCalls: 1 }, script: [list, { text: "last" }] });
    await register(api, "idle", { mode: "interactive", script: [{ text: "waiting" }] });
    const pids: Record<string, number> = {};
    for (const agent of ["ok", "fails", "loops", "spends"]) pids[agent] = (await spawn(api, agent)).pid;
    for (const agent of ["ok", "fails", "loops", "spends"]) await waitExit(api, pids[agent]!);
    const killed = await spawn(api, "idle");
    const child = await spawn(api, "idle", "c", { parentPid: killed.pid });
    await api.post(`/v1/procs/${killed.pid}/kill`, { signal: "SIGKILL" });
    await api.post(`/v1/procs/${killed.pid}/kill`); // a second kill must not fire again
    const calls = await until(hook.log, (log) => log.length >= 6);
    await new Promise((r) => setTimeout(r, 300));
    const seen = (await hook.log()).map((c) => JSON.parse(c.body) as { pid: number; exit: { code: number } });
    const byPid = new Map<number, number[]>();
    for (const s of seen) byPid.set(s.pid, [...(byPid.get(s.pid) ?? []), s.exit.code]);
    expect(Object.fromEntries(byPid)).toEqual({
      [pids.ok!]: [0],
      [pids.fails!]: [1],
      [pids.loops!]: [2],
      [pids.spends!]: [3],
      [killed.pid]: [-9],
      [child.pid]: [-9],
    });
    expect(calls.length).toBeGreaterThanOrEqual(6);
    const terminates = (await auditOf(api)).filter((e) => e.event === "terminate").map((e) => e.pid);
    expect(terminates.sort()).toEqual(Object.keys(Object.fromEntries(byPid)).map(Number).sort());
  });
});

describe("the audit log", () => {
  it("pages by afterSeq and limit, verifies, and detects a tampered entry", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "a", { script: [{ text: "x" }] });
    await register(api, "b", { script: [{ text: "x" }] });
    const p = await spawn(api, "a");
    await waitExit(api, p.pid);
    const all = await auditOf(api);
    expect(all.map((e) => e.event)).toEqual(["agent_registered", "agent_registered", "spawn", "terminate", "reap"]);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(all[0]!.prevHash).toBe("0".repeat(64));
    for (let i = 1; i < all.length; i++) expect(all[i]!.prevHash).toBe(all[i - 1]!.hash);
    expect(all[0]!.actor).toBe("api:admin");
    expect(all[3]!.actor).toBe(`process:${p.pid}`);
    const page = await api.get("/v1/audit?afterSeq=2&limit=2");
    expect(page.body.entries.map((e: AuditEntry) => e.seq)).toEqual([3, 4]);
    expect((await api.get("/v1/audit?limit=0")).status).toBe(400);

    expect((await api.get("/v1/audit/verify")).body).toEqual({ ok: true, entries: 5, head: all[4]!.hash });
    await runInDurableObject(env.KERNEL.getByName(tenant), (_instance, state) => {
      state.storage.sql.exec("UPDATE audit SET data = ? WHERE seq = 3", JSON.stringify({ agent: "someone-else" }));
    });
    const broken = await api.get("/v1/audit/verify");
    expect(broken.body).toMatchObject({ ok: false, brokenAt: 3 });
  });
});

async function hmacHex(secret: string, body: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return [...sig].map((b) => b.toString(16).padStart(2, "0")).join("");
}
