/**
 * The console's pure logic: what the views show, computed from the API's objects and the tenant's feed
 * events, with no DOM and no network, so it is unit-tested in Node (test/node/console/).
 */
import type { Approval, AuditEntry, Process, ProcessState, Task } from "../../src/client/index";

// ---------- the process table, kept current from the feed ----------

/**
 * Keeps the newer of two views of a process. The feed sends a row as it is when the event is sent, and
 * the first list can be older or newer than the events read around it: the later `updatedAt` wins (a tie
 * takes the incoming one, which was read later).
 */
export function upsertProcess(procs: Map<number, Process>, p: Process): boolean {
  const known = procs.get(p.pid);
  if (known && known.updatedAt > p.updatedAt) return false;
  procs.set(p.pid, p);
  return true;
}

export function upsertTask(tasks: Map<string, Task>, t: Task): boolean {
  const known = tasks.get(t.id);
  if (known && known.status.timestamp > t.status.timestamp) return false;
  tasks.set(t.id, t);
  return true;
}

/** An approval's state only moves from pending to a decision, never back. */
export function upsertApproval(approvals: Map<string, Approval>, a: Approval): boolean {
  const known = approvals.get(a.id);
  if (known && known.state !== "pending" && a.state === "pending") return false;
  approvals.set(a.id, a);
  return true;
}

export interface ConsoleState {
  procs: Map<number, Process>;
  tasks: Map<string, Task>;
  approvals: Map<string, Approval>;
  /** Audit entries seen on the feed, newest last (the audit view's live tail). */
  audit: AuditEntry[];
}

export const emptyState = (): ConsoleState => ({ procs: new Map(), tasks: new Map(), approvals: new Map(), audit: [] });

/** One event of `GET /v1/events` as the reader hands it over (data parsed). */
export interface FeedEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

export type Changed = "procs" | "tasks" | "approvals" | "audit";

/** Applies one feed event; answers what it changed (null: nothing, e.g. a pruned row or an unknown type). */
export function applyFeedEvent(state: ConsoleState, e: FeedEvent, auditKeep = 500): Changed | null {
  if (e.data.gone) return null;
  switch (e.event) {
    case "proc":
      return e.data.process && upsertProcess(state.procs, e.data.process as Process) ? "procs" : null;
    case "task":
      return e.data.task && upsertTask(state.tasks, e.data.task as Task) ? "tasks" : null;
    case "approval":
      return e.data.approval && upsertApproval(state.approvals, e.data.approval as Approval) ? "approvals" : null;
    case "audit": {
      const entry = e.data.entry as AuditEntry | undefined;
      if (!entry) return null;
      const last = state.audit[state.audit.length - 1];
      if (last && last.seq >= entry.seq) return null;
      state.audit.push(entry);
      if (state.audit.length > auditKeep) state.audit.splice(0, state.audit.length - auditKeep);
      return "audit";
    }
    default:
      return null;
  }
}

// ---------- the tree ----------

export interface Rollup {
  /** Processes in the subtree, itself included. */
  count: number;
  live: number;
  turns: number;
  tokens: number;
  toolCalls: number;
}

export interface TreeRow {
  process: Process;
  /** 1 for a root. */
  level: number;
  rollup: Rollup;
  childCount: number;
  /** False for an ancestor shown only because a descendant matches the filter. */
  matches: boolean;
}

export interface TreeFilter {
  state?: ProcessState | "live" | "";
  agent?: string;
}

const LIVE = new Set<ProcessState>(["created", "running", "sleeping", "paused"]);
export const isLive = (s: ProcessState) => LIVE.has(s);
export const tokensOf = (p: Process) => p.usage.inputTokens + p.usage.outputTokens;

export function matchesFilter(p: Process, f: TreeFilter): boolean {
  if (f.state === "live" ? !isLive(p.state) : f.state && p.state !== f.state) return false;
  if (f.agent && p.agent !== f.agent) return false;
  return true;
}

