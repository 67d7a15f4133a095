import { z } from "zod";

export const ErrorCode = z.enum([
  "invalid_request",
  "invalid_json",
  "unauthorized",
  "forbidden",
  "spawn_vetoed",
  "not_found",
  "agent_not_found",
  "process_not_found",
  "task_not_found",
  "file_not_found",
  "conflict",
  "process_already_running",
  "task_not_cancelable",
  "process_not_running",
  "approval_not_found",
  "approval_decided",
  "task_not_waiting",
  "approval_required",
  "payload_too_large",
  "limit_exceeded",
  "script_required",
  "too_many_processes",
  "model_not_configured",
  "tool_not_dispatchable",
  "unknown_tool",
  "mcp_unreachable",
  "internal",
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorBody = z.object({
  error: z.object({
    code: ErrorCode,
    message: z.string(),
    details: z.unknown().optional(),
  }),
});
export type ErrorBody = z.infer<typeof ErrorBody>;

/** An error as it crosses an RPC boundary: plain data, so nothing is lost in serialization. */
export interface Failure {
  status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 500;
  code: ErrorCode;
  message: string;
  details?: unknown;
}

/** What every kernel/process RPC method that can fail for the caller's reasons returns. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Failure };

export const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
export const fail = (
  status: Failure["status"],
  code: ErrorCode,
  message: string,
  details?: unknown,
): { ok: false; error: Failure } => ({ ok: false, error: details === undefined ? { status, code, message } : { status, code, message, details } });

/** Thrown inside the Worker (routes) and turned into the SPEC's error shape by the app's error handler. */
export class ApiError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
  static of(status: Failure["status"], code: ErrorCode, message: string, details?: unknown): ApiError {
    return new ApiError(fail(status, code, message, details).error);
  }
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new ApiError(outcome.error);
}
