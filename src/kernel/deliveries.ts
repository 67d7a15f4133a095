import type { ProcessForKernel } from "../rpc/stubs";
import type { SqlStore } from "../lib/sql-store";
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

/**
 * Delivers one outbox entry to its receiver (throws to be retried): starts, stops, post_terminate
 * webhooks, task results and questions for copilots, decided approvals and answers for the
 * processes waiting on them. Receivers apply each message once; this may run more than once.
 */
export async function deliverEntry(entry: OutboxEntry, host: DeliveryHost): Promise<void> {
  const { k } = host;
  const process = () => host.process(entry.pid);
  switch (entry.kind) {
    case "start": {
      const { config, start: order } = entry.payload;
      const start = "input" in order ? order : k.checkpoints.startOf(order.checkpointId);
      // A checkpoint is never deleted, so a missing one is a broken store, not a retryable delivery.
      if (!start) throw new Error(`checkpoint of process ${entry.pid} is missing`);
      const state = await process().start(config, start);
      host.store.transactionSync(() => {
        k.table.recordStart(entry.pid, state);
        if (config.taskId) k.tasks.markWorking(config.taskId, entry.pid);
      });
      return;
    }
    case "terminate":
      return process().terminate(entry.payload);
    case "post_terminate":
      return k.table.addWarnings(entry.pid, await k.hooks.postTerminate(entry.payload), "post_terminate");
    case "deliver":
      return process().deliverTask(entry.payload.task, entry.payload.delivery);
    case "approval":
      return process().deliverApproval(entry.payload);
    case "input":
      return process().deliverInput(entry.payload.toolCallId, entry.payload.answer);
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
