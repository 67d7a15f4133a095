import { ExitCode, fail, ok, type Approval, type ApprovalListQuery, type AskVerdict, type DecideRequest, type ExitStatus, type Outcome } from "../contracts";
import { takePage, type Page } from "../lib/paging";
import type { SqlStore } from "../lib/sql-store";
import type { Actor, AuditLog } from "./audit-log";
import type { DispatchCall } from "./hook-runner";
import type { Outbox } from "./outbox";
import { mapRows, type ApprovalRow, type ProcRow } from "./rows";
import type { TaskStore } from "./task-store";
import type { FeedLog } from "./tenant-feed";

/** What a policy's `ask` said about one call (hook-runner.ts). */
export interface Ask {
  hook: string;
  reason: string;
  timeoutMs: number;
}

export interface ApprovalDeps {
  store: SqlStore;
  audit: AuditLog;
  feed: FeedLog;
  tasks: TaskStore;
  outbox: Outbox;
}

const now = () => new Date().toISOString();
const notFound = () => fail(404, "approval_not_found", "No such approval.");
/** How many due approvals one sweep expires (a read stays bounded; the rest go at the next one). */
const SWEEP = 100;

/** The Approval JSON (SPEC §11) of a row. */
export function toApproval(r: ApprovalRow): Approval {
  return {
    id: r.id,
    pid: r.pid,
    rootPid: r.root_pid,
    agent: r.agent,
    tool: r.tool,
    arguments: JSON.parse(r.arguments),
    toolCallId: r.tool_call_id,
    hook: r.hook,
    reason: r.reason,
    state: r.state,
    createdAt: r.created_at,
    expiresAt: new Date(r.expires_at).toISOString(),
    ...(r.decided_at !== null ? { decidedAt: r.decided_at } : {}),
    ...(r.decided_by !== null ? { decidedBy: r.decided_by } : {}),
    ...(r.message !== null ? { message: r.message } : {}),
    ...(r.original_arguments !== null ? { originalArguments: JSON.parse(r.original_arguments) } : {}),
  };
}

/** Why a process's pending approvals expire when it exits: the kernel ended it, or it ended. */
export function exitMessage(exit: ExitStatus): string {
  const ended = exit.code === ExitCode.killed || exit.code === ExitCode.terminated;
  return `${ended ? "killed" : "process exited"}: ${exit.reason}`;
}

/**
 * Approvals (SPEC §11): a tool call a policy answered `ask` for waits here for a person. A row is
 * `pending` until decided (`approved` / `rejected`, by an authenticated operator or admin, never by
 * a process: the kernel's process view has no way to decide) or `expired` (its deadline passed, or
 * its process exited), once: every change is guarded by `state = 'pending'`.
 *
 * A worker waiting on an approval makes its task `input-required` (`syncTask`, from people.ts, keeps
 * the task in step); a decision is delivered to the process through the outbox, from the kernel's alarm.
 */
export class Approvals {
  /** Whether any approval may be pending, as this incarnation knows it (read once, set by `open`). */
  private pending: boolean | undefined = undefined;

  constructor(
    private readonly deps: ApprovalDeps,
    /** Recomputes whether a worker's task waits on a person (approvals or questions). */
    private readonly syncTask: (pid: number) => void,
  ) {}

  private get sql() {
    return this.deps.store.sql;
  }

  get(id: string): ApprovalRow | null {
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE id = ?", id).toArray()[0] ?? null;
  }

  /** The oldest pending approval of a process, if any. */
  firstPending(pid: number): ApprovalRow | null {
    return this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE pid = ? AND state = 'pending' ORDER BY seq LIMIT 1", pid).toArray()[0] ?? null;
  }

  /** The tree's top: the pid itself for a top-level process. */
  rootOf(pid: number): number {
    const row = this.sql
      .exec<{ pid: number }>(
        `WITH RECURSIVE up(pid, parent) AS (SELECT pid, parent_pid FROM procs WHERE pid = ? UNION ALL SELECT p.pid, p.parent_pid FROM procs p JOIN up ON p.pid = up.parent)
         SELECT pid FROM up WHERE parent IS NULL`,
        pid,
      )
      .toArray()[0];
    return row?.pid ?? pid;
  }

