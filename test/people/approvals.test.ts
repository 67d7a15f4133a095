import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { Approval, AuditEntry } from "../../src/contracts";
import type { KernelObject } from "../../src/objects/kernel";
import { forProcess } from "../../src/rpc/stubs";
import { client, freshTenant, readStream } from "../support/http";
import { register, spawn, until, type Client } from "../support/agents";

/**
 * Approvals, kernel side (SPEC §11): the ask rule, the approval rows and their routes, roles, tenant
 * isolation, expiry, the after-hook chain, tasks of waiting workers. Calls are put to the kernel's
 * gate directly, as a process's dispatcher does, so these tests do not depend on the agent loop.
 */
const call = (id: string, path = "/etc/hosts", name = "write_file") => ({ id, name, arguments: { path, content: "x" }, paths: [path] });
const kernelOf = (tenant: string) => forProcess.kernel(env, tenant);
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;

/** A tenant with an `ask` policy on writes below /etc and an interactive agent that answers and sleeps. */
async function setup(rules: unknown[] = [{ event: "pre_dispatch", match: { tool: "write_file", path: "/etc/**" }, action: "ask", reason: "system files need a person" }]) {
  const tenant = freshTenant("appr");
  const admin = client(tenant);
  expect((await admin.put("/v1/hooks/guard", { kind: "policy", rules })).status).toBe(200);
  await register(admin, "idle", { mode: "interactive", tools: ["write_file", "read_file", "delegate"], script: [{ text: "ready" }, { text: "ready" }, { text: "ready" }] });
  const p = await spawn(admin, "idle");
  await until(() => admin.get(`/v1/procs/${p.pid}`), (r) => r.body.state === "sleeping");
  return { tenant, admin, pid: p.pid, kernel: kernelOf(tenant) };
}

describe("the ask action", () => {
  it("is refused on any event but pre_dispatch (400, naming the rule), and out-of-range timeouts too", async () => {
    const api = client(freshTenant());
    const onSpawn = await api.put("/v1/hooks/bad", { kind: "policy", rules: [{ event: "pre_spawn", action: "ask" }] });
    expect(onSpawn.status).toBe(400);
    expect(onSpawn.body.error.code).toBe("invalid_request");
    expect(onSpawn.body.error.details[0]).toMatchObject({ path: ["rules", "0", "action"], message: expect.stringContaining("pre_dispatch") });
    for (const timeoutMs of [10, 31 * 24 * 3600 * 1000, 1.5]) {
      expect((await api.put("/v1/hooks/bad", { kind: "policy", rules: [{ event: "pre_dispatch", action: "ask", timeoutMs }] })).status).toBe(400);
    }
    expect((await api.put("/v1/hooks/bad", { kind: "policy", rules: [{ event: "pre_dispatch", action: "deny", timeoutMs: 5000 }] })).status).toBe(400);
    const ok = await api.put("/v1/hooks/good", { kind: "policy", rules: [{ event: "pre_dispatch", action: "ask", timeoutMs: 5000 }] });
    expect(ok.body).toMatchObject({ name: "good", rules: [{ event: "pre_dispatch", action: "ask", timeoutMs: 5000 }] });
  });
});

