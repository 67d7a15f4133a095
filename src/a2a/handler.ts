/**
 * The A2A request handler of one agent, for one caller (SPEC §12): the SDK's `A2ARequestHandler`
 * interface, implemented over the kernel. The SDK's transport handlers (JSON-RPC 1.0 and 0.3) parse
 * the requests, call these methods and serialize what they return; the tasks are the kernel's own
 * (durable, the same as `GET /v1/tasks/:id`), never a copy kept here.
 */
import type {
  AgentCard,
  CancelTaskRequest,
  DeleteTaskPushNotificationConfigRequest,
  GetExtendedAgentCardRequest,
  GetTaskPushNotificationConfigRequest,
  GetTaskRequest,
  ListTaskPushNotificationConfigsRequest,
  ListTaskPushNotificationConfigsResponse,
  ListTasksRequest,
  ListTasksResponse,
  Message as A2AMessage,
  SendMessageRequest,
  StreamResponse,
  SubscribeToTaskRequest,
  Task as A2ATask,
  TaskPushNotificationConfig,
} from "@a2a-js/sdk";
import { ExtendedAgentCardNotConfiguredError, PushNotificationNotSupportedError, RequestMalformedError, TaskNotCancelableError, TaskNotFoundError, UnsupportedOperationError } from "@a2a-js/sdk/errors";
import type { A2ARequestHandler } from "@a2a-js/sdk/server";
import type { AgentSpec, Message, Task } from "../contracts";
import type { Env } from "../env";
import { forRoutes, type KernelForRoutes } from "../rpc/stubs";
import { answerQuestion, decideForTask, replyOf } from "./answer";
import { agentCard } from "./card";
import { checkOutputModes, historyOf, inputOf, isTerminal, kernelState, toA2ATask } from "./convert";
import { orThrow } from "./errors";
import { follow, settle, type TaskSource } from "./follow";

export interface A2AScope {
  env: Env;
  tenant: string;
  spec: AgentSpec;
  /** The audit log's actor for this caller. */
  actor: string;
  /** The agent's endpoint, as the card advertises it. */
  baseUrl: string;
  /** The caller went away: stop holding for it. */
  signal?: AbortSignal;
}

const MAX_PAGE = 100;
const RPC_ATTEMPTS = 3;
const DEFAULT_PAGE = 50;
const CONVERSATION_PAGE = 500;

export class KernelA2AHandler implements A2ARequestHandler {
  private readonly kernel: KernelForRoutes;

  constructor(private readonly scope: A2AScope) {
    this.kernel = forRoutes.kernel(scope.env, scope.tenant);
  }

  async getAgentCard(): Promise<AgentCard> {
    return agentCard(this.scope.spec, this.scope.baseUrl);
  }

  async getAuthenticatedExtendedAgentCard(_params: GetExtendedAgentCardRequest): Promise<AgentCard> {
    throw new ExtendedAgentCardNotConfiguredError("This agent has no extended card: its card is already behind the token.");
  }

  // ---------- messages ----------

  async sendMessage(params: SendMessageRequest): Promise<A2AMessage | A2ATask> {
    const started = await this.send(params);
    const task = params.configuration?.returnImmediately ? started : await settle(this.source(started), started, this.scope.signal);
    return this.view(task, params.configuration?.historyLength);
  }

  async *sendMessageStream(params: SendMessageRequest): AsyncGenerator<StreamResponse, void, undefined> {
    const started = await this.send(params);
    yield { payload: { $case: "task", value: await this.view(started, params.configuration?.historyLength) } };
    yield* follow(this.source(started), started, this.scope.signal);
  }

