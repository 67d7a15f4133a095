import type { AskVerdict, ExitStatus } from "../contracts";
import type { DispatchGate, GateOptions } from "../rpc/messages";
import type { SqlStore } from "../lib/sql-store";
import { Approvals } from "./approvals";
import type { AuditLog } from "./audit-log";
import type { DispatchCall, DispatchVerdicts } from "./hook-runner";
import type { Outbox } from "./outbox";
import type { ProcRow } from "./rows";
import { Questions, waitMessage } from "./questions";
import type { TaskStore } from "./task-store";
import type { FeedLog } from "./tenant-feed";

/**
 * People in the loop (SPEC §11): approvals and questions, and the one rule they share: a worker's
 * task is `input-required` exactly while its worker waits on a person (an open question or a pending
 * approval), with what it waits for as the status message, and `working` again once nothing is left.
 */
export class People {
  readonly approvals: Approvals;
  readonly questions: Questions;

  constructor(private readonly deps: { store: SqlStore; audit: AuditLog; feed: FeedLog; tasks: TaskStore; outbox: Outbox }) {
    this.approvals = new Approvals(deps, (pid) => this.syncTask(pid));
    this.questions = new Questions(
      deps,
      (pid) => this.syncTask(pid),
      (pid) => this.approvals.firstPending(pid)?.id ?? null,
    );
  }

  /** Whether a process waits on a person: an open question or a pending approval. */
  waitsOnPerson(pid: number): boolean {
    return this.questions.firstOpen(pid) !== null || this.approvals.firstPending(pid) !== null;
  }

  /** Puts a worker's task in step with what its worker waits on (a top-level process has no task). */
  syncTask(pid: number) {
    const row = this.deps.store.sql.exec<{ task_id: string | null }>("SELECT task_id FROM procs WHERE pid = ?", pid).toArray()[0];
    if (!row?.task_id) return;
    const question = this.questions.firstOpen(pid);
    const approval = question ? null : this.approvals.firstPending(pid);
    this.deps.tasks.setWaiting(row.task_id, pid, waitMessage(question?.question ?? null, approval));
  }

  /**
   * The gate's answer for a turn's calls: each call a policy asked about gets its approval (opened
   * idempotently), or with `probe` only the verdict (nothing stored). A call asked about for a
   * process that has exited is vetoed: an asked call never runs without a decision.
   */
  gate(proc: ProcRow | null, calls: readonly DispatchCall[], verdicts: DispatchVerdicts, opts: GateOptions = {}): DispatchGate {
    const { asks: raw, ...rest } = verdicts;
    if (Object.keys(raw).length === 0) return { ...rest, asks: {} };
    if (opts.probe) {
      const asks: Record<string, AskVerdict> = {};
      for (const [id, a] of Object.entries(raw)) asks[id] = { approvalId: "", hook: a.hook, reason: a.reason, expiresAt: Date.now() + a.timeoutMs };
      return { ...rest, asks };
    }
    if (!proc || proc.exit) {
      const vetoes = { ...rest.vetoes };
      for (const [id, a] of Object.entries(raw)) vetoes[id] = { hook: a.hook, reason: `${a.reason} (the process has exited; nobody can approve it now)` };
      return { ...rest, vetoes, asks: {} };
    }
    return { ...rest, asks: this.approvals.open(proc, calls, raw) };
  }

  /** A process exited: what it waited on is over (in the exit's transaction). */
  exited(pid: number, exit: ExitStatus, questionOpen = true) {
    this.approvals.expireOnExit(pid, exit);
    if (questionOpen) this.questions.clearPending(pid);
  }
}
