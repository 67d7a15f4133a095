import { describe, expect, it } from "vitest";
import type { AuditEntry, Process } from "../../src/contracts";
import type { Task } from "../../src/contracts/tasks";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";
import { collect, collected, delegate, registerCopilot, TASK_TOOLS, tasksOf } from "../support/tasks";

const idleCopilot = (api: Client, name = "copilot", extra = {}) => register(api, name, { mode: "interactive", tools: [...TASK_TOOLS, "read_file", "write_file", "list_dir"], script: [{ text: "ready" }], ...extra });
const auditOf = async (api: Client): Promise<AuditEntry[]> => (await api.get("/v1/audit?limit=1000")).body.entries;

describe("delegation: the full lifecycle", () => {
  it("delegate → submitted → working → completed → collect, with the task JSON of A2A", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/work/{{input}}.txt", content: "done" } }] }, { text: "wrote {{input}}" }] });
    await registerCopilot(api, "boss", [{ toolCalls: [delegate("worker", "alpha", { budget: { tokens: 5000 }, deliveryPolicy: "deferred", metadata: { ticket: 7 } })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], {
      tools: ["write_file"],
      budget: { tokens: 100_000 },
    });
    const copilot = await spawn(api, "boss");
    const status = await waitExit(api, copilot.pid);
    expect(status.code).toBe(0);
    const result = collected(status.result);
    expect(result.satisfied).toBe(true);
    expect(result.completed).toHaveLength(1);
    expect(result.completed[0]).toMatchObject({ agent: "worker", state: "completed", result: "wrote alpha", reason: null, usage: { toolCalls: 1 } });
    expect(result.pending).toEqual([]);

    const [task] = await tasksOf(api, copilot.pid);
    expect(task).toMatchObject({
      kind: "task",
      contextId: `proc-${copilot.pid}`,
      status: { state: "completed" },
      artifacts: [{ parts: [{ kind: "text", text: "wrote alpha" }] }],
      metadata: { copilotPid: copilot.pid, workerPid: result.completed[0]!.pid, deliveryPolicy: "deferred", budget: { tokens: 5000 }, user: { ticket: 7 } },
    });
    expect((await api.get(`/v1/tasks/${task!.id}`)).body).toEqual(task);
    expect((await api.get(`/v1/tasks/${task!.id}?a2a=v1`)).body.status.state).toBe("TASK_STATE_COMPLETED");
    const worker = (await api.get(`/v1/procs/${task!.metadata.workerPid}`)).body as Process;
    expect(worker).toMatchObject({ parentPid: copilot.pid, taskId: task!.id, depth: 1, tools: ["write_file"], budget: { limit: { tokens: 5000 } } });
    expect(worker.metadata).toMatchObject({ ticket: 7, delegation: { taskId: task!.id, copilotPid: copilot.pid, deliveryPolicy: "deferred", budget: { tokens: 5000 } } });

    const audit = await auditOf(api);
    expect(audit.filter((e) => e.taskId === task!.id && e.event === "task_state").map((e) => e.data.state)).toEqual(["submitted", "working", "completed"]);
    const delegated = audit.find((e) => e.event === "delegate")!;
    expect(delegated.data).toMatchObject({ requested: { budget: { tokens: 5000 } }, granted: { tools: ["write_file"], budget: { tokens: 5000 } } });
    expect(await (await api.call("GET", "/v1/fs/work/alpha.txt")).text()).toBe("done");
  });

  it("delegates over HTTP too, and 10 concurrent delegations get 10 distinct pids", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "ok {{input}}" }] });
    await idleCopilot(api);
    const copilot = await spawn(api, "copilot");
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker", message: `job ${i}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(201));
    const pids = answers.map((a) => a.body.pid as number);
    expect(new Set(pids).size).toBe(10);
    expect(new Set(answers.map((a) => a.body.taskId)).size).toBe(10);
    const res = await api.post(`/v1/procs/${copilot.pid}/collect`, { timeoutMs: 20_000 });
    expect(res.body.completed.map((t: { result: string }) => t.result).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `ok job ${i}`).sort());
    // a retried HTTP delegation with the same key is the same task
    const once = await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker", message: "x", idempotencyKey: "k1" });
    const twice = await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker", message: "x", idempotencyKey: "k1" });
    expect(twice.body).toEqual(once.body);
  });

  it("runs a singleton worker agent once when it is delegated 5 times at once", async () => {
    const api = client(freshTenant());
    await register(api, "solo", { singleton: true, script: [{ text: "only me", delayMs: 300 }] });
    await idleCopilot(api);
    const copilot = await spawn(api, "copilot");
    const answers = await Promise.all(Array.from({ length: 5 }, () => api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "solo", message: "go" })));
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409, 409, 409]);
    expect(answers.filter((a) => a.status === 409).every((a) => a.body.error.code === "process_already_running")).toBe(true);
    expect(await tasksOf(api, copilot.pid)).toHaveLength(1);
  });

  it("answers the SPEC's errors: unknown agent, a process that may not delegate, foreign and unknown tasks", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "x" }] });
    await register(api, "plain", { mode: "interactive", script: [{ text: "x" }] });
    await idleCopilot(api);
    const copilot = await spawn(api, "copilot");
    const plain = await spawn(api, "plain");
    expect((await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "ghost", message: "x" })).body.error.code).toBe("agent_not_found");
    expect((await api.post(`/v1/procs/${plain.pid}/delegate`, { agent: "worker", message: "x" })).status).toBe(403);
    expect((await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker" })).status).toBe(400);
    expect((await api.get(`/v1/tasks/${crypto.randomUUID()}`)).body.error.code).toBe("task_not_found");
    expect((await api.get(`/v1/tasks/not-a-uuid`)).status).toBe(404);
    expect((await api.post(`/v1/tasks/${crypto.randomUUID()}/cancel`)).body.error.code).toBe("task_not_found");
    const t = await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker", message: "x" });
    const other = client(freshTenant());
    expect((await other.get(`/v1/tasks/${t.body.taskId}`)).status).toBe(404);
    expect((await other.post(`/v1/tasks/${t.body.taskId}/cancel`)).status).toBe(404);
    expect((await api.post(`/v1/procs/${copilot.pid}/collect`, { taskIds: [crypto.randomUUID()] })).body.error.code).toBe("task_not_found");
    expect((await api.get(`/v1/tasks?copilotPid=abc`)).status).toBe(400);
  });
});

