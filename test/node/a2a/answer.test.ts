/** What a message to an existing task says (src/a2a/answer.ts): text, or a decision in a data part. */
import { describe, expect, it } from "vitest";
import { Role, type Message, type Part } from "@a2a-js/sdk";
import { ContentTypeNotSupportedError, RequestMalformedError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import { answerQuestion, decideForTask, replyOf } from "../../../src/a2a/answer";
import { fail, ok, type Task } from "../../../src/contracts";
import type { KernelForRoutes } from "../../../src/rpc/stubs";

const msg = (parts: Part[], role = Role.ROLE_USER): Message => ({ messageId: "m", contextId: "", taskId: "t-1", role, parts, metadata: undefined, extensions: [], referenceTaskIds: [] });
const text = (value: string): Part => ({ content: { $case: "text", value }, metadata: undefined, filename: "", mediaType: "text/plain" });
const data = (value: unknown, mediaType = "application/json"): Part => ({ content: { $case: "data", value }, metadata: undefined, filename: "", mediaType });
const task = { id: "t-1", metadata: { workerPid: 7 } } as unknown as Task;

describe("replyOf", () => {
  it("reads text as text, and a lone data part as a decision validated like POST /v1/approvals/:id", () => {
    expect(replyOf(msg([text("blue")]))).toEqual({ kind: "text", text: "blue" });
    expect(replyOf(msg([data({ decision: "approve" })]))).toEqual({ kind: "decision", decision: { decision: "approve" } });
    expect(replyOf(msg([data({ decision: "approve", message: "ok", arguments: { path: "/a" }, approvalId: "a-1" }, "")]))).toEqual({
      kind: "decision",
      decision: { decision: "approve", message: "ok", arguments: { path: "/a" } },
      approvalId: "a-1",
    });
    expect(replyOf(msg([data({ decision: "reject", message: "no" })]))).toMatchObject({ decision: { decision: "reject", message: "no" } });
  });

  it("refuses what is not a decision", () => {
    for (const value of [{ decision: "maybe" }, { decision: "approve", extra: 1 }, ["approve"], "approve", null, { decision: "approve", approvalId: 3 }]) {
      expect(() => replyOf(msg([data(value)])), JSON.stringify(value)).toThrow(RequestMalformedError);
    }
    expect(() => replyOf(msg([data({ decision: "approve" }), text("and text")]))).toThrow(RequestMalformedError);
    expect(() => replyOf(msg([data({ decision: "approve" }, "text/csv")]))).toThrow(ContentTypeNotSupportedError);
    expect(() => replyOf(msg([data({ decision: "approve" })], Role.ROLE_AGENT))).toThrow(RequestMalformedError);
    expect(() => replyOf(msg([{ content: { $case: "url", value: "https://x/y.pdf" }, metadata: undefined, filename: "", mediaType: "application/pdf" }]))).toThrow(ContentTypeNotSupportedError);
  });
});

/** A kernel that answers as told, and records what it was asked. */
function kernel(answers: Partial<Record<"replyTask" | "listApprovals" | "getApproval" | "decideApproval", unknown>>) {
  const calls: [string, unknown[]][] = [];
  const k = new Proxy({}, { get: (_t, name: string) => async (...args: unknown[]) => (calls.push([name, args]), answers[name as keyof typeof answers]) });
  return { k: k as KernelForRoutes, calls };
}

describe("answering a task", () => {
  it("a question: replied; not waiting: false; waiting on an approval: refused with how to decide", async () => {
    expect(await answerQuestion(kernel({ replyTask: ok({ taskId: "t-1", state: "working" }) }).k, task, "blue", "api:operator")).toBe(true);
    expect(await answerQuestion(kernel({ replyTask: fail(409, "task_not_waiting", "not waiting", { state: "working" }) }).k, task, "x", "api:operator")).toBe(false);
    const refused = await answerQuestion(kernel({ replyTask: fail(409, "task_not_waiting", "w", { state: "input-required", approvalId: "a-9" }) }).k, task, "x", "api:operator").catch((e: Error) => e);
    expect(refused).toBeInstanceOf(UnsupportedOperationError);
    expect((refused as Error).message).toMatch(/approval a-9.*data part.*POST \/v1\/approvals\/a-9/);
    await expect(answerQuestion(kernel({ replyTask: fail(404, "task_not_found", "No such task.") }).k, task, "x", "api:operator")).rejects.toThrow("No such task.");
  });

  it("a decision: the worker's oldest pending approval, or the one named if it is the worker's", async () => {
    const decided = ok({ id: "a-1", state: "approved" });
    const oldest = kernel({ listApprovals: { items: [{ id: "a-1" }], nextCursor: null }, decideApproval: decided });
    expect(await decideForTask(oldest.k, task, { kind: "decision", decision: { decision: "approve" } }, "api:operator")).toBe("a-1");
    expect(oldest.calls).toEqual([
      ["listApprovals", [{ pid: 7, state: "pending", limit: 1 }]],
      ["decideApproval", ["a-1", { decision: "approve" }, "api:operator"]],
    ]);
    const none = kernel({ listApprovals: { items: [], nextCursor: null } });
    await expect(decideForTask(none.k, task, { kind: "decision", decision: { decision: "approve" } }, "api:operator")).rejects.toThrow(/waits for no approval/);
    const foreign = kernel({ getApproval: ok({ id: "a-2", pid: 8 }) });
    await expect(decideForTask(foreign.k, task, { kind: "decision", decision: { decision: "reject" }, approvalId: "a-2" }, "api:operator")).rejects.toBeInstanceOf(RequestMalformedError);
    expect(foreign.calls.map((c) => c[0])).toEqual(["getApproval"]);
    const late = kernel({ getApproval: ok({ id: "a-3", pid: 7 }), decideApproval: fail(409, "approval_decided", "already approved", { state: "approved" }) });
    await expect(decideForTask(late.k, task, { kind: "decision", decision: { decision: "reject" }, approvalId: "a-3" }, "api:operator")).rejects.toBeInstanceOf(UnsupportedOperationError);
  });
});