describe("approvals over HTTP", () => {
  it("a gated call opens one pending approval (idempotently); viewers read it, operators and admins decide, viewers cannot; twice is 409", async () => {
    const { tenant, admin, pid, kernel } = await setup();
    const gate = await kernel.beforeDispatch(pid, [call("c1"), call("c2", "/tmp/fine")]);
    expect(Object.keys(gate.asks)).toEqual(["c1"]);
    expect(gate.vetoes).toEqual({});
    const { approvalId, hook, reason, expiresAt } = gate.asks.c1!;
    expect({ hook, reason }).toEqual({ hook: "guard", reason: "system files need a person" });
    expect(expiresAt - Date.now()).toBeGreaterThan(23 * 3600 * 1000);
    expect((await kernel.beforeDispatch(pid, [call("c1")])).asks.c1!.approvalId).toBe(approvalId);

    const viewer = client(tenant, "viewer");
    const list = await viewer.get("/v1/approvals");
    expect(list.status).toBe(200);
    expect(list.body.approvals).toHaveLength(1);
    const approval: Approval = list.body.approvals[0];
    expect(approval).toMatchObject({ id: approvalId, pid, rootPid: pid, agent: "idle", tool: "write_file", arguments: { path: "/etc/hosts", content: "x" }, toolCallId: "c1", hook: "guard", state: "pending" });
    expect(approval.decidedAt).toBeUndefined();
    expect((await viewer.get(`/v1/approvals/${approvalId}`)).body).toEqual(approval);

    const denied = await viewer.post(`/v1/approvals/${approvalId}`, { decision: "approve" });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe("forbidden");
    const operator = client(tenant, "operator");
    const decided = await operator.post(`/v1/approvals/${approvalId}`, { decision: "approve", message: "fine once" });
    expect(decided.status).toBe(200);
    expect(decided.body).toMatchObject({ id: approvalId, state: "approved", decidedBy: "api:operator", message: "fine once" });
    const twice = await admin.post(`/v1/approvals/${approvalId}`, { decision: "reject" });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatchObject({ code: "approval_decided", details: { state: "approved" } });
    // The same call asked about again (a retried gate) answers the same, decided approval.
    expect((await kernel.beforeDispatch(pid, [call("c1")])).asks.c1!.approvalId).toBe(approvalId);
    expect((await kernel.approvalState(pid, approvalId)).state).toBe("approved");

    // An admin decides too; a rejection keeps its message.
    const other = (await kernel.beforeDispatch(pid, [call("c3")])).asks.c3!.approvalId;
    expect((await admin.post(`/v1/approvals/${other}`, { decision: "reject", message: "not today" })).body).toMatchObject({ state: "rejected", decidedBy: "api:admin", message: "not today" });

    const audit = await auditOf(admin);
    expect(audit.filter((e) => e.event === "approval_requested").map((e) => e.data.approvalId)).toEqual([approvalId, other]);
    expect(audit.filter((e) => e.event === "approval_decided").map((e) => [e.actor, e.data.decision])).toEqual([["api:operator", "approved"], ["api:admin", "rejected"]]);
  });

  it("validates decisions: bad ids are 404 approval_not_found, bad bodies 400, arguments only with approve and replace the call's", async () => {
    const { admin, pid, kernel } = await setup();
    const id = (await kernel.beforeDispatch(pid, [call("c1")])).asks.c1!.approvalId;
    for (const bad of ["nope", "00000000-0000-4000-8000-000000000000"]) {
      for (const res of [await admin.get(`/v1/approvals/${bad}`), await admin.post(`/v1/approvals/${bad}`, { decision: "approve" })]) {
        expect(res.status).toBe(404);
        expect(res.body.error.code).toBe("approval_not_found");
      }
    }
    for (const body of [{}, { decision: "maybe" }, { decision: "approve", arguments: "x" }, { decision: "approve", extra: 1 }]) {
      const res = await admin.post(`/v1/approvals/${id}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    expect((await admin.call("POST", `/v1/approvals/${id}`, "{not json")).status).toBe(400);
    expect((await admin.post(`/v1/approvals/${id}`, { decision: "reject", arguments: { path: "/x" } })).status).toBe(400);
    const approved = await admin.post(`/v1/approvals/${id}`, { decision: "approve", arguments: { path: "/etc/motd", content: "hello" } });
    expect(approved.body).toMatchObject({ state: "approved", arguments: { path: "/etc/motd", content: "hello" }, originalArguments: { path: "/etc/hosts", content: "x" } });
    expect((await auditOf(admin)).find((e) => e.event === "approval_decided")!.data).toMatchObject({ argumentsEdited: true });
  });

  it("keeps tenants apart: another tenant's approval is 404 and never listed", async () => {
    const { tenant, pid, kernel } = await setup();
    const id = (await kernel.beforeDispatch(pid, [call("c1")])).asks.c1!.approvalId;
    const stranger = client(freshTenant("other"));
    expect((await stranger.get(`/v1/approvals/${id}`)).status).toBe(404);
    expect((await stranger.post(`/v1/approvals/${id}`, { decision: "approve" })).status).toBe(404);
    expect((await stranger.get("/v1/approvals")).body.approvals).toEqual([]);
    expect((await client(tenant).get(`/v1/approvals/${id}`)).body.state).toBe("pending");
    // No token, no approvals.
    expect((await exports.default.fetch(new Request("http://kernel.test/v1/approvals"))).status).toBe(401);
  });

  it("lists in creation order, filtered and paged; a bad filter is 400", async () => {
    const { admin, pid, kernel } = await setup();
    const gate = await kernel.beforeDispatch(pid, [call("a"), call("b"), call("c")]);
    await admin.post(`/v1/approvals/${gate.asks.b!.approvalId}`, { decision: "approve" });
    const page1 = await admin.get("/v1/approvals?limit=2");
    expect(page1.body.approvals.map((a: Approval) => a.toolCallId)).toEqual(["a", "b"]);
    const page2 = await admin.get(`/v1/approvals?limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body).toMatchObject({ nextCursor: null });
    expect(page2.body.approvals.map((a: Approval) => a.toolCallId)).toEqual(["c"]);
    expect((await admin.get("/v1/approvals?state=pending")).body.approvals.map((a: Approval) => a.toolCallId)).toEqual(["a", "c"]);
    expect((await admin.get(`/v1/approvals?state=approved&pid=${pid}`)).body.approvals.map((a: Approval) => a.toolCallId)).toEqual(["b"]);
    expect((await admin.get(`/v1/approvals?pid=${pid + 1}`)).body.approvals).toEqual([]);
    for (const q of ["state=maybe", "pid=0", "rootPid=x", "limit=0", "cursor=abc", "other=1"]) expect((await admin.get(`/v1/approvals?${q}`)).status, q).toBe(400);
  });

  it("runs only the hooks after the one that asked for an approved call: a later hook may veto or ask again (a new approval)", async () => {
    const { admin, pid, kernel } = await setup([{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", reason: "first look" }]);
    await admin.put("/v1/hooks/no-etc", { kind: "policy", rules: [{ event: "pre_dispatch", match: { path: "/etc/**" }, action: "deny", reason: "never /etc" }] });
    await admin.put("/v1/hooks/second", { kind: "policy", rules: [{ event: "pre_dispatch", match: { path: "/srv/**" }, action: "ask", reason: "second look" }] });
    const first = await kernel.beforeDispatch(pid, [call("e", "/etc/x"), call("s", "/srv/x"), call("t", "/tmp/x")]);
    expect(Object.values(first.asks).map((a) => a.hook)).toEqual(["guard", "guard", "guard"]);
    const after = await kernel.beforeDispatch(pid, [call("e", "/etc/x"), call("s", "/srv/x"), call("t", "/tmp/x")], { afterHook: "guard" });
    expect(after.vetoes).toEqual({ e: { hook: "no-etc", reason: "never /etc" } });
    expect(Object.keys(after.asks)).toEqual(["s"]);
    expect(after.asks.s).toMatchObject({ hook: "second", reason: "second look" });
    expect(after.asks.s!.approvalId).not.toBe(first.asks.s!.approvalId);
    expect((await admin.get(`/v1/approvals?pid=${pid}&state=pending`)).body.approvals).toHaveLength(4);
    // A probe (an HTTP dispatch, which cannot wait) stores nothing.
    const probe = await kernel.beforeDispatch(pid, [call("p")], { probe: true });
    expect(probe.asks.p).toMatchObject({ approvalId: "", hook: "guard" });
    expect((await admin.get(`/v1/approvals?pid=${pid}`)).body.approvals).toHaveLength(4);
  });

  it("expires an undecided approval at its rule's timeoutMs as a rejection by the kernel: read, listed and audited so; deciding it then is 409", async () => {
    const { admin, pid, kernel } = await setup([{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", timeoutMs: 1000 }]);
    const { approvalId, expiresAt } = (await kernel.beforeDispatch(pid, [call("c1")])).asks.c1!;
    expect(expiresAt - Date.now()).toBeLessThanOrEqual(1000);
    await new Promise((r) => setTimeout(r, 1500));
    const expired = (await admin.get(`/v1/approvals/${approvalId}`)).body;
    expect(expired).toMatchObject({ state: "expired", decidedBy: "kernel", message: expect.stringContaining("no decision") });
    expect((await admin.post(`/v1/approvals/${approvalId}`, { decision: "approve" })).body.error.code).toBe("approval_decided");
    expect((await auditOf(admin)).filter((e) => e.event === "approval_decided").map((e) => [e.actor, e.data.decision])).toEqual([["kernel", "expired"]]);
    expect((await kernel.approvalState(pid, approvalId)).state).toBe("expired");
  });

  it("the kernel's alarm expires a due approval without any reader", async () => {
    const { tenant, pid, kernel } = await setup([{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", timeoutMs: 1000 }]);
    const { approvalId } = (await kernel.beforeDispatch(pid, [call("c1")])).asks.c1!;
    const stub = env.KERNEL.getByName(tenant);
    await until(
      () => runInDurableObject(stub, (k: KernelObject) => (k as unknown as { k: { people: { approvals: { get(id: string): { state: string } | null } } } }).k.people.approvals.get(approvalId)!.state),
      (state) => state === "expired",
      8000,
    );
  });
});

describe("approvals of workers", () => {
  it("carry their tree's rootPid; the worker's task is input-required while one waits and working once decided; the tenant feed shows them", async () => {
    const { admin, pid: copilot, kernel } = await setup();
    await register(admin, "helper", { mode: "interactive", tools: ["write_file"], script: [{ text: "ready" }] });
    const d = await admin.post(`/v1/procs/${copilot}/delegate`, { agent: "helper", message: "help" });
    expect(d.status).toBe(201);
    const { taskId, pid: worker } = d.body;
    await until(() => admin.get(`/v1/tasks/${taskId}`), (r) => r.body.status.state === "working");
    const { approvalId } = (await kernel.beforeDispatch(worker, [call("w1")])).asks.w1!;
    const task = (await admin.get(`/v1/tasks/${taskId}`)).body;
    expect(task.status).toMatchObject({ state: "input-required", message: expect.stringContaining(approvalId) });
    expect((await admin.get(`/v1/tasks/${taskId}?a2a=v1`)).body.status.state).toBe("TASK_STATE_INPUT_REQUIRED");
    const tree = (await admin.get(`/v1/approvals?rootPid=${copilot}`)).body.approvals;
    expect(tree.map((a: Approval) => [a.pid, a.rootPid])).toEqual([[worker, copilot]]);
    // A reply cannot answer an approval.
    const reply = await admin.post(`/v1/tasks/${taskId}/reply`, { message: "yes" });
    expect(reply.status).toBe(409);
    expect(reply.body.error).toMatchObject({ code: "task_not_waiting", details: { approvalId } });
    await admin.post(`/v1/approvals/${approvalId}`, { decision: "approve" });
    expect((await admin.get(`/v1/tasks/${taskId}`)).body.status.state).toBe("working");

    const feed = await readStream(await admin.call("GET", "/v1/events"), (text) => text.includes("event: approval") && text.includes('"state":"approved"'), 5000);
    expect(feed).toContain(`"id":"${approvalId}"`);
  });

  it("kill expires a process's pending approvals (killed) and cancel its worker's", async () => {
    const { admin, pid: copilot, kernel } = await setup();
    await register(admin, "helper", { mode: "interactive", tools: ["write_file"], script: [{ text: "ready" }] });
    const { taskId, pid: worker } = (await admin.post(`/v1/procs/${copilot}/delegate`, { agent: "helper", message: "help" })).body;
    await until(() => admin.get(`/v1/tasks/${taskId}`), (r) => r.body.status.state === "working");
    const own = (await kernel.beforeDispatch(copilot, [call("c")])).asks.c!.approvalId;
    const workers = (await kernel.beforeDispatch(worker, [call("w")])).asks.w!.approvalId;
    expect((await admin.post(`/v1/tasks/${taskId}/cancel`)).body.state).toBe("canceled");
    expect((await admin.get(`/v1/approvals/${workers}`)).body).toMatchObject({ state: "expired", decidedBy: "kernel", message: "killed: delegation cancelled" });
    expect((await admin.get(`/v1/approvals/${own}`)).body.state).toBe("pending");
    await admin.post(`/v1/procs/${copilot}/kill`, {});
    expect((await admin.get(`/v1/approvals/${own}`)).body).toMatchObject({ state: "expired", message: "killed: killed by SIGTERM" });
    // A process that has exited gets its asked calls vetoed: nothing runs undecided.
    const late = await kernel.beforeDispatch(copilot, [call("late")]);
    expect(late.asks).toEqual({});
    expect(late.vetoes.late).toMatchObject({ hook: "guard" });
  });
});