describe("a worker running its own loop with tools, and a denied tool", () => {
  it("works through several tool turns; a tool outside its grant is permission_denied and audited", async () => {
    const api = client(freshTenant());
    await api.call("PUT", "/v1/fs/src/main.ts", "export const x = 1;\n", { "content-type": "text/plain" });
    await register(api, "reviewer", {
      tools: ["read_file", "write_file", "grep"],
      script: [
        { toolCalls: [{ name: "grep", arguments: { pattern: "export", path: "/src" } }] },
        { toolCalls: [{ name: "read_file", arguments: { path: "/src/main.ts" } }] },
        { toolCalls: [{ name: "write_file", arguments: { path: "/src/main.ts", content: "hacked" } }] },
        { text: "review: {{lastToolResult}}" },
      ],
    });
    await registerCopilot(api, "lead", [{ toolCalls: [delegate("reviewer", "review /src", { tools: ["read_*", "grep"] })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], {
      tools: ["read_file", "write_file", "grep"],
    });
    const copilot = await spawn(api, "lead");
    const result = collected((await waitExit(api, copilot.pid)).result);
    const done = result.completed[0]!;
    expect(done.result).toMatch(/^review: Error: permission_denied: the tool write_file is not among/);
    const worker = (await api.get(`/v1/procs/${done.pid}`)).body as Process;
    expect(worker.turnCount).toBe(3);
    expect(worker.tools).toEqual(["read_file", "grep"]);
    expect(await (await api.call("GET", "/v1/fs/src/main.ts")).text()).toBe("export const x = 1;\n");
    expect((await auditOf(api)).some((e) => e.event === "dispatch_denied" && e.pid === done.pid && e.data.tool === "write_file")).toBe(true);
  });
});

describe("inherit-and-restrict", () => {
  it("a worker trying every way to exceed its copilot's rights fails", async () => {
    const api = client(freshTenant());
    await api.call("PUT", "/v1/fs/shared/data.txt", "data", { "content-type": "text/plain" });
    await api.call("PUT", "/v1/fs/secret/key.txt", "k3y", { "content-type": "text/plain" });
    // The rogue agent asks for everything and delegates onward asking for everything again.
    await register(api, "rogue", {
      tools: ["*"],
      fs: [{ path: "/**", mode: "rw" }],
      budget: { tokens: 1_000_000 },
      limits: { maxChildren: 100, maxDepth: 10 },
      script: [
        {
          toolCalls: [
            { name: "read_file", arguments: { path: "/secret/key.txt" } },
            { name: "write_file", arguments: { path: "/shared/data.txt", content: "overwritten" } },
            { name: "read_file", arguments: { path: "/shared/../secret/key.txt" } },
            { name: "delete_file", arguments: { path: "/shared/data.txt" } },
            { name: "glob", arguments: { pattern: "/**" } },
            delegate("rogue", "escalate", { tools: ["*"], fs: [{ path: "/**", mode: "rw" }], budget: { tokens: 1_000_000 } }),
          ],
        },
        { text: "{{lastToolResult}}" },
      ],
    });
    await registerCopilot(api, "careful", [{ toolCalls: [delegate("rogue", "go", { tools: ["*"], fs: [{ path: "/**", mode: "rw" }] })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], {
      tools: ["read_file", "write_file", "delete_file", "glob"],
      fs: [{ path: "/shared/**", mode: "r" }],
      budget: { tokens: 50_000 },
      limits: { maxChildren: 5, maxDepth: 1 },
    });
    const copilot = await spawn(api, "careful");
    const st = await waitExit(api, copilot.pid);
    const answer = collected(st.result).completed[0]!;
    const worker = (await api.get(`/v1/procs/${answer.pid}`)).body as Process;
    // granted: tools ∩ copilot's, fs clipped to /shared/** read-only, limits and budget clamped
    expect(worker.tools).toEqual(["read_file", "write_file", "glob", "delete_file", ...TASK_TOOLS]);
    expect(worker.fs).toEqual([{ path: "/shared/**", mode: "r" }]);
    expect(worker.budget.limit.tokens).toBeLessThanOrEqual(50_000);
    expect(worker.budget.limit.tokens).toBeGreaterThan(40_000);
    const lines = (answer.result as string).split("\n");
    expect(lines[0]).toMatch(/^Error: permission_denied/); // read /secret
    expect(lines[1]).toMatch(/^Error: permission_denied/); // write read-only
    expect(lines[2]).toMatch(/^Error: permission_denied/); // .. trick
    expect(lines[3]).toMatch(/^Error: permission_denied/); // delete read-only
    expect(lines[4]).toBe("/shared/data.txt"); // glob sees only its scope
    expect(lines[5]).toMatch(/^Error: limit_exceeded: .*maximum depth of 1/); // no deeper than the copilot allows
    expect(await (await api.call("GET", "/v1/fs/shared/data.txt")).text()).toBe("data");
    expect((await api.get("/v1/procs")).body.processes).toHaveLength(2);
  });

  it("never widens across depths: a grandchild gets at most its parent's narrowed rights", async () => {
    const api = client(freshTenant());
    await register(api, "leaf", { tools: ["*"], fs: [{ path: "/**", mode: "rw" }], script: [{ text: "leaf" }] });
    await register(api, "middle", {
      tools: ["*"],
      fs: [{ path: "/**", mode: "rw" }],
      script: [{ toolCalls: [delegate("leaf", "x", { tools: ["*"], fs: [{ path: "/**", mode: "rw" }] })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }],
    });
    await registerCopilot(api, "top", [{ toolCalls: [delegate("middle", "x", { tools: ["delegate", "collect", "read_*"], fs: [{ path: "/a/**", mode: "r" }] })] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }], {
      tools: ["read_file", "write_file"],
      fs: [{ path: "/a/**", mode: "rw" }, { path: "/b/**", mode: "rw" }],
    });
    const top = await spawn(api, "top");
    await waitExit(api, top.pid);
    const procs = (await api.get("/v1/procs")).body.processes as Process[];
    const middle = procs.find((p) => p.agent === "middle")!;
    const leaf = procs.find((p) => p.agent === "leaf")!;
    expect(middle.tools).toEqual(["read_file", "delegate", "collect"]);
    expect(middle.fs).toEqual([{ path: "/a/**", mode: "r" }]);
    expect(leaf.tools).toEqual(["read_file", "delegate", "collect"]);
    expect(leaf.fs).toEqual([{ path: "/a/**", mode: "r" }]);
    expect(leaf.depth).toBe(2);
  });

  it("refuses delegation deeper than maxDepth with limit_exceeded", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "x" }] });
    await register(api, "copilot", { mode: "interactive", tools: TASK_TOOLS, limits: { maxDepth: 0 }, script: [{ text: "ready" }] });
    const copilot = await spawn(api, "copilot");
    const res = await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker", message: "x" });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "limit_exceeded", details: { limit: "maxDepth" } });
    expect(await tasksOf(api, copilot.pid)).toEqual([]);
  });
});

