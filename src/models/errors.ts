import { APICallError, InvalidResponseDataError, JSONParseError, StreamProviderError, TypeValidationError } from "ai";
import { ModelError } from "./model";
import { redact } from "../lib/redact";

/**
 * Provider failures as ModelErrors, the one shape the agent loop's retry policy reads (SPEC §5):
 * 429 and 5xx are retried by the loop (never here), anything else ends the process.
 *
 * Statuses we choose ourselves, where the provider sent none:
 *   502 Bad Gateway      the answer was malformed (bad JSON, missing fields) or the connection failed:
 *                        the upstream answered badly, which a retry often cures (a cut stream, a restart).
 *   504 Gateway Timeout  the provider stayed silent longer than MODEL_TIMEOUT_MS.
 * Both are retryable, so a transient glitch costs a retry, and a persistent one ends after 3.
 */

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Payload Too Large",
  422: "Unprocessable Entity",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  529: "Overloaded",
};

const statusLine = (status: number) => `${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ""}`;

/** Provider error types in a stream (`{"type": "error", "error": {"type": ...}}`) and the HTTP status each stands for. */
const STREAM_ERROR_STATUS: Record<string, number> = {
  overloaded_error: 529,
  api_error: 500,
  server_error: 500,
  rate_limit_error: 429,
  rate_limit_exceeded: 429,
  timeout_error: 504,
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
};

const MAX_DETAIL = 500;

export { redact };

/** `retry-after-ms` (milliseconds), else `retry-after` (seconds, or an HTTP date). */
export function retryAfterMs(headers: Record<string, string | undefined> | undefined, now = Date.now()): number | null {
  if (!headers) return null;
  const get = (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1]?.trim();
  const ms = get("retry-after-ms");
  if (ms && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const after = get("retry-after");
  if (!after) return null;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.round(Number(after) * 1000);
  const at = Date.parse(after);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > MAX_DETAIL ? `${flat.slice(0, MAX_DETAIL)}…` : flat;
}

function messageOf(value: unknown): string {
  if (value instanceof Error) return value.message;
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    const o = value as Record<string, unknown>;
    if (typeof o.message === "string") return o.message;
    if (o.error !== undefined) return messageOf(o.error);
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** The `type` of a provider's error object (`{type: "overloaded_error", message}` or `{error: {type, code}}`). */
function streamErrorType(value: unknown): string | null {
  if (!value || typeof value !== "object" || value instanceof Error) return null;
  const o = value as Record<string, unknown>;
  for (const key of ["type", "code"]) if (typeof o[key] === "string" && STREAM_ERROR_STATUS[o[key]] !== undefined) return o[key];
  return o.error !== undefined ? streamErrorType(o.error) : null;
}

/** What the provider itself said in an error body, if it is JSON with a message; else the raw body. */
function bodyDetail(err: APICallError): string {
  const own = err.message && err.message !== STATUS_TEXT[err.statusCode ?? 0] ? err.message : "";
  if (own && own !== "Invalid JSON response") return own;
  return err.responseBody ? err.responseBody : own;
}

/**
 * Any error a provider call raised, as a ModelError whose message is `<provider>: <status> <text>:
 * <what the provider said>`, with secrets removed.
 */
export function toModelError(provider: string, err: unknown, secrets: readonly string[]): ModelError {
  if (err instanceof ModelError) return err;
  // `said`: the provider answered with this HTTP status (else the status is ours, and not shown as theirs).
  const make = (status: number | null, detail: string, retryAfter: number | null = null, said = false) => {
    const parts = [said && status !== null ? statusLine(status) : "", clip(detail)].filter(Boolean);
    return new ModelError(redact(`${provider}: ${parts.join(": ") || "request failed"}`, secrets), status, retryAfter);
  };

  if (APICallError.isInstance(err)) {
    const status = err.statusCode;
    if (status === undefined) {
      // No HTTP answer at all: the connection failed (the SDK marks that retryable), or a binding error.
      return err.isRetryable ? make(502, `connection failed: ${err.message}`) : make(null, err.message);
    }
    if (status >= 200 && status < 300) return make(502, `invalid response: ${err.message}${err.cause ? `: ${messageOf(err.cause)}` : ""}`);
    return make(status, bodyDetail(err), retryAfterMs(err.responseHeaders), true);
  }
  // An error event inside a stream that had already answered 200 (`{"error": {...}}`, `event: error`):
  // the status the provider package gives it, else the one its type stands for over HTTP.
  if (StreamProviderError.isInstance(err)) {
    const type = typeof err.type === "string" ? err.type : null;
    const status = err.statusCode ?? (type !== null ? STREAM_ERROR_STATUS[type] : undefined) ?? (err.isRetryable ? 502 : null);
    return make(status, type ? `${type}: ${err.message}` : err.message);
  }
  if (JSONParseError.isInstance(err) || TypeValidationError.isInstance(err) || InvalidResponseDataError.isInstance(err)) {
    return make(502, `invalid response: ${err.message}`);
  }
  if (err instanceof TypeError && /network|fetch|connect|socket/i.test(err.message)) return make(502, `connection failed: ${err.message}`);
  // A stream whose first event the provider package could not read (it says so in a plain Error).
  if (err instanceof Error && /stream error/i.test(err.message) && /expected/i.test(err.message)) return make(502, `invalid response: ${err.message}`);
  // The same as a plain object, should a provider package pass one through unnormalised.
  if (err && typeof err === "object" && !(err instanceof Error)) {
    const o = err as Record<string, unknown>;
    const type = streamErrorType(err);
    const status = typeof o.statusCode === "number" ? o.statusCode : type !== null ? STREAM_ERROR_STATUS[type]! : null;
    if (status !== null) return make(status, `${type ?? (typeof o.type === "string" ? o.type : "stream error")}: ${messageOf(err)}`);
  }
  return make(null, messageOf(err));
}