  /**
   * Opens the approval of each asked call, idempotently per (pid, call id, hook): a repeated gate
   * answers the approval it opened before, whatever its state now. Each new one is audited
   * (`approval_requested`) and a worker's task becomes `input-required`, in one transaction.
   */
  open(proc: Pick<ProcRow, "pid" | "agent">, calls: readonly DispatchCall[], asks: Record<string, Ask>): Record<string, AskVerdict> {
    const out: Record<string, AskVerdict> = {};
    const asked = calls.filter((c) => asks[c.id]);
    if (asked.length === 0) return out;
    this.deps.store.transactionSync(() => {
      const rootPid = this.rootOf(proc.pid);
      for (const call of asked) {
        const ask = asks[call.id]!;
        let row = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE pid = ? AND tool_call_id = ? AND hook = ?", proc.pid, call.id, ask.hook).toArray()[0];
        if (!row) {
          const id = crypto.randomUUID();
          const createdAt = Date.now();
          this.sql.exec(
            `INSERT INTO approvals (id, pid, root_pid, agent, tool, arguments, original_arguments, tool_call_id, hook, reason, state, created_at, expires_at)
             VALUES (?,?,?,?,?,?,NULL,?,?,?,'pending',?,?)`,
            id,
            proc.pid,
            rootPid,
            proc.agent,
            call.name,
            JSON.stringify(call.arguments),
            call.id,
            ask.hook,
            ask.reason,
            new Date(createdAt).toISOString(),
            createdAt + ask.timeoutMs,
          );
          this.deps.feed.note("approval", id);
          // The kernel's alarm expires it at its deadline.
          this.deps.outbox.noteWake(createdAt + ask.timeoutMs);
          this.pending = true;
          this.deps.audit.append({
            actor: `process:${proc.pid}`,
            event: "approval_requested",
            pid: proc.pid,
            data: { approvalId: id, tool: call.name, toolCallId: call.id, hook: ask.hook, reason: ask.reason, rootPid, expiresAt: new Date(createdAt + ask.timeoutMs).toISOString() },
          });
          row = this.get(id)!;
        }
        out[call.id] = { approvalId: row.id, hook: row.hook, reason: row.reason, expiresAt: row.expires_at };
      }
      this.syncTask(proc.pid);
    });
    return out;
  }

  /** The approval as it is now, expired first when its deadline has passed (the process asks at its alarm). */
  state(pid: number, id: string): Approval {
    const row = this.get(id);
    if (!row || row.pid !== pid) throw new Error(`process ${pid} has no approval ${id}`);
    if (row.state === "pending" && row.expires_at <= Date.now()) this.expire(row, `no decision before ${new Date(row.expires_at).toISOString()}`, false);
    return toApproval(this.get(id)!);
  }

  find(id: string): Outcome<Approval> {
    this.sweep();
    const row = this.get(id);
    return row ? ok(toApproval(row)) : notFound();
  }

  /** `GET /v1/approvals`: in creation order, filtered by state, pid and tree; due ones are expired first. */
  page(query: ApprovalListQuery): Page<Approval> {
    this.sweep();
    const where: string[] = ["seq > ?"];
    const args: SqlStorageValue[] = [Number(query.cursor ?? 0)];
    if (query.state) (where.push("state = ?"), args.push(query.state));
    if (query.pid !== undefined) (where.push("pid = ?"), args.push(query.pid));
    if (query.rootPid !== undefined) (where.push("root_pid = ?"), args.push(query.rootPid));
    const rows = this.sql.exec<ApprovalRow>(`SELECT * FROM approvals WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`, ...args, query.limit + 1);
    // The cursor is the row's seq, which the JSON does not show: page over (seq, approval) pairs.
    const page = takePage(mapRows(rows, (r) => ({ seq: r.seq, approval: toApproval(r) })), query.limit, (e) => e.seq);
    return { items: page.items.map((e) => e.approval), nextCursor: page.nextCursor };
  }

