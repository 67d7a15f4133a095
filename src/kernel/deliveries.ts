import type { Process } from "../contracts";
import type { ProcessForKernel } from "../rpc/stubs";
import { atomicBatches, type SqlStore } from "../lib/sql-store";
import { toApproval } from "./approvals";
import type { OutboxEntry } from "./outbox";
import { toProcess } from "./rows";
import type { KernelServices } from "./services";
import { toTask } from "./tasks";
import type { FeedType } from "./tenant-feed";

/** What delivering an outbox entry needs of the kernel. */
export interface DeliveryHost {
  k: KernelServices;
  store: SqlStore;
  process(pid: number): ProcessForKernel;
}

/** A start that landed: recorded with the others of its drain (`deliverDue`). */
interface Started {
  pid: number;
  state: Process["state"];
  taskId: string | null;
  /** Its row was written `running` with the start order: nothing to record of the process. */
  running: boolean;
  /** Its task was written `working` with the start order: nothing to record of the task. */
  taskWorking: boolean;
}

/** What to write once a delivery landed, in the transaction that removes its outbox entries. */
type AfterDelivery = (() => void) | { started: Started } | void;

/**
 * Delivers one outbox entry to its receiver (throws to be retried): starts, stops, post_terminate
 * webhooks, task results and questions for copilots, decided approvals and answers for the
 * processes waiting on them. Receivers apply each message once; this may run more than once.
 */
export async function deliverEntry(entry: OutboxEntry, host: DeliveryHost): Promise<AfterDelivery> {
  const { k } = host;
  const process = () => host.process(entry.pid);
  switch (entry.kind) {
    case "start": {
      const { config, start: order } = entry.payload;
      const start = "input" in order ? order : k.checkpoints.startOf(order.checkpointId);
      // A checkpoint is never deleted, so a missing one is a broken store, not a retryable delivery.
      if (!start) throw new Error(`checkpoint of process ${entry.pid} is missing`);
      const state = await process().start(config, start);
      return { started: { pid: entry.pid, state, taskId: config.taskId, running: entry.payload.running === true, taskWorking: entry.payload.taskWorking === true } };
    }
    case "terminate":
      return process().terminate(entry.payload);
    case "post_terminate": {
      const warnings = await k.hooks.postTerminate(entry.payload);
      return () => k.table.addWarnings(entry.pid, warnings, "post_terminate");
    }
    case "deliver":
      return process().deliverTask(entry.payload.task, entry.payload.delivery);
    case "approval":
      return process().deliverApproval(entry.payload);
    case "input":
      return process().deliverInput(entry.payload.toolCallId, entry.payload.answer);
  }
}

/**
 * Groups due entries into deliveries: a copilot's task results (`deliver`) travel together as one
 * call to it (applied together, one wake), in id order; every other entry goes alone. Batches keep
 * the order of their first entry.
 */
export function batchEntries(due: readonly OutboxEntry[]): OutboxEntry[][] {
  const batches: OutboxEntry[][] = [];
  const results = new Map<number, OutboxEntry[]>();
  for (const entry of due) {
    if (entry.kind !== "deliver") {
      batches.push([entry]);
      continue;
    }
    const open = results.get(entry.pid);
    if (open) open.push(entry);
    else {
      const batch = [entry];
      results.set(entry.pid, batch);
      batches.push(batch);
    }
  }
  return batches;
}

/** Delivers one batch of `batchEntries` (throws to be retried, the whole batch: receivers apply each item once). */
export async function deliverBatch(batch: readonly OutboxEntry[], host: DeliveryHost): Promise<AfterDelivery> {
  if (batch.length === 1 && batch[0]!.kind !== "deliver") return deliverEntry(batch[0]!, host);
  const items = batch.map((e) => (e.kind === "deliver" ? e.payload : null)).filter((p): p is NonNullable<typeof p> => p !== null);
  if (items.length !== batch.length) throw new Error("only task results are delivered in batches");
  return host.process(batch[0]!.pid).deliverTasks(items);
}

