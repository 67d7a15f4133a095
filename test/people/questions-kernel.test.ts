import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEntry } from "../../src/contracts";
import { forProcess } from "../../src/rpc/stubs";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, type Client } from "../support/agents";

/**
 * Questions, kernel side (SPEC §11): what `request_input` records for a worker (its task) and for a
 * top-level process (`pendingInput`), and the answers: `POST /v1/tasks/:id/reply`, the copilot's
 * `replyTask`, a message's `inputProvided`. The kernel is called as a process calls it, so these
 * tests do not depend on the agent loop (test/people/questions.test.ts drives the loop).
 */
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;

async function setup() {
  const tenant = freshTenant("ask");
  const admin = client(tenant);
  await register(admin, "lead", { mode: "interactive", tools: ["delegate"], script: [{ text: "ready" }] });
  await register(admin, "helper", { mode: "interactive", tools: ["read_file"], script: [{ text: "ready" }] });
  const copilot = (await spawn(admin, "lead")).pid;
  const { taskId, pid: worker } = (await admin.post(`/v1/procs/${copilot}/delegate`, { agent: "helper", message: "help", deliveryPolicy: "on_demand" })).body;
  await until(() => admin.get(`/v1/tasks/${taskId}`), (r) => r.body.status.state === "working");
  return { tenant, admin, copilot, worker, taskId, kernel: forProcess.kernel(env, tenant) };
}

describe("a worker's question (kernel)", () => {
  it("makes its task input-required with the question as status message, once per call id; audited", async () => {
    const { admin, worker, taskId, kernel } = await setup();
    expect(await kernel.requestInput(worker, "q1", "Which city?")).toEqual({ kind: "task", taskId });
    expect(await kernel.requestInput(worker, "q1", "Which city?")).toEqual({ kind: "task", taskId });
    const task = (await admin.get(`/v1/tasks/${taskId}`)).body;
    expect(task.status).toMatchObject({ state: "input-required", message: "Which city?" });
    expect((await admin.get(`/v1/procs/${worker}`)).body.pendingInput).toBeNull();
    const asked = (await auditOf(admin)).filter((e) => e.event === "input_requested");
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ actor: `process:${worker}`, pid: worker, taskId, data: { toolCallId: "q1", question: "Which city?" } });
  });

  it("is answered by POST /v1/tasks/:id/reply (operator+, viewer 403): working again; a second reply is 409 task_not_waiting", async () => {
    const { tenant, admin, worker, taskId, kernel } = await setup();
    const early = await admin.post(`/v1/tasks/${taskId}/reply`, { message: "too early" });
    expect(early.status).toBe(409);
    expect(early.body.error).toMatchObject({ code: "task_not_waiting", message: expect.stringContaining("not waiting") });
    await kernel.requestInput(worker, "q1", "Which city?");
    expect((await client(tenant, "viewer").post(`/v1/tasks/${taskId}/reply`, { message: "Paris" })).status).toBe(403);
    for (const body of [{}, { message: "" }, { message: 3 }, { message: "x", extra: true }]) {
      const res = await admin.post(`/v1/tasks/${taskId}/reply`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    const replied = await client(tenant, "operator").post(`/v1/tasks/${taskId}/reply`, { message: "Paris" });
    expect(replied.status).toBe(200);
    expect(replied.body).toEqual({ taskId, state: "working" });
    expect((await admin.get(`/v1/tasks/${taskId}`)).body.status.state).toBe("working");
    const again = await admin.post(`/v1/tasks/${taskId}/reply`, { message: "Lyon" });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("task_not_waiting");
    expect((await auditOf(admin)).filter((e) => e.event === "input_provided").map((e) => [e.actor, e.taskId, e.data.answer])).toEqual([["api:operator", taskId, "Paris"]]);
  });

  it("is answered by its own copilot's replyTask; another process's reply is 404 like an unknown task", async () => {
    const { admin, copilot, worker, taskId, kernel } = await setup();
    await kernel.requestInput(worker, "q1", "Which city?");
    const stranger = (await spawn(admin, "lead")).pid;
    const refused = await kernel.replyTask(taskId, "Rome", { copilotPid: stranger, actor: `process:${stranger}` });
    expect(refused).toMatchObject({ ok: false, error: { status: 404, code: "task_not_found" } });
    const ok = await kernel.replyTask(taskId, "Rome", { copilotPid: copilot, actor: `process:${copilot}` });
    expect(ok).toEqual({ ok: true, value: { taskId, state: "working" } });
    expect((await auditOf(admin)).find((e) => e.event === "input_provided")).toMatchObject({ actor: `process:${copilot}`, data: { toolCallId: "q1", answer: "Rome" } });
  });

  it("answers 404 for unknown, malformed or another tenant's task ids, and 409 once the task has ended", async () => {
    const { admin, worker, taskId, kernel } = await setup();
    for (const id of ["nope", "00000000-0000-4000-8000-000000000000"]) {
      const res = await admin.post(`/v1/tasks/${id}/reply`, { message: "x" });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("task_not_found");
    }
    await kernel.requestInput(worker, "q1", "Which city?");
    expect((await client(freshTenant()).post(`/v1/tasks/${taskId}/reply`, { message: "x" })).status).toBe(404);
    await admin.post(`/v1/tasks/${taskId}/cancel`);
    const ended = await admin.post(`/v1/tasks/${taskId}/reply`, { message: "x" });
    expect(ended.status).toBe(409);
    expect(ended.body.error).toMatchObject({ code: "task_not_waiting", details: { state: "canceled" } });
  });
});

describe("a top-level process's question (kernel)", () => {
  it("is pendingInput on the process JSON until inputProvided, audited both ways, and cleared when it exits", async () => {
    const { admin, copilot, kernel } = await setup();
    expect((await admin.get(`/v1/procs/${copilot}`)).body.pendingInput).toBeNull();
    expect(await kernel.requestInput(copilot, "q9", "Your name?")).toEqual({ kind: "person" });
    expect((await admin.get(`/v1/procs/${copilot}`)).body.pendingInput).toEqual({ question: "Your name?", toolCallId: "q9" });
    expect((await admin.get("/v1/procs")).body.processes.find((p: { pid: number }) => p.pid === copilot).pendingInput).toEqual({ question: "Your name?", toolCallId: "q9" });
    await kernel.inputProvided(copilot, "q9", "api:operator", "Ada");
    await kernel.inputProvided(copilot, "q9", "api:operator", "Ada");
    expect((await admin.get(`/v1/procs/${copilot}`)).body.pendingInput).toBeNull();
    const audit = await auditOf(admin);
    expect(audit.filter((e) => e.event === "input_requested" && e.pid === copilot).map((e) => e.data)).toEqual([{ toolCallId: "q9", question: "Your name?", askedOf: "person" }]);
    expect(audit.filter((e) => e.event === "input_provided").map((e) => [e.actor, e.data])).toEqual([["api:operator", { toolCallId: "q9", answer: "Ada" }]]);
    await kernel.requestInput(copilot, "q10", "Again?");
    await admin.post(`/v1/procs/${copilot}/kill`, {});
    expect((await admin.get(`/v1/procs/${copilot}`)).body.pendingInput).toBeNull();
  });
});