/**
 * The tree as rows in display order (depth first, children by pid), each with its subtree's totals.
 * A process whose parent is unknown (not listed, or pruned) is shown as a root. With a filter, a row
 * is kept when it or a descendant matches, so a match is always shown under its ancestors.
 */
export function buildTree(procs: Map<number, Process>, filter: TreeFilter = {}): TreeRow[] {
  const children = new Map<number, number[]>();
  const roots: number[] = [];
  for (const p of procs.values()) {
    if (p.parentPid !== null && procs.has(p.parentPid) && p.parentPid !== p.pid) {
      const list = children.get(p.parentPid) ?? [];
      list.push(p.pid);
      children.set(p.parentPid, list);
    } else roots.push(p.pid);
  }
  roots.sort((a, b) => a - b);
  for (const list of children.values()) list.sort((a, b) => a - b);

  const rollups = new Map<number, Rollup>();
  const anyMatch = new Map<number, boolean>();
  // Post-order without recursion (a deep tree must not overflow the stack).
  const order: number[] = [];
  const stack = [...roots];
  const seen = new Set<number>();
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    order.push(pid);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  for (let i = order.length - 1; i >= 0; i--) {
    const pid = order[i]!;
    const p = procs.get(pid)!;
    const r: Rollup = { count: 1, live: isLive(p.state) ? 1 : 0, turns: p.turnCount, tokens: tokensOf(p), toolCalls: p.usage.toolCalls };
    let match = matchesFilter(p, filter);
    for (const c of children.get(pid) ?? []) {
      const cr = rollups.get(c)!;
      r.count += cr.count;
      r.live += cr.live;
      r.turns += cr.turns;
      r.tokens += cr.tokens;
      r.toolCalls += cr.toolCalls;
      match ||= anyMatch.get(c)!;
    }
    rollups.set(pid, r);
    anyMatch.set(pid, match);
  }

  const rows: TreeRow[] = [];
  const walk: [number, number][] = roots.map((pid) => [pid, 1] as [number, number]).reverse();
  const emitted = new Set<number>();
  while (walk.length) {
    const [pid, level] = walk.pop()!;
    if (emitted.has(pid) || !anyMatch.get(pid)) continue;
    emitted.add(pid);
    const p = procs.get(pid)!;
    const kids = children.get(pid) ?? [];
    rows.push({ process: p, level, rollup: rollups.get(pid)!, childCount: kids.length, matches: matchesFilter(p, filter) });
    for (let i = kids.length - 1; i >= 0; i--) walk.push([kids[i]!, level + 1]);
  }
  return rows;
}

/** The pids of a subtree, the root first: what a cascading kill stops. */
export function subtreeOf(procs: Map<number, Process>, root: number): number[] {
  const out: number[] = [];
  const stack = [root];
  const seen = new Set<number>();
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid) || !procs.has(pid)) continue;
    seen.add(pid);
    out.push(pid);
    for (const p of procs.values()) if (p.parentPid === pid) stack.push(p.pid);
  }
  return out;
}

/** "used / limit" of a budget dimension, or just "used" when unlimited; the fraction for a meter (null: no limit). */
export function budgetOf(used: number, limit: number | undefined): { text: string; fraction: number | null } {
  if (limit === undefined) return { text: formatCount(used), fraction: null };
  return { text: `${formatCount(used)} / ${formatCount(limit)}`, fraction: limit === 0 ? 1 : Math.min(1, used / limit) };
}

/** 1234 → "1,234"; 1234567 → "1.23M" (numbers stay short so columns keep their width). */
export function formatCount(n: number): string {
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  if (n >= 100_000) return `${Math.round(n / 1000)}k`;
  return n.toLocaleString("en-US");
}

export const agentsOf = (procs: Map<number, Process>) => [...new Set([...procs.values()].map((p) => p.agent))].sort();

// ---------- approvals and questions ----------

export interface ApprovalGroup {
  rootPid: number;
  rootAgent: string | null;
  approvals: Approval[];
}