  /**
   * `POST /v1/approvals/:id`: approve (optionally with replacement arguments) or reject, once. The
   * decision is audited with its actor, a worker's task goes back to `working`, and the process gets
   * the approval through the outbox (from the kernel's alarm, a fresh event).
   */
  decide(id: string, body: DecideRequest, actor: Actor): Outcome<Approval> {
    if (body.arguments !== undefined && body.decision !== "approve") {
      return fail(400, "invalid_request", "Only an approval may replace the call's arguments.", [{ path: ["arguments"], message: "arguments are only accepted with decision \"approve\"", code: "custom" }]);
    }
    this.sweep();
    const row = this.get(id);
    if (!row) return notFound();
    if (row.state !== "pending") {
      return fail(409, "approval_decided", `Approval ${id} is already ${row.state}${row.decided_by ? ` (by ${row.decided_by})` : ""}.`, { state: row.state });
    }
    const state = body.decision === "approve" ? "approved" : "rejected";
    const edited = body.arguments !== undefined;
    this.deps.store.transactionSync(() => {
      const changed = this.sql.exec(
        `UPDATE approvals SET state = ?, decided_at = ?, decided_by = ?, message = ?, arguments = ?, original_arguments = ? WHERE id = ? AND state = 'pending'`,
        state,
        now(),
        actor,
        body.message ?? null,
        edited ? JSON.stringify(body.arguments) : row.arguments,
        edited ? row.arguments : null,
        id,
      ).rowsWritten;
      if (changed) this.deps.feed.note("approval", id);
      this.deps.audit.append({ actor, event: "approval_decided", pid: row.pid, data: { approvalId: id, decision: state, tool: row.tool, toolCallId: row.tool_call_id, argumentsEdited: edited, ...(body.message ? { message: body.message } : {}) } });
      this.syncTask(row.pid);
      this.notify(row.pid, id);
    });
    return ok(toApproval(this.get(id)!));
  }

  /** Expires the pending approvals past their deadline (a bounded batch), notifying their processes. */
  sweep(at = Date.now()): number {
    const due = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE state = 'pending' AND expires_at <= ? ORDER BY expires_at LIMIT ?", at, SWEEP).toArray();
    for (const row of due) this.expire(row, `no decision before ${new Date(row.expires_at).toISOString()}`, true);
    return due.length;
  }

  /** When the earliest pending approval falls due, or null. */
  nextExpiry(): number | null {
    return this.sql.exec<{ t: number | null }>("SELECT min(expires_at) AS t FROM approvals WHERE state = 'pending'").one().t;
  }

  /**
   * A process exited (kill, cancel, cascade, its own end): its pending approvals expire, in the exit's
   * transaction. Nothing is delivered (the process is gone) and its task takes its end from the exit.
   */
  expireOnExit(pid: number, exit: ExitStatus) {
    // Most tenants' exits have no approval to close: one read an incarnation says so.
    this.pending ??= this.sql.exec("SELECT 1 FROM approvals WHERE state = 'pending' LIMIT 1").toArray().length > 0;
    if (!this.pending) return;
    const pending = this.sql.exec<ApprovalRow>("SELECT * FROM approvals WHERE pid = ? AND state = 'pending'", pid).toArray();
    for (const row of pending) this.expire(row, exitMessage(exit), false, false);
  }

  /** An expiry is a rejection by the kernel: audited, the task back to `working`, the process told when asked to. */
  private expire(row: ApprovalRow, message: string, notify: boolean, syncTask = true) {
    this.deps.store.transactionSync(() => {
      const changed = this.sql.exec("UPDATE approvals SET state = 'expired', decided_at = ?, decided_by = 'kernel', message = ? WHERE id = ? AND state = 'pending'", now(), message, row.id).rowsWritten;
      if (!changed) return;
      this.deps.feed.note("approval", row.id);
      this.deps.audit.append({ actor: "kernel", event: "approval_decided", pid: row.pid, data: { approvalId: row.id, decision: "expired", tool: row.tool, toolCallId: row.tool_call_id, message } });
      if (syncTask) this.syncTask(row.pid);
      if (notify) this.notify(row.pid, row.id);
    });
  }

  /** The decided approval goes to its process if it is still alive (at least once, from the alarm). */
  private notify(pid: number, id: string) {
    const live = this.sql.exec("SELECT 1 FROM procs WHERE pid = ? AND exit IS NULL", pid).toArray().length > 0;
    if (live) this.deps.outbox.add(pid, { kind: "approval", payload: toApproval(this.get(id)!) }, { viaAlarm: true });
  }
}