  /**
   * A new task (no `taskId`): a top-level process of this agent, spawned like any other (hooks,
   * limits, budgets, audit), its task made with it; the message id is the idempotency key, so a
   * retried send answers the same task. With a `taskId`: a decision on the task's approval prompt,
   * the answer to its open question, or else an interactive agent's next message (answer.ts).
   */
  private async send(params: SendMessageRequest): Promise<Task> {
    const msg = params.message;
    if (!msg) throw new RequestMalformedError("params.message is required.");
    checkHistoryLength(params.configuration?.historyLength);
    checkOutputModes(params.configuration?.acceptedOutputModes);
    if (!msg.taskId) {
      // A new task's input is text; only a message to an existing task may be a decision (a data part).
      const { task } = orThrow(
        await this.kernel.spawnTask(this.scope.spec.name, inputOf(msg), {
          actor: this.scope.actor,
          metadata: { a2a: { messageId: msg.messageId, ...(msg.contextId ? { contextId: msg.contextId } : {}) } },
          ...(msg.messageId ? { idempotencyKey: msg.messageId } : {}),
        }),
      );
      return task;
    }
    const reply = replyOf(msg);
    const task = await this.ownTask(msg.taskId);
    if (isTerminal(task.status.state)) throw new UnsupportedOperationError(`Task ${task.id} has ended (${task.status.state}) and takes no further messages.`);
    if (msg.contextId && msg.contextId !== task.contextId) throw new RequestMalformedError(`contextId ${msg.contextId} is not task ${task.id}'s (${task.contextId}).`);
    if (reply.kind === "decision") {
      await decideForTask(this.kernel, task, reply, this.scope.actor);
      // Decided in the kernel's transaction: the task is `working` again (or waits on what is left).
      return this.ownTask(task.id);
    }
    // An open question comes first, for an interactive agent too: its process cannot take a next
    // message before the question is answered.
    if (await answerQuestion(this.kernel, task, reply.text, this.scope.actor)) return this.ownTask(task.id);
    // The process's own mode (the agent may have been registered again since).
    const process = task.metadata.copilotPid === null ? await this.kernel.getProcess(task.metadata.workerPid) : null;
    if (process?.ok && process.value.mode === "interactive") {
      orThrow(await forRoutes.process(this.scope.env, this.scope.tenant, task.metadata.workerPid).message(reply.text));
      // The message woke the process: the task leaves the state it waited in (the process has told
      // the kernel by the time `message` returns), and is followed from there.
      return task.status.state === "input-required" ? this.source(task).next({ state: task.status.state, timestamp: task.status.timestamp }, 10_000) : task;
    }
    throw new UnsupportedOperationError({
      message: `Task ${task.id} is not waiting for input (task_not_waiting): it is ${task.status.state}, and only an interactive agent's task takes further messages.`,
      metadata: { code: "task_not_waiting" },
    });
  }

  // ---------- tasks ----------

  async getTask(params: GetTaskRequest): Promise<A2ATask> {
    checkHistoryLength(params.historyLength);
    return this.view(await this.ownTask(params.id), params.historyLength);
  }

