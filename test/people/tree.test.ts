/**
 * The tree of SPEC §11's "done when": a copilot with three workers, where one needs an approval, one
 * asks a question and one simply finishes. An operator approves over HTTP, the copilot answers with
 * reply_task, and its collects gather all three, each once, with the right results.
 */
import { describe, expect, it } from "vitest";
import type { CollectResult } from "../../src/contracts/tasks";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit } from "../support/agents";
import { collect, delegate, TASK_TOOLS, tasksOf } from "../support/tasks";
import { approvalsOf, eventsOf, toolMessages } from "../support/people";

describe("a copilot with three workers: an approval, a question, a plain finish", () => {
  it("the operator approves, the copilot replies, collect gathers all three correctly", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    const operator = client(tenant, "operator");
    await api.put("/v1/hooks/gate", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", reason: "writes need a person" }] });
    await register(api, "builder", { tools: ["write_file"], script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/build.txt", content: "built" } }] }, { text: "built: {{lastToolResult}}" }] });
    await register(api, "asker", { tools: ["request_input"], script: [{ toolCalls: [{ name: "request_input", arguments: { question: "What is the answer?" } }] }, { text: "the answer is {{lastToolResult}}" }] });
    await register(api, "finisher", { script: [{ text: "finished" }] });
    await register(api, "copilot", {
      tools: [...TASK_TOOLS, "reply_task", "write_file", "request_input"],
      script: [
        { toolCalls: [delegate("builder", "build it"), delegate("asker", "ask it"), delegate("finisher", "finish it")] },
        { toolCalls: [collect({ timeoutMs: 120_000 })] },
        { toolCalls: [{ name: "reply_task", arguments: { taskId: "{{lastToolResult.inputRequired.0.taskId}}", message: "42" } }] },
        { toolCalls: [collect({ timeoutMs: 120_000 })] },
        { text: "{{lastToolResult}}" },
      ],
    });
    const copilot = await spawn(api, "copilot");

    // The builder's write waits for a person; it is listed under the tree's root.
    const [approval] = await until(() => approvalsOf(api, `rootPid=${copilot.pid}&state=pending`), (l) => l.length === 1);
    const tasks = await until(() => tasksOf(api, copilot.pid), (t) => t.length === 3);
    const byAgent = Object.fromEntries(tasks.map((t) => [t.metadata.agent, t]));
    expect(approval).toMatchObject({ pid: byAgent.builder!.metadata.workerPid, rootPid: copilot.pid, tool: "write_file" });

    // The copilot's first collect came back for the question; it replied with reply_task.
    await until(() => toolMessages(api, copilot.pid), (m) => m.some((x) => x.name === "reply_task"));
    const results = await toolMessages(api, copilot.pid);
    const first = JSON.parse(results.find((m) => m.name === "collect")!.content) as CollectResult;
    expect(first.satisfied).toBe(false);
    expect(first.inputRequired).toEqual([{ taskId: byAgent.asker!.id, pid: byAgent.asker!.metadata.workerPid, question: "What is the answer?" }]);
    expect(JSON.parse(results.find((m) => m.name === "reply_task")!.content)).toEqual({ taskId: byAgent.asker!.id, state: "working" });
    // The builder still waits: nothing the copilot did decided its approval.
    expect((await api.get(`/v1/approvals/${approval!.id}`)).body.state).toBe("pending");
    expect((await api.get(`/v1/tasks/${byAgent.builder!.id}`)).body.status.state).toBe("input-required");
    expect((await api.call("GET", "/v1/fs/build.txt")).status).toBe(404);

    // The operator approves over HTTP.
    expect((await operator.post(`/v1/approvals/${approval!.id}`, { decision: "approve", message: "go ahead" })).status).toBe(200);
    const exit = await waitExit(api, copilot.pid);
    expect(exit.code).toBe(0);

    // Across the two collects, each task is returned completed exactly once, with its worker's answer.
    const second = JSON.parse(exit.result!) as CollectResult;
    const completed = [...first.completed, ...second.completed];
    expect(completed.map((t) => t.agent).sort()).toEqual(["asker", "builder", "finisher"]);
    const resultOf = Object.fromEntries(completed.map((t) => [t.agent, t.result]));
    expect(resultOf).toEqual({ builder: expect.stringMatching(/^built: /), asker: "the answer is 42", finisher: "finished" });
    expect(second).toMatchObject({ satisfied: true, failed: [], canceled: [], pending: [], inputRequired: [] });
    expect((await tasksOf(api, copilot.pid)).map((t) => t.status.state)).toEqual(["completed", "completed", "completed"]);
    expect(await (await api.call("GET", "/v1/fs/build.txt")).text()).toBe("built");

    // No call ran twice: the builder's write ran once; the asker's question was answered once.
    const builderEvents = await eventsOf(api, byAgent.builder!.metadata.workerPid);
    expect(builderEvents.filter((e) => e.type === "tool_call" && e.data.name === "write_file")).toHaveLength(1);
    expect(builderEvents.filter((e) => e.type === "approval").map((e) => e.data.state)).toEqual(["pending", "approved"]);
    expect((await toolMessages(api, byAgent.asker!.metadata.workerPid)).map((m) => m.content)).toEqual(["42"]);
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as { event: string; actor: string; data: any }[];
    expect(audit.filter((e) => e.event === "approval_decided").map((e) => [e.actor, e.data.decision])).toEqual([["api:operator", "approved"]]);
    expect(audit.filter((e) => e.event === "input_provided").map((e) => e.actor)).toEqual([`process:${copilot.pid}`]);
  });
});
