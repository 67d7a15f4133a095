/**
 * Small numeric and control-flow helpers for the benchmark: percentiles, a bounded concurrency
 * pool, deadlines. Plain ESM, no dependencies.
 */

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Monotonic milliseconds (for durations measured on this side). */
export const mono = () => performance.now();

/**
 * Nearest-rank percentile (p in 0..100) of `values`; null when there are none.
 * With 300 samples p99 is the 297th smallest value, so it reflects the 3 slowest, not only the worst.
 * @param {number[]} values
 * @param {number} p
 */
export function percentile(values, p) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

export const median = (values) => percentile(values, 50);
export const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : null);

/** Rounds to `digits` decimals, keeping null as null. */
export const round = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? null : Math.round(v * 10 ** digits) / 10 ** digits);

/** Thrown when a phase or the whole run passes its deadline. */
export class DeadlineError extends Error {}

/** A point in time after which work must stop; `check()` throws a DeadlineError naming `what`. */
export class Deadline {
  /** @param {number} ms  @param {string} what  @param {Deadline | null} [parent] */
  constructor(ms, what, parent = null) {
    this.at = Date.now() + ms;
    if (parent) this.at = Math.min(this.at, parent.at);
    this.what = what;
  }
  get left() {
    return this.at - Date.now();
  }
  get passed() {
    return Date.now() >= this.at;
  }
  check() {
    if (this.passed) throw new DeadlineError(`${this.what}: deadline passed`);
  }
  /** A child deadline of at most `ms`, never later than this one. */
  sub(ms, what) {
    return new Deadline(ms, what, this);
  }
}

/**
 * Runs `task(i)` for i in [0, count) with at most `limit` in flight; stops starting new tasks when
 * the deadline passes (and then throws). Results are in index order.
 * @template T
 * @param {number} count
 * @param {number} limit
 * @param {(i: number) => Promise<T>} task
 * @param {Deadline} deadline
 * @returns {Promise<T[]>}
 */
export async function pool(count, limit, task, deadline) {
  const results = new Array(count);
  let next = 0;
  let failure = null;
  const lane = async () => {
    while (failure === null && next < count) {
      if (deadline.passed) {
        failure ??= new DeadlineError(`${deadline.what}: deadline passed after ${next} of ${count}`);
        return;
      }
      const i = next++;
      try {
        results[i] = await task(i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
  if (failure) throw failure;
  return results;
}
