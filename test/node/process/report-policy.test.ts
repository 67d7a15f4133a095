import { describe, expect, it } from "vitest";
import { mustReport, REPORT_INTERVAL_MS, reportKey } from "../../../src/process/report-policy";
import type { ProcessReport } from "../../../src/rpc/messages";

const report = (state: ProcessReport["state"] = "running", extra: Partial<ProcessReport> = {}): ProcessReport => ({
  state,
  turnCount: 3,
  usage: { inputTokens: 1, outputTokens: 1, toolCalls: 1 },
  budgetUsed: { tokens: 2, toolCalls: 1, wallMs: 5 },
  ...extra,
});
const at = 1_000_000;
const last = { key: reportKey(report()), at };
const base = { leaseSpent: false, report: report(), last, now: at + 10 };

describe("when a step's progress reaches the kernel", () => {
  it("at once when its lease is spent, and first in an incarnation", () => {
    expect(mustReport({ ...base, leaseSpent: true })).toBe(true);
    expect(mustReport({ ...base, last: null })).toBe(true);
  });

  it("at once when the table's state would change (sleeping, paused, awaiting its A2A caller), and every step while paused", () => {
    const paused = { key: reportKey(report("paused")), at };
    expect(mustReport({ ...base, last: paused, report: report("paused") })).toBe(true);
    expect(mustReport({ ...base, report: report("sleeping") })).toBe(true);
    expect(mustReport({ ...base, report: report("paused") })).toBe(true);
    expect(mustReport({ ...base, report: report("running", { awaiting: { message: "hi" } }) })).toBe(true);
  });

  it("otherwise at most every REPORT_INTERVAL_MS, whatever the usage and turn count did", () => {
    expect(mustReport({ ...base, report: report("running", { turnCount: 99 }) })).toBe(false);
    expect(mustReport({ ...base, now: at + REPORT_INTERVAL_MS - 1 })).toBe(false);
    expect(mustReport({ ...base, now: at + REPORT_INTERVAL_MS })).toBe(true);
  });
});
