export const MAX_MODEL_RETRIES = 3;
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 30_000;

/**
 * Milliseconds to wait before retry number `attempt` (1-based) of a failed model call, or null when
 * the error is not retryable or the retries are spent. A provider's `retry-after` wins when longer.
 */
export function retryDelay(attempt: number, retryable: boolean, retryAfterMs: number | null): number | null {
  if (!retryable || attempt > MAX_MODEL_RETRIES) return null;
  const backoff = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (attempt - 1));
  return Math.max(backoff, Math.min(retryAfterMs ?? 0, 5 * 60_000));
}