/** Pending approvals grouped by the tree they belong to (its root pid), oldest group and call first. */
export function groupApprovals(approvals: Iterable<Approval>, procs: Map<number, Process>): ApprovalGroup[] {
  const groups = new Map<number, Approval[]>();
  for (const a of approvals) {
    if (a.state !== "pending") continue;
    const list = groups.get(a.rootPid) ?? [];
    list.push(a);
    groups.set(a.rootPid, list);
  }
  return [...groups.entries()]
    .map(([rootPid, list]) => ({ rootPid, rootAgent: procs.get(rootPid)?.agent ?? null, approvals: list.sort((x, y) => x.createdAt.localeCompare(y.createdAt) || x.id.localeCompare(y.id)) }))
    .sort((x, y) => x.approvals[0]!.createdAt.localeCompare(y.approvals[0]!.createdAt) || x.rootPid - y.rootPid);
}

/** A question waiting for a person: a worker's task in `input-required`, or a top-level process's `pendingInput`. */
export type Question =
  | { kind: "task"; key: string; taskId: string; pid: number; agent: string; question: string; copilotPid: number | null; since: string }
  | { kind: "process"; key: string; pid: number; agent: string; question: string; since: string };

export function openQuestions(tasks: Iterable<Task>, procs: Map<number, Process>): Question[] {
  const out: Question[] = [];
  const byTask = new Set<number>();
  for (const t of tasks) {
    if (t.status.state !== "input-required" || !t.status.message) continue;
    const worker = procs.get(t.metadata.workerPid);
    if (worker && !isLive(worker.state)) continue;
    byTask.add(t.metadata.workerPid);
    out.push({ kind: "task", key: `task:${t.id}`, taskId: t.id, pid: t.metadata.workerPid, agent: t.metadata.agent, question: t.status.message, copilotPid: t.metadata.copilotPid, since: t.status.timestamp });
  }
  for (const p of procs.values()) {
    // A top-level process's question; one with a task (spawned over A2A) is answered through that task above.
    if (!p.pendingInput || byTask.has(p.pid) || !isLive(p.state)) continue;
    out.push({ kind: "process", key: `proc:${p.pid}`, pid: p.pid, agent: p.agent, question: p.pendingInput.question, since: p.updatedAt });
  }
  return out.sort((a, b) => a.since.localeCompare(b.since) || a.key.localeCompare(b.key));
}

