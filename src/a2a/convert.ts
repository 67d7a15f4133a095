/**
 * The kernel's tasks and conversations in the A2A 1.0 data model of `@a2a-js/sdk` (its generated
 * types; the SDK's transport handlers serialize them to the wire, 1.0 or 0.3). Pure functions: the
 * kernel's task JSON (SPEC §7) is the source, nothing here is stored.
 */
import { Role, TaskState, type Artifact, type Message as A2AMessage, type Part, type Task as A2ATask } from "@a2a-js/sdk";
import { ContentTypeNotSupportedError, RequestMalformedError } from "@a2a-js/sdk/errors";
import type { Message, Task, TaskState as KernelTaskState } from "../contracts";

const STATES: Record<KernelTaskState, TaskState> = {
  submitted: TaskState.TASK_STATE_SUBMITTED,
  working: TaskState.TASK_STATE_WORKING,
  "input-required": TaskState.TASK_STATE_INPUT_REQUIRED,
  completed: TaskState.TASK_STATE_COMPLETED,
  failed: TaskState.TASK_STATE_FAILED,
  canceled: TaskState.TASK_STATE_CANCELED,
  rejected: TaskState.TASK_STATE_REJECTED,
};

export const a2aState = (state: string): TaskState => STATES[state as KernelTaskState] ?? TaskState.TASK_STATE_UNSPECIFIED;

/** The kernel's state for an A2A one (ListTasks' filter); undefined for UNSPECIFIED (no filter). */
export function kernelState(state: TaskState): KernelTaskState | undefined {
  return (Object.keys(STATES) as KernelTaskState[]).find((k) => STATES[k] === state);
}

/** The states after which a caller stops waiting: the task ended, or it waits for the caller. */
export const isFinal = (state: string) => ["completed", "failed", "canceled", "rejected", "input-required"].includes(state);
export const isTerminal = (state: string) => ["completed", "failed", "canceled", "rejected"].includes(state);

/** The tool whose calls are questions to the caller (SPEC §11). */
const QUESTION_TOOL = "request_input";

export const textPart = (text: string): Part => ({ content: { $case: "text", value: text }, metadata: undefined, filename: "", mediaType: "text/plain" });

function message(id: string, role: Role, text: string, task: { id: string; contextId: string }): A2AMessage {
  return { messageId: id, contextId: task.contextId, taskId: task.id, role, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

export function artifactsOf(task: Task): Artifact[] {
  return task.artifacts.map((a) => ({
    artifactId: a.artifactId,
    name: "result",
    description: "The agent's final answer.",
    parts: a.parts.map((p) => textPart(p.text)),
    metadata: undefined,
    extensions: [],
  }));
}

/** The status of a task: its state, when it began, and its message (an answer, a question, a reason) as the agent's. */
export function statusOf(task: Task): A2ATask["status"] {
  const { state, timestamp, message: text } = task.status;
  return { state: a2aState(state), timestamp, message: text ? message(`${task.id}:status:${timestamp}`, Role.ROLE_AGENT, text, task) : undefined };
}

/**
 * A task as A2A sees it: the same id, state, artifacts and metadata as `GET /v1/tasks/:id`, and its
 * history (the process's conversation: the caller's messages and the agent's answers) when asked.
 */
export function toA2ATask(task: Task, history: A2AMessage[] = []): A2ATask {
  return { id: task.id, contextId: task.contextId, status: statusOf(task), artifacts: artifactsOf(task), history, metadata: { ...task.metadata } };
}

/**
 * The conversation as A2A history: user messages and the agent's answers, and the agent's questions
 * (`request_input`) with the answers it got, which are an exchange with the caller too. Other tool
 * calls and their results are the process's own business, on its event stream. Ids are positions
 * (a question's adds its call id), so they are stable across reads. `historyLength`: undefined all,
 * 0 none, n the last n.
 */
export function historyOf(task: { id: string; contextId: string }, conversation: readonly Message[], historyLength?: number): A2AMessage[] {
  if (historyLength === 0) return [];
  const out: A2AMessage[] = [];
  conversation.forEach((m, i) => {
    if (m.role === "user") out.push(message(`${task.id}:${i}`, Role.ROLE_USER, m.content, task));
    else if (m.role === "assistant") {
      if (m.content.trim() !== "") out.push(message(`${task.id}:${i}`, Role.ROLE_AGENT, m.content, task));
      for (const call of m.toolCalls ?? []) {
        const question = call.name === QUESTION_TOOL ? (call.arguments as { question?: unknown }).question : undefined;
        if (typeof question === "string" && question.trim() !== "") out.push(message(`${task.id}:${i}:${call.id}`, Role.ROLE_AGENT, question, task));
      }
    } else if (m.name === QUESTION_TOOL && !m.isError) out.push(message(`${task.id}:${i}`, Role.ROLE_USER, m.content, task));
  });
  return historyLength === undefined ? out : out.slice(-historyLength);
}

const MAX_INPUT_CHARS = 1_000_000;
const MAX_ID_CHARS = 256;

const TEXT_MODES = ["text", "text/plain", "text/*", "*/*", "*"];

/**
 * The input of a message: its text parts, joined. A process reads text only: a file or data part, or
 * a text part declared as another media type, is `ContentTypeNotSupportedError`; a message from the
 * agent's side or with no text is malformed.
 */
export function inputOf(msg: A2AMessage | undefined): string {
  if (!msg) throw new RequestMalformedError("params.message is required.");
  if (msg.role === Role.ROLE_AGENT) throw new RequestMalformedError("A message sent to an agent must have the user role.");
  const texts: string[] = [];
  for (const part of msg.parts) {
    const kind = part.content?.$case;
    if (kind !== "text") throw new ContentTypeNotSupportedError(`This agent reads text parts only (text/plain); got a ${kind ?? "empty"} part.`);
    if (part.mediaType && !part.mediaType.startsWith("text/")) throw new ContentTypeNotSupportedError(`This agent reads text/plain; got a text part of type ${part.mediaType}.`);
    texts.push(part.content!.value as string);
  }
  const input = texts.join("\n");
  if (input.trim() === "") throw new RequestMalformedError("The message has no text.");
  // The same bounds as POST /v1/procs (input) and its idempotency key (the message id).
  if (input.length > MAX_INPUT_CHARS) throw new RequestMalformedError(`The message's text is over ${MAX_INPUT_CHARS} characters.`);
  if (msg.messageId.length > MAX_ID_CHARS || msg.contextId.length > MAX_ID_CHARS) throw new RequestMalformedError(`messageId and contextId are limited to ${MAX_ID_CHARS} characters.`);
  return input;
}

/** A client that accepts no text output cannot be answered: the agent only writes text. */
export function checkOutputModes(accepted: readonly string[] | undefined) {
  if (!accepted || accepted.length === 0) return;
  if (!accepted.some((m) => TEXT_MODES.includes(m.toLowerCase()))) {
    throw new ContentTypeNotSupportedError(`This agent answers in text/plain, which acceptedOutputModes (${accepted.join(", ")}) does not include.`);
  }
}
