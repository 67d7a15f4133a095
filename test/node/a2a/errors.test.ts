/** The kernel's refusals as A2A errors (src/a2a/errors.ts), as the SDK's transports serialize them. */
import { describe, expect, it } from "vitest";
import { RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, toJsonRpcError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { a2aError, KERNEL_REFUSAL_CODE, orThrow } from "../../../src/a2a/errors";
import { fail, ok } from "../../../src/contracts";

describe("kernel refusals in A2A terms", () => {
  it("maps the codes A2A has, and the rest to one server error naming the kernel's code", () => {
    expect(a2aError(fail(404, "task_not_found", "No such task.").error)).toBeInstanceOf(TaskNotFoundError);
    expect(a2aError(fail(409, "task_not_cancelable", "ended").error)).toBeInstanceOf(TaskNotCancelableError);
    expect(a2aError(fail(400, "invalid_request", "bad").error)).toBeInstanceOf(RequestMalformedError);
    expect(a2aError(fail(409, "process_not_running", "exited").error)).toBeInstanceOf(UnsupportedOperationError);
    const notWaiting = a2aError(fail(409, "task_not_waiting", "Task t is not waiting.").error);
    expect(notWaiting).toBeInstanceOf(UnsupportedOperationError);
    expect(toJsonRpcError(notWaiting)).toMatchObject({ code: -32004, message: "Task t is not waiting. (task_not_waiting)" });
    expect(a2aError(fail(409, "approval_decided", "Approval a is already approved.").error)).toBeInstanceOf(UnsupportedOperationError);
    expect(a2aError(fail(404, "approval_not_found", "No such approval.").error)).toBeInstanceOf(RequestMalformedError);
    expect(toJsonRpcError(a2aError(fail(404, "task_not_found", "No such task.").error))).toMatchObject({ code: -32001, message: "No such task." });

    const veto = a2aError(fail(403, "spawn_vetoed", "Spawn vetoed by hook h: no", { hook: "h", reason: "no" }).error);
    expect(toJsonRpcError(veto)).toEqual({ code: KERNEL_REFUSAL_CODE, message: "spawn_vetoed: Spawn vetoed by hook h: no" });
    expect(LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(veto)).toEqual({
      code: KERNEL_REFUSAL_CODE,
      message: "spawn_vetoed: Spawn vetoed by hook h: no",
      data: { error: { code: "spawn_vetoed", message: "Spawn vetoed by hook h: no", details: { hook: "h", reason: "no" } } },
    });
    expect(toJsonRpcError(a2aError(fail(429, "too_many_processes", "cap").error)).code).toBe(-32000);
  });

  it("orThrow answers the value or throws the mapped error", () => {
    expect(orThrow(ok(3))).toBe(3);
    expect(() => orThrow(fail(404, "process_not_found", "gone"))).toThrow(TaskNotFoundError);
  });
});