describe("checkpoint and restore of a worker", () => {
  it("checkpoints a worker mid-task and restores it as a new process that continues", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { mode: "interactive", script: [{ text: "step one" }, { text: "step two after {{input}}" }] });
    await idleCopilot(api);
    const copilot = await spawn(api, "copilot");
    const t = (await api.post(`/v1/procs/${copilot.pid}/delegate`, { agent: "worker", message: "brief" })).body;
    await until(async () => (await api.get(`/v1/procs/${t.pid}`)).body.state, (s) => s === "sleeping");
    const cp = (await api.post(`/v1/procs/${t.pid}/checkpoint`)).body.checkpointId;
    expect((await api.get(`/v1/procs/${t.pid}`)).body.state).toBe("paused");
    const restored = (await api.post("/v1/procs/restore", { checkpointId: cp })).body as Process;
    expect(restored.agent).toBe("worker");
    await until(async () => (await api.get(`/v1/procs/${restored.pid}`)).body.state, (s) => s === "sleeping");
    await api.post(`/v1/procs/${restored.pid}/messages`, { content: "go on" });
    await until(() => api.get(`/v1/procs/${restored.pid}/messages`), (r) => r.body.messages.length === 4);
    expect((await api.get(`/v1/procs/${restored.pid}/messages`)).body.messages.at(-1).content).toBe("step two after brief");
  });
});

export type { Task };
