import type { AgentSpec } from "../contracts";
import type { SqlStore } from "../lib/sql-store";
import { AgentRegistry } from "./agent-registry";
import { AuditLog } from "./audit-log";
import { BudgetLedger } from "./budget-ledger";
import { CheckpointStore } from "./checkpoints";
import { ExitWaiters } from "./exit-waiters";
import type { Fetcher } from "./hook-chain";
import { HookRegistry } from "./hook-registry";
import { HookRunner } from "./hook-runner";
import { Outbox } from "./outbox";
import { People } from "./people";
import { ProcessTable } from "./process-table";
import { Spawner } from "./spawn";
import { TaskStore } from "./task-store";

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
  fetch?: Fetcher;
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
  people: People;
}

/** The kernel's services over one store, wired to each other. The store must be migrated (schema.ts). */
export function kernelServices(store: SqlStore, host: KernelHost): KernelServices {
  const audit = new AuditLog(store.sql);
  const outbox = new Outbox(store.sql);
  const checkpoints = new CheckpointStore(store.sql);
  const agents = new AgentRegistry(store, audit);
  const hookRegistry = new HookRegistry(store, audit);
  const hooks = new HookRunner({ registry: hookRegistry, audit, tenant: host.tenant, privateHosts: host.privateHosts, ...(host.fetch ? { fetch: host.fetch } : {}) });
  const tasks = new TaskStore(store.sql, audit);
  const waiters = new ExitWaiters();
  const people = new People({ store, audit, tasks, outbox });
  const table = new ProcessTable(store, {
    audit,
    outbox,
    tasks,
    postTerminate: (row, exit) => hooks.postTerminateEvent(row, exit),
    onExit: (pid) => waiters.wake(pid),
    closeWaits: (pid, exit) => people.exited(pid, exit),
  });
  const ledger = new BudgetLedger(store.sql);
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
  });
  return { audit, outbox, checkpoints, agents, hookRegistry, hooks, tasks, table, ledger, spawner, waiters, people };
}