  /** This agent's tasks (every one it works on: spawned over A2A or delegated to it), oldest first. */
  async listTasks(params: ListTasksRequest): Promise<ListTasksResponse> {
    const pageSize = params.pageSize ?? DEFAULT_PAGE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE) throw new RequestMalformedError(`pageSize must be between 1 and ${MAX_PAGE}.`);
    if (params.pageToken && !/^\d+$/.test(params.pageToken)) throw new RequestMalformedError("pageToken is not one this server gave.");
    if (params.statusTimestampAfter && Number.isNaN(Date.parse(params.statusTimestampAfter))) throw new RequestMalformedError("statusTimestampAfter must be an ISO 8601 time.");
    checkHistoryLength(params.historyLength);
    const state = kernelState(params.status);
    const page = await this.kernel.listTasks({ agent: this.scope.spec.name, ...(state ? { state } : {}), limit: pageSize, ...(params.pageToken ? { cursor: params.pageToken } : {}), total: true });
    const after = params.statusTimestampAfter ? Date.parse(params.statusTimestampAfter) : null;
    const tasks = page.items.filter((t) => (!params.contextId || t.contextId === params.contextId) && (after === null || Date.parse(t.status.timestamp) > after));
    const views = await Promise.all(tasks.map((t) => this.view(t, params.historyLength ?? 0)));
    if (!params.includeArtifacts) for (const v of views) v.artifacts = [];
    return { tasks: views, nextPageToken: page.nextCursor ?? "", pageSize, totalSize: page.total ?? views.length };
  }

  /** Kills the task's process (and its descendants); a canceled task is answered as it is. */
  async cancelTask(params: CancelTaskRequest): Promise<A2ATask> {
    const task = await this.ownTask(params.id);
    if (task.status.state === "canceled") return this.view(task);
    if (isTerminal(task.status.state)) throw new TaskNotCancelableError(`Task ${task.id} has already ended (${task.status.state}).`);
    const canceled = await this.kernel.cancelTask(task.id, { actor: this.scope.actor });
    // Ended meanwhile on its own: as a second cancel would find it.
    if (!canceled.ok && canceled.error.code !== "task_not_cancelable") orThrow(canceled);
    const now = await this.ownTask(task.id);
    if (now.status.state !== "canceled") throw new TaskNotCancelableError(`Task ${task.id} has already ended (${now.status.state}).`);
    return this.view(now);
  }

  async *resubscribe(params: SubscribeToTaskRequest): AsyncGenerator<StreamResponse, void, undefined> {
    const task = await this.ownTask(params.id);
    if (isTerminal(task.status.state)) throw new UnsupportedOperationError(`Task ${task.id} has ended (${task.status.state}): there is nothing to subscribe to.`);
    yield { payload: { $case: "task", value: await this.view(task) } };
    yield* follow(this.source(task), task, this.scope.signal);
  }

  // ---------- push notifications: not offered (the card says pushNotifications: false) ----------

  async createTaskPushNotificationConfig(_params: TaskPushNotificationConfig): Promise<TaskPushNotificationConfig> {
    throw new PushNotificationNotSupportedError("Push notifications are not supported: stream the task or poll it.");
  }
  async getTaskPushNotificationConfig(_params: GetTaskPushNotificationConfigRequest): Promise<TaskPushNotificationConfig> {
    throw new PushNotificationNotSupportedError("Push notifications are not supported.");
  }
  async listTaskPushNotificationConfigs(_params: ListTaskPushNotificationConfigsRequest): Promise<ListTaskPushNotificationConfigsResponse> {
    throw new PushNotificationNotSupportedError("Push notifications are not supported.");
  }
  async deleteTaskPushNotificationConfig(_params: DeleteTaskPushNotificationConfigRequest): Promise<void> {
    throw new PushNotificationNotSupportedError("Push notifications are not supported.");
  }

  // ---------- helpers ----------

  /** A task of this tenant worked on by this agent; any other id is not found, as one that never existed. */
  private async ownTask(id: string): Promise<Task> {
    if (!id || id.trim() === "") throw new RequestMalformedError("A task id is required.");
    const found = await this.kernel.getTask(id);
    if (!found.ok || found.value.metadata.agent !== this.scope.spec.name) throw new TaskNotFoundError(`No task ${id} of agent ${this.scope.spec.name}.`);
    return found.value;
  }

  /** The A2A view of a task, with `historyLength` of its process's conversation. */
  private async view(task: Task, historyLength?: number): Promise<A2ATask> {
    if (historyLength === 0) return toA2ATask(task);
    return toA2ATask(task, historyOf(task, await this.conversation(task.metadata.workerPid), historyLength));
  }

  private async conversation(pid: number): Promise<Message[]> {
    const process = forRoutes.process(this.scope.env, this.scope.tenant, pid);
    const messages: Message[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await process.conversationPage({ limit: CONVERSATION_PAGE, ...(cursor ? { cursor } : {}) });
      // A process that never started (queued) has no conversation yet.
      if (!page.ok) return messages;
      messages.push(...page.value.items);
      if (!page.value.nextCursor) return messages;
      cursor = page.value.nextCursor;
    }
  }

  private source(task: Task): TaskSource {
    const { env, tenant } = this.scope;
    return {
      // A fresh stub each attempt: one whose object was reset stays broken.
      next: async (seen, timeoutMs) => orThrow(await retried(() => forRoutes.kernel(env, tenant).awaitTask(task.id, seen, timeoutMs))),
      // Let go by canceling the body (follow pipes it under its own signal), not by aborting the call.
      events: async () => {
        const res = await forRoutes.process(env, tenant, task.metadata.workerPid).fetch(new Request("https://process/events"));
        return res.ok ? res.body : null;
      },
    };
  }
}

function checkHistoryLength(n: number | undefined) {
  if (n !== undefined && !(Number.isInteger(n) && n >= 0)) throw new RequestMalformedError("historyLength must be a whole number, 0 or more.");
}

/**
 * A hold at the kernel that broke (the kernel object was evicted or restarted mid-call) is asked
 * again: the task is durable, so a caller following it need not see the restart.
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= RPC_ATTEMPTS) throw err;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