/** The JSON an approver typed as replacement arguments: an object, or a readable reason it is not one. */
export function parseArguments(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `The arguments are not valid JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { ok: false, message: "The arguments must be a JSON object." };
  return { ok: true, value: value as Record<string, unknown> };
}

/** Whether the edited arguments differ from the call's (then they are sent as a replacement). */
export const sameJson = (a: unknown, b: unknown) => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  return v;
}

// ---------- a process's timeline ----------

export interface TimelineItem {
  /** The event's seq, or a key of its own for live-only text being streamed. */
  key: string;
  seq: number | null;
  type: string;
  at: string;
  summary: string;
  /** True while model text streams in (no persisted `model` event for that call yet). */
  streaming: boolean;
}

/**
 * A process's timeline from its SSE events: persisted events by seq (a replay after a reconnect is
 * ignored), and live-only text deltas (`model` without an id, `{call, delta}`) gathered into one
 * streaming item per model call, replaced by the persisted `model` event of that call when it lands.
 */
export class Timeline {
  readonly items: TimelineItem[] = [];
  private lastSeq = 0;
  private readonly streams = new Map<number, TimelineItem>();
  private readonly doneCalls = new Set<number>();

  constructor(private readonly keep = 1000) {}

  get lastEventId(): string | undefined {
    return this.lastSeq > 0 ? String(this.lastSeq) : undefined;
  }

  /** Applies one event; answers whether the timeline changed. */
  apply(e: FeedEvent): boolean {
    const data = e.data;
    const at = typeof data.at === "string" ? data.at : "";
    if (e.id === undefined) {
      if (e.event !== "model" || typeof data.delta !== "string" || typeof data.call !== "number") return false;
      if (this.doneCalls.has(data.call)) return false;
      let item = this.streams.get(data.call);
      if (!item) {
        item = { key: `stream:${data.call}`, seq: null, type: "model", at, summary: "", streaming: true };
        this.streams.set(data.call, item);
        this.push(item);
      }
      item.summary += data.delta;
      return true;
    }
    const seq = Number(e.id);
    if (!Number.isFinite(seq) || seq <= this.lastSeq) return false;
    this.lastSeq = seq;
    const item: TimelineItem = { key: `seq:${seq}`, seq, type: e.event, at, summary: summarize(e.event, data), streaming: false };
    if (e.event === "model" && typeof data.call === "number") {
      this.doneCalls.add(data.call);
      const streamed = this.streams.get(data.call);
      if (streamed) {
        this.streams.delete(data.call);
        Object.assign(streamed, item);
        return true;
      }
    }
    this.push(item);
    return true;
  }

  private push(item: TimelineItem) {
    this.items.push(item);
    if (this.items.length > this.keep) this.items.splice(0, this.items.length - this.keep);
  }
}

const clip = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const str = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

/** One line for a process event (the whole payload stays available as JSON in the view). */
export function summarize(type: string, d: Record<string, unknown>): string {
  switch (type) {
    case "state":
      return `${str(d.from ?? "")} → ${str(d.to ?? d.state ?? "")}`.replace(/^ → /, "");
    case "model": {
      if (d.error) return `model error: ${str(d.error)}`;
      const calls = Array.isArray(d.toolCalls) ? d.toolCalls.map((c) => (c as { name?: string }).name).join(", ") : "";
      return clip([typeof d.text === "string" && d.text ? d.text : "", calls ? `calls ${calls}` : ""].filter(Boolean).join(" · ") || "(no text)");
    }
    case "tool_call":
      return clip(`${str(d.name ?? d.tool ?? "")} ${d.arguments ? JSON.stringify(d.arguments) : ""}`.trim());
    case "tool_result":
      return clip(`${str(d.name ?? "")}: ${str(d.output ?? d.error ?? "")}`);
    case "exit":
      return `exit ${str(d.code)}: ${str(d.reason ?? "")}`;
    default: {
      const { seq: _seq, at: _at, ...rest } = d;
      return clip(JSON.stringify(rest));
    }
  }
}

// ---------- the feed connection ----------

/**
 * The reconnect bookkeeping of an SSE reader: the last id seen (sent back as Last-Event-ID, so a
 * dropped connection resumes where it stopped), duplicates after a resume dropped, and the backoff
 * before the next attempt (reset once a connection delivers something).
 */
export class FeedCursor {
  lastEventId: string | undefined;
  attempt = 0;
  status: "connecting" | "live" | "reconnecting" | "stopped" = "connecting";
  /** Connections made (the first plus reconnects). */
  connections = 0;

  constructor(lastEventId?: string) {
    this.lastEventId = lastEventId;
  }

  /** Headers of the next request. */
  headers(): Record<string, string> {
    return this.lastEventId ? { "last-event-id": this.lastEventId } : {};
  }

  opened() {
    this.connections++;
    this.status = "live";
  }

  /** Whether an event is new (not one already applied, as a server may repeat after a resume). */
  accept(id: string | undefined): boolean {
    if (id === undefined) return true;
    this.attempt = 0;
    const n = Number(id);
    const last = this.lastEventId === undefined ? Number.NEGATIVE_INFINITY : Number(this.lastEventId);
    if (Number.isFinite(n) && Number.isFinite(last) && n <= last) return false;
    this.lastEventId = id;
    return true;
  }

  /** The connection dropped (or could not be made): the delay before trying again, in ms. */
  dropped(): number {
    this.status = "reconnecting";
    const delay = Math.min(10_000, 250 * 2 ** this.attempt);
    this.attempt++;
    return delay;
  }
}
