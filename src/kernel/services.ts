import type { AgentSpec, ExitStatus } from "../contracts";
import type { LeaseAnswer, ProcessReport } from "../rpc/messages";
import { ALL_TOOL_NAMES } from "../contracts/tools";
import { openMcpSession } from "../mcp/client";
import { atomicBatches, type SqlStore } from "../lib/sql-store";
import { AgentRegistry } from "./agent-registry";
import { AuditLog } from "./audit-log";
import { BudgetLedger, type AncestorCharges, type OwnUsage } from "./budget-ledger";
import { CheckpointStore } from "./checkpoints";
import { ExitWaiters, Waiters } from "./exit-waiters";
import type { Fetcher } from "./hook-chain";
import { HookRegistry } from "./hook-registry";
import { HookRunner } from "./hook-runner";
import { McpRegistry, type McpConnect } from "./mcp-registry";
import { Outbox } from "./outbox";
import { People } from "./people";
import { ProcessTable } from "./process-table";
import { exitOf } from "./rows";
import { Spawner } from "./spawn";
import { TaskStore } from "./task-store";
import { FeedLog } from "./tenant-feed";

/** What the services need from their host (the Durable Object, or a test). */
export interface KernelHost {
  tenant(): string;
  /** The tenant's cap on live processes. */
  maxLive(): number;
  /** Hosts webhooks may reach although they are private. */
  privateHosts(): string[];
  /** Why an agent's model cannot be used here, or null (src/models, which needs the Worker's env). */
  modelProblem(spec: AgentSpec): { message: string; setting: string } | null;
  /** Delivers the start order of a new process now. */
  start(pid: number): Promise<void>;
  /** Delivers the start orders of several new processes now, together (a step's delegations). */
  startMany?(pids: number[]): Promise<void>;
  fetch?: Fetcher;
  /** Rows were added to the tenant feed (its live streams may look once the transaction is done). */
  feedWritten?(): void;
  /** Opens an MCP session (default: src/mcp/client.ts with `fetch` and `privateHosts`). */
  mcpConnect?: McpConnect;
}

export interface KernelServices {
  audit: AuditLog;
  outbox: Outbox;
  checkpoints: CheckpointStore;
  agents: AgentRegistry;
  hookRegistry: HookRegistry;
  hooks: HookRunner;
  tasks: TaskStore;
  table: ProcessTable;
  ledger: BudgetLedger;
  spawner: Spawner;
  waiters: ExitWaiters;
  mcp: McpRegistry;
  /** Every tool name a process may be given now: built-in, then the exposed MCP tools. */
  knownTools(): string[];
  /** A2A callers holding for a task's next state (src/a2a). */
  taskWaiters: Waiters<string>;
  people: People;
}

/** The kernel's services over one store, wired to each other. The store must be migrated (schema.ts). */
export function kernelServices(store: SqlStore, host: KernelHost): KernelServices {
  const feed = new FeedLog(store, host.feedWritten);
  const audit = new AuditLog(store, feed);
  const outbox = new Outbox(store.sql, store);
  const checkpoints = new CheckpointStore(store.sql);
  const mcp = new McpRegistry(store, audit, host.mcpConnect ?? ((conn) => openMcpSession(conn, fetch, host.privateHosts())));
  const knownTools = () => [...ALL_TOOL_NAMES, ...mcp.exposedNames()];
  const agents = new AgentRegistry(store, audit, knownTools);
  const hookRegistry = new HookRegistry(store, audit);
  const hooks = new HookRunner({ registry: hookRegistry, audit, tenant: host.tenant, privateHosts: host.privateHosts, ...(host.fetch ? { fetch: host.fetch } : {}) });
  const taskWaiters = new Waiters<string>();
  const tasks = new TaskStore(store.sql, audit, feed, (id) => taskWaiters.wake(id));
  const waiters = new ExitWaiters();
  const people = new People({ store, audit, feed, tasks, outbox });
  const table = new ProcessTable(store, {
    audit,
    feed,
    outbox,
    tasks,
    postTerminate: (row, exit) => hooks.postTerminateEvent(row, exit),
    onExit: (pid) => waiters.wake(pid),
    closeWaits: (row, exit) => people.exited(row.pid, exit, row.pending_input !== null),
  });
  const ledger = new BudgetLedger(store.sql, feed);
  const spawner = new Spawner(store, {
    agents,
    table,
    ledger,
    tasks,
    audit,
    outbox,
    checkpoints,
    hooks,
    tenant: host.tenant,
    maxLive: host.maxLive,
    modelProblem: host.modelProblem,
    start: host.start,
    ...(host.startMany ? { startMany: host.startMany } : {}),
    knownTools,
  });
  return { audit, outbox, checkpoints, agents, hookRegistry, hooks, tasks, table, ledger, spawner, waiters, taskWaiters, mcp, knownTools, people };
}

/**
 * Progress from a process object: keeps the table's view of a live process current, charges its new
 * usage to every ancestor (budgets are tree-wide), and renews its lease (src/kernel/leases.ts). Answers
 * what its descendants have used, which its own budget check adds to its usage, what its ancestors have
 * left, its new lease and what nobody else holds.
 */
export function recordReport(k: KernelServices, store: SqlStore, pid: number, report: ProcessReport): LeaseAnswer {
  if (!k.table.has(pid)) return { ...k.ledger.treeBudget(pid), lease: {}, free: {} };
  return store.transactionSync(() => {
    k.ledger.charge(pid, report.budgetUsed);
    k.table.recordReport(pid, report);
    const row = k.table.get(pid)!;
    // A top-level process's own task (A2A) follows whether it waits for its caller.
    if (row.task_id && row.parent_pid === null) k.tasks.followReport(row.task_id, pid, report.awaiting, k.people.waitsOnPerson(pid));
    // An exited process holds no lease (its exit gave it back): a late report is only charged.
    return row.exit ? { ...k.ledger.treeBudget(pid), lease: {}, free: {} } : k.ledger.renewLease(pid, report.state === "running");
  });
}

/** A process's report that it exited on its own. */
export interface ExitReport {
  pid: number;
  exit: ExitStatus;
  result: string | null;
  report: ProcessReport;
}

/**
 * Exit reports that arrived together (src/lib/batcher.ts), written in one transaction; should one
 * fail, each is written again in its own, so it is answered alone (`atomicBatches`). What the exits
 * owe their ancestors' tree usage is charged once per parent for the batch. Idempotent: the first
 * recorded exit wins, and is each report's answer.
 */
export function recordExits(k: KernelServices, store: SqlStore, exits: readonly ExitReport[]): (ExitStatus | Error)[] {
  return atomicBatches(store, exits, (batch) => {
    const upward: AncestorCharges = new Map();
    const answers = batch.map(({ pid, exit, result, report }) => {
      const row = k.table.get(pid);
      if (!row) return exit;
      const recorded = exitOf(row);
      if (recorded) return recorded;
      // The exit's update writes the worker's own usage columns too (one update of its row, not two).
      const charged: OwnUsage = {};
      k.ledger.charge(pid, report.budgetUsed, row, upward, charged);
      k.table.exitedOnItsOwn(row, exit, result, { ...report, charged });
      return exit;
    });
    k.ledger.chargeAncestors(upward);
    return answers;
  });
}
