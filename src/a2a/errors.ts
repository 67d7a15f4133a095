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
  switch (failure.code) {
    // §11: a reply to a task that waits for none; a decision on an approval decided meanwhile.
    case "task_not_waiting":
    case "approval_decided":
      return new UnsupportedOperationError({ message: `${failure.message} (${failure.code})`, metadata: { code: failure.code } });
    case "task_not_found":
    case "process_not_found":
      return new TaskNotFoundError(failure.message);
    case "task_not_cancelable":
      return new TaskNotCancelableError(failure.message);
    case "invalid_request":
    case "payload_too_large":
    case "approval_not_found":
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
