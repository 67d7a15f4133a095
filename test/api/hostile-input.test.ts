import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { signJwt } from "../../src/lib/jwt";
import { client, freshTenant, TEST_SECRET } from "../support/http";
import { register, spawn } from "../support/agents";

const raw = (path: string, init: RequestInit = {}) => exports.default.fetch(new Request(`http://kernel.test${path}`, init));
const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

describe("auth", () => {
  it("serves /healthz without a token", async () => {
    const res = await raw("/healthz");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });

  it.each([
    ["no header", undefined],
    ["not bearer", "Basic abc"],
    ["garbage", "Bearer not-a-token"],
    ["wrong secret", signJwt({ sub: "acme", role: "admin" }, "another-secret")],
    ["expired", signJwt({ sub: "acme", role: "admin", exp: Math.floor(Date.now() / 1000) - 10 }, TEST_SECRET)],
    ["bad tenant", signJwt({ sub: "../acme", role: "admin" }, TEST_SECRET)],
    ["uppercase tenant", signJwt({ sub: "ACME", role: "admin" }, TEST_SECRET)],
    ["unknown role", signJwt({ sub: "acme", role: "root" }, TEST_SECRET)],
    ["no sub", signJwt({ role: "admin" }, TEST_SECRET)],
    ["alg none", Promise.resolve(`${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "acme", role: "admin" })}.`)],
    ["claims array", signJwt([] as unknown as Record<string, unknown>, TEST_SECRET)],
  ])("answers 401 unauthorized for %s", async (_, token) => {
    const t = await token;
    const header: Record<string, string> = t === undefined ? {} : { authorization: t.startsWith("B") ? t : `Bearer ${t}` };
    const res = await raw("/v1/procs", { headers: header });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
  });

  it("lets a viewer read but not write, and an operator not administer", async () => {
    const tenant = freshTenant();
    const admin = client(tenant, "admin");
    const viewer = client(tenant, "viewer");
    const operator = client(tenant, "operator");
    await register(admin, "idle", { mode: "interactive", script: [{ text: "hi" }] });
    expect((await viewer.get("/v1/procs")).status).toBe(200);
    expect((await viewer.get("/v1/agents")).status).toBe(200);
    expect((await viewer.get("/v1/audit")).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", "/v1/procs", { agent: "idle", input: "x" }],
      ["PUT", "/v1/fs/a.txt", "x"],
      ["DELETE", "/v1/fs/a.txt", undefined],
      ["PUT", "/v1/agents/x", { model: "scripted", script: [] }],
    ] as const) {
      const res = await viewer.json(method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error.code).toBe("forbidden");
    }
    expect((await operator.post("/v1/procs", { agent: "idle", input: "x" })).status).toBe(201);
    expect((await operator.put("/v1/agents/x", { model: "scripted", script: [] })).status).toBe(403);
    expect((await operator.del("/v1/agents/idle")).status).toBe(403);
  });
});

