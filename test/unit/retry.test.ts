import { describe, expect, it } from "vitest";
import { MAX_MODEL_RETRIES, retryDelay } from "../../src/agent/retry";

describe("retryDelay", () => {
  it("backs off 500, 1000, 2000 ms, then gives up after 3 retries", () => {
    expect(MAX_MODEL_RETRIES).toBe(3);
    expect([1, 2, 3, 4, 5].map((attempt) => retryDelay(attempt, true, null))).toEqual([500, 1000, 2000, null, null]);
  });

  it("never retries a non-retryable error", () => {
    for (const attempt of [1, 2, 3]) expect(retryDelay(attempt, false, null)).toBeNull();
    expect(retryDelay(1, false, 10_000)).toBeNull();
  });

  it.each([
    [1, 5_000, 5_000], // retry-after longer than the backoff wins
    [1, 100, 500], // shorter: the backoff wins
    [3, 1_500, 2_000],
    [2, 0, 1_000],
    [1, 60 * 60_000, 5 * 60_000], // an absurd retry-after is capped at 5 minutes
  ])("attempt %i with retry-after %i ms → %i ms", (attempt, retryAfter, expected) => {
    expect(retryDelay(attempt, true, retryAfter)).toBe(expected);
  });

  it("retry-after does not extend the number of retries", () => {
    expect(retryDelay(4, true, 1_000)).toBeNull();
  });
});
