import { DeliveryPolicy, ExitCode, type Budget, type ExitStatus, type Metadata, type Usage } from "../contracts";
import { a2aV1State, type CollectedTask, type Task, type TaskState } from "../contracts/tasks";
import type { ProcRow, TaskRow } from "./rows";

/** How a worker's exit ends its task (SPEC §7): 0 completed, killed or cancelled canceled, else failed. */
export function taskOutcome(exit: ExitStatus): TaskState {
  if (exit.code === ExitCode.completed) return "completed";
  if (exit.code === ExitCode.terminated || exit.code === ExitCode.killed) return "canceled";
  return "failed";
}

/** The A2A task JSON of a row; `v1` gives the A2A 1.0 state names. */
export function toTask(row: TaskRow, v1 = false): Task {
  const task: Task = {
    kind: "task",
    id: row.id,
    // A delegation belongs to its copilot's context; a top-level task is its own process's.
    contextId: `proc-${row.copilot_pid ?? row.worker_pid}`,
    status: { state: v1 ? a2aV1State(row.state) : row.state, timestamp: row.status_at, ...(row.status_message ? { message: row.status_message } : {}) },
    artifacts: row.result !== null ? [{ artifactId: `${row.id}-result`, parts: [{ kind: "text", text: row.result }] }] : [],
    metadata: {
      copilotPid: row.copilot_pid,
      workerPid: row.worker_pid,
      agent: row.agent,
      deliveryPolicy: row.delivery,
      budget: JSON.parse(row.budget) as Budget,
      requested: JSON.parse(row.requested),
      granted: JSON.parse(row.granted),
      user: JSON.parse(row.metadata),
    },
  };
  return task;
}

export function collectedOf(row: Pick<TaskRow, "id" | "worker_pid" | "agent" | "state" | "result" | "status_message">, usage: Usage): CollectedTask {
  return {
    taskId: row.id,
    pid: row.worker_pid,
    agent: row.agent,
    state: row.state,
    result: row.result,
    reason: row.state === "completed" ? null : row.status_message,
    usage,
  };
}

/** The terms of a delegation, written into its worker's metadata (what the worker and a reader of its row see). */
export interface DelegationTerms {
  taskId: string;
  copilotPid: number;
  deliveryPolicy: DeliveryPolicy;
  budget: Budget;
}

/** A delegated worker's metadata: the copilot's, with the delegation's terms (which a copilot cannot set). */
export function withDelegationTerms(metadata: Metadata, terms: DelegationTerms): Metadata {
  return { ...metadata, delegation: terms };
}

/**
 * What a delegated worker's task says of its delivery, from the terms on the worker's row, so ending
 * the task need not read it back. Only when they name this worker's task and parent: a spawn's own
 * metadata cannot pass for them.
 */
export function delegationTermsOf(worker: Pick<ProcRow, "parent_pid" | "task_id" | "agent" | "metadata">): Pick<TaskRow, "copilot_pid" | "agent" | "delivery"> | undefined {
  if (worker.parent_pid === null || !worker.metadata.includes('"delegation"')) return undefined;
  const terms = (JSON.parse(worker.metadata) as { delegation?: Partial<Record<keyof DelegationTerms, unknown>> }).delegation;
  if (!terms || terms.taskId !== worker.task_id || terms.copilotPid !== worker.parent_pid) return undefined;
  const delivery = DeliveryPolicy.safeParse(terms.deliveryPolicy);
  return delivery.success ? { copilot_pid: worker.parent_pid, agent: worker.agent, delivery: delivery.data } : undefined;
}