describe("malformed and hostile input", () => {
  it("rejects bad JSON, unknown keys and wrong types with the SPEC's 400 shapes", async () => {
    const api = client(freshTenant());
    await register(api, "idle", { mode: "interactive", script: [{ text: "hi" }] });
    const badJson = await api.json("POST", "/v1/procs", "{not json");
    expect(badJson).toEqual({ status: 400, body: { error: { code: "invalid_json", message: expect.any(String) } } });
    const unknownKey = await api.post("/v1/procs", { agent: "idle", input: "x", sudo: true });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body.error.code).toBe("invalid_request");
    expect(unknownKey.body.error.details).toEqual([expect.objectContaining({ path: [], code: "unrecognized_keys" })]);
    const wrongType = await api.post("/v1/procs", { agent: "idle", input: 42 });
    expect(wrongType.body.error.details).toEqual([expect.objectContaining({ path: ["input"] })]);
    const badSpec = await api.put("/v1/agents/bad", { model: "scripted", script: [{ text: "x", toolCalls: [] }], maxTurns: 0 });
    expect(badSpec.status).toBe(400);
    expect(badSpec.body.error.details.map((d: { path: string[] }) => d.path.join("."))).toEqual(expect.arrayContaining(["maxTurns"]));
    const unknownSpecKey = await api.put("/v1/agents/bad", { model: "scripted", script: [], rootAccess: true });
    expect(unknownSpecKey.status).toBe(400);
    const badModel = await api.put("/v1/agents/bad", { model: "gpt", script: [] });
    expect(badModel.body.error.details[0].path).toEqual(["model"]);
    const noScript = await api.put("/v1/agents/bad", { model: "scripted" });
    expect(noScript).toMatchObject({ status: 422, body: { error: { code: "script_required" } } });
    expect((await api.put("/v1/agents/Bad Name", { model: "scripted", script: [] })).status).toBe(400);
    expect((await api.json("PUT", "/v1/agents/x", "[]")).status).toBe(400);
    expect((await api.json("PUT", "/v1/agents/x", "null")).status).toBe(400);
    expect((await api.post("/v1/procs/1/kill", { signal: "SIGHUP" })).status).toBe(400);
    expect((await api.get("/v1/procs/1/wait?timeoutMs=60001")).status).toBe(400);
    expect((await api.get("/v1/procs/1/wait?timeoutMs=soon")).status).toBe(400);
    expect((await api.post("/v1/procs/restore", { checkpointId: "../../etc" })).status).toBe(400);
  });

  it("answers 404 for unknown agents, foreign or impossible pids, and unknown routes", async () => {
    const api = client(freshTenant());
    expect((await api.post("/v1/procs", { agent: "ghost", input: "x" })).body.error.code).toBe("agent_not_found");
    for (const pid of ["999", "0", "-1", "abc", "1.5", "99999999999999999999", "%00"]) {
      const res = await api.get(`/v1/procs/${pid}`);
      expect(res.status, pid).toBe(404);
      expect(res.body.error.code).toBe("process_not_found");
    }
    expect((await api.get("/v1/nothing-here")).body).toEqual({ error: { code: "not_found", message: "No such route." } });
    expect((await api.del("/v1/agents/ghost")).body.error.code).toBe("agent_not_found");
  });

  it("answers 413 for bodies over 1 MiB, declared or streamed, and stores nothing", async () => {
    const api = client(freshTenant());
    const big = "x".repeat(1024 * 1024 + 1);
    const declared = await api.json("POST", "/v1/procs", JSON.stringify({ agent: "a", input: big }));
    expect(declared).toEqual({ status: 413, body: { error: { code: "payload_too_large", message: expect.any(String) } } });
    const tenMb = await api.call("PUT", "/v1/fs/huge.txt", "y".repeat(10 * 1024 * 1024), { "content-type": "text/plain" });
    expect(tenMb.status).toBe(413);
    // a chunked body with no content-length is counted as it streams
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 12; i++) c.enqueue(new TextEncoder().encode("z".repeat(100_000)));
        c.close();
      },
    });
    const streamer = freshTenant("streamer");
    const res = await exports.default.fetch(
      new Request("http://kernel.test/v1/fs/streamed.txt", { method: "PUT", body: stream, headers: { authorization: `Bearer ${await signJwt({ sub: streamer, role: "admin", exp: Math.floor(Date.now() / 1000) + 3600 }, TEST_SECRET)}` }, duplex: "half" } as RequestInit),
    );
    expect(res.status).toBe(413);
    expect((await api.get("/v1/fs?glob=/**")).body).toEqual([]);
    expect((await client(streamer).get("/v1/fs?glob=/**")).body).toEqual([]);
  });

  it("never answers 500 to garbage on any route", async () => {
    const api = client(freshTenant());
    await register(api, "idle", { mode: "interactive", script: [{ text: "hi" }] });
    const p = await spawn(api, "idle");
    const garbage = ["", "{", "[]", "null", "0", '"str"', '{"__proto__":{"admin":true}}', '{"a":' + "[".repeat(5000) + "]".repeat(5000) + "}", "\u0000\uffff", JSON.stringify({ tool: "x".repeat(500), arguments: [] })];
    const routes = [
      ["POST", "/v1/procs"],
      ["POST", `/v1/procs/${p.pid}/kill`],
      ["POST", `/v1/procs/${p.pid}/messages`],
      ["POST", `/v1/procs/${p.pid}/dispatch`],
      ["POST", "/v1/procs/restore"],
      ["PUT", "/v1/agents/fuzz"],
      ["PUT", "/v1/hooks/fuzz"],
    ] as const;
    for (const [method, path] of routes) {
      for (const body of garbage) {
        const res = await api.call(method, path, body);
        expect(res.status, `${method} ${path} ${body.slice(0, 20)}`).toBeLessThan(500);
        const json = (await res.json()) as { error?: { code: string } };
        if (res.status >= 400) expect(json.error?.code).toMatch(/^[a-z_]+$/);
      }
    }
  });
});
