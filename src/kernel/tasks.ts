import { ExitCode, type Budget, type ExitStatus, type Usage } from "../contracts";
import { a2aV1State, type CollectedTask, type Task, type TaskState } from "../contracts/tasks";
import type { TaskRow } from "./rows";

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
