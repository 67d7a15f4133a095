import type { ProcessReport } from "../rpc/messages";

/**
 * How current the kernel's table is kept for a running process: its usage and turn count on the
 * Process JSON (and so on its ancestors and the console) lag by at most this much, or by one lease
 * in a limited tree (src/kernel/leases.ts), whichever comes first; a change of state (running,
 * sleeping, paused, awaiting its caller) and its exit are reported at once.
 */
export const REPORT_INTERVAL_MS = 1000;

/** The last progress report the kernel acknowledged, in this incarnation. */
export interface LastReport {
  key: string;
  at: number;
}

/** What the table shows that must never lag: the state, and what an A2A caller waits on. */
export const reportKey = (r: ProcessReport): string => `${r.state}|${r.awaiting ? JSON.stringify(r.awaiting) : ""}`;

/**
 * Whether a step's progress must reach the kernel now (SPEC §7 budgets stay exact):
 * - its lease is spent (`leaseSpent`, src/process/machine.ts): the kernel charges what it used and
 *   grants the next lease, and its answer (`ancestorsLeft`, `external`) is what stops this process
 *   when its tree's budget runs out. A lease of 0 is always spent: every step reports near the end;
 * - the first report of this incarnation, the table's state would change, or the process is paused (a
 *   debugger's single step answers with the table's row, which must show that step);
 * - otherwise at most every REPORT_INTERVAL_MS: the kernel then hears of a step only for the table's view.
 */
export function mustReport(input: { leaseSpent: boolean; report: ProcessReport; last: LastReport | null; now: number }): boolean {
  const { leaseSpent, report, last, now } = input;
  if (leaseSpent || last === null || report.state === "paused") return true;
  if (reportKey(report) !== last.key) return true;
  return now - last.at >= REPORT_INTERVAL_MS;
}
