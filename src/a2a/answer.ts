/**
 * `SendMessage` with the id of a task that is not an interactive agent's conversation: the answer
 * to a worker's question or approval prompt (SPEC §11). The one place the A2A endpoint answers a
 * waiting task, so the §11 reply joins here.
 */
import { UnsupportedOperationError } from "@a2a-js/sdk/errors";
import type { Task } from "../contracts";
import type { KernelForRoutes } from "../rpc/stubs";

export async function answerTask(_kernel: KernelForRoutes, task: Task, _text: string, _actor: string): Promise<Task> {
  // joins replyTask when §11 lands: `return orThrow(await kernel.replyTask(task.id, text, { actor }))`
  // (its `409 task_not_waiting` becomes this same refusal in errors.ts); the caller then follows the
  // task, `working` again, as after any send.
  throw new UnsupportedOperationError(`Task ${task.id} is not waiting for input (task_not_waiting): only an interactive agent's task takes further messages.`);
}
