/**
 * The kernel's refusals in A2A terms. A2A has codes for a missing task, a task that cannot be
 * canceled, malformed params and unsupported operations; what else the kernel can refuse (a hook's
 * veto, a limit, the tenant's cap, a singleton already running) has no A2A code, so it is answered
 * as an implementation-defined JSON-RPC server error (-32000) whose message names the kernel's code
 * and whose data carries the kernel's error (SPEC §3 shape).
 */
import { JsonRpcTransportError } from "@a2a-js/sdk/errors";
import { RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import type { Failure, Outcome } from "../contracts";

export const KERNEL_REFUSAL_CODE = -32000;

export function a2aError(failure: Failure): Error {
  // §11's reply to a task that does not wait for one (a code that joins with that part).
  if ((failure.code as string) === "task_not_waiting") return new UnsupportedOperationError(`${failure.message} (task_not_waiting)`);
  switch (failure.code) {
    case "task_not_found":
    case "process_not_found":
      return new TaskNotFoundError(failure.message);
    case "task_not_cancelable":
      return new TaskNotCancelableError(failure.message);
    case "invalid_request":
    case "payload_too_large":
      return new RequestMalformedError(failure.message);
    case "process_not_running":
      return new UnsupportedOperationError(failure.message);
    default:
      return new JsonRpcTransportError({
        jsonrpc: "2.0",
        id: null,
        error: { code: KERNEL_REFUSAL_CODE, message: `${failure.code}: ${failure.message}`, data: { error: { code: failure.code, message: failure.message, ...(failure.details !== undefined ? { details: failure.details } : {}) } } },
      });
  }
}

/** The value of an outcome, or its failure thrown as the A2A error. */
export function orThrow<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw a2aError(outcome.error);
}