/**
 * Delivers due outbox entries, batched (`batchEntries`), all at once; then ONE transaction records
 * what landed (each batch removed, its follow-up written) and what failed (retried later as a whole),
 * so a step's 64 starts cost the kernel one commit, not 64. `delivering` holds the ids in flight so
 * two drains never send one twice.
 */
export async function deliverDue(due: readonly OutboxEntry[], host: DeliveryHost, delivering: Set<number>, tenant: string): Promise<void> {
  if (due.length === 0) return;
  const { outbox } = host.k;
  const batches = batchEntries(due);
  const outcomes = await Promise.allSettled(batches.map((batch) => deliverBatch(batch, host)));
  const started: Started[] = [];
  const landed: number[] = [];
  const followUps: { batch: OutboxEntry[]; after: (() => void) | void }[] = [];
  const failed: { batch: OutboxEntry[]; err: unknown }[] = [];
  outcomes.forEach((outcome, i) => {
    const batch = batches[i]!;
    if (outcome.status === "rejected") failed.push({ batch, err: outcome.reason });
    else if (outcome.value && typeof outcome.value === "object") {
      started.push(outcome.value.started);
      for (const entry of batch) landed.push(entry.id);
    } else followUps.push({ batch, after: outcome.value });
  });
  const followUp = ({ batch, after }: (typeof followUps)[number]) => {
    after?.();
    outbox.delivered(batch.map((e) => e.id));
  };
  const rest = () => {
    for (const { batch, err } of failed) {
      const entry = batch[0]!;
      console.warn(`kernel ${tenant}: ${entry.kind} ×${batch.length} for ${entry.pid} failed (attempt ${entry.attempts + 1}): ${err instanceof Error ? err.message : String(err)}`);
      for (const e of batch) outbox.retryLater(e);
    }
    // The starts of a drain are recorded together: a few statements for a step's 64 workers.
    host.k.table.recordStarts(started.filter((s) => !s.running));
    host.k.tasks.markWorkingMany(started.flatMap((s) => (s.taskId && !s.taskWorking ? [{ id: s.taskId, workerPid: s.pid }] : [])));
    outbox.delivered(landed);
  };
  try {
    // Nothing landed that asks for a write but its removal (starts of rows already running with no task
    // to move; results, stops, decisions and answers, which their receivers record): the removal joins
    // the kernel's next transaction, so a spawn's start, or a batch of results for a copilot, costs no
    // commit of its own. Should this incarnation die first, they are delivered again and taken once.
    if (failed.length === 0 && followUps.every((f) => !f.after) && started.every((s) => s.running && (!s.taskId || s.taskWorking))) {
      outbox.deliveredLater([...landed, ...followUps.flatMap((f) => f.batch.map((e) => e.id))]);
      return;
    }
    try {
      host.store.transactionSync(() => {
        followUps.forEach(followUp);
        rest();
      });
    } catch {
      // A follow-up failed: each is written alone, a failing one retried later, and the rest lands.
      atomicBatches(host.store, followUps, (batch) => batch.map(followUp)).forEach((done, i) => {
        if (done instanceof Error) failed.push({ batch: followUps[i]!.batch, err: done });
      });
      host.store.transactionSync(rest);
    }
  } finally {
    for (const e of due) delivering.delete(e.id);
  }
}

/** What a tenant feed row names, as it is now (`GET /v1/events`). */
export function feedItem(k: KernelServices, type: FeedType, ref: string): object | null {
  switch (type) {
    case "proc": {
      const row = k.table.get(Number(ref));
      return row ? { process: toProcess(row) } : null;
    }
    case "task": {
      const row = k.tasks.get(ref);
      return row ? { task: toTask(row) } : null;
    }
    case "audit": {
      const entry = k.audit.page(Number(ref) - 1, 1)[0];
      return entry ? { entry } : null;
    }
    case "approval": {
      const row = k.people.approvals.get(ref);
      return row ? { approval: toApproval(row) } : null;
    }
  }
}
