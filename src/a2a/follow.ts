/**
 * Following a task as A2A does (SPEC §12): a blocking `SendMessage` holds until the task ends or
 * waits for its caller; a stream (`SendStreamingMessage`, `SubscribeToTask`) sends each change as
 * it happens and closes then. The kernel is the authority on the task's state (it holds the caller
 * until the state moves: `awaitTask`); the process's own event stream adds progress (its tool
 * calls) as `working` status updates while it runs.
 */
import type { StreamResponse } from "@a2a-js/sdk";
import type { Task } from "../contracts";
import { parseEventStream } from "../client";
import { artifactsOf, isFinal, statusOf, textPart } from "./convert";
import { Role, TaskState } from "@a2a-js/sdk";

export interface TaskSource {
  /** The task once it is no longer as `seen` says (or after `timeoutMs`, as it is). */
  next(seen: { state: string; timestamp: string }, timeoutMs: number): Promise<Task>;
  /** The process's event stream (SSE), or null when it cannot be read. */
  events(): Promise<ReadableStream<Uint8Array> | null>;
}

/** Each hold at the kernel; a caller gone quiet for this long simply asks again. */
const HOLD_MS = 50_000;

const seenOf = (t: Task) => ({ state: t.status.state, timestamp: t.status.timestamp });
const changed = (a: Task, b: Task) => a.status.state !== b.status.state || a.status.timestamp !== b.status.timestamp || a.artifacts.length !== b.artifacts.length;

/** Blocking: the task once it has ended or waits for input. */
export async function settle(source: TaskSource, start: Task, signal?: AbortSignal): Promise<Task> {
  let task = start;
  while (!isFinal(task.status.state) && !signal?.aborted) task = await source.next(seenOf(task), HOLD_MS);
  return task;
}

/** The A2A events that take a reader from `before` to `after`: new artifacts first, then the status. */
export function changeEvents(before: Task, after: Task): StreamResponse[] {
  const out: StreamResponse[] = [];
  const known = new Set(before.artifacts.map((a) => a.artifactId));
  for (const artifact of artifactsOf(after).filter((a) => !known.has(a.artifactId))) {
    out.push({ payload: { $case: "artifactUpdate", value: { taskId: after.id, contextId: after.contextId, artifact, append: false, lastChunk: true, metadata: undefined } } });
  }
  if (before.status.state !== after.status.state || before.status.timestamp !== after.status.timestamp) {
    out.push({ payload: { $case: "statusUpdate", value: { taskId: after.id, contextId: after.contextId, status: statusOf(after), metadata: undefined } } });
  }
  return out;
}

/** A process event worth telling an A2A reader while the task works: a tool call. */
export function progressEvent(task: Task, event: { event: string; data: string }, since: string): StreamResponse | null {
  if (event.event !== "tool_call") return null;
  let data: { at?: string; name?: string; id?: string };
  try {
    data = JSON.parse(event.data);
  } catch {
    return null;
  }
  if (!data.name || !data.at || data.at < since) return null;
  const message = { messageId: `${task.id}:progress:${data.id ?? data.at}`, contextId: task.contextId, taskId: task.id, role: Role.ROLE_AGENT, parts: [textPart(`calling ${data.name}`)], metadata: undefined, extensions: [], referenceTaskIds: [] };
  return {
    payload: {
      $case: "statusUpdate",
      value: { taskId: task.id, contextId: task.contextId, status: { state: TaskState.TASK_STATE_WORKING, timestamp: data.at, message }, metadata: { progress: { type: "tool_call", tool: data.name } } },
    },
  };
}

/**
 * The events after `start` (which the caller has already sent), until the task ends or waits for
 * input. Two sources run side by side: the kernel's state changes, which decide the end, and the
 * process's tool calls, told while the task is working.
 */
export async function* follow(source: TaskSource, start: Task, signal?: AbortSignal): AsyncGenerator<StreamResponse, void, undefined> {
  const queue: StreamResponse[] = [];
  let wake = null as (() => void) | null;
  let done = false;
  let failure: unknown = null;
  let current = start;
  const stop = new AbortController();
  const onAbort = () => {
    stop.abort();
    wake?.();
  };
  signal?.addEventListener("abort", onAbort);
  const push = (events: StreamResponse[]) => {
    queue.push(...events);
    wake?.();
  };
  const since = new Date().toISOString();

  const states = (async () => {
    try {
      while (!isFinal(current.status.state) && !stop.signal.aborted) {
        const next = await source.next(seenOf(current), HOLD_MS);
        if (changed(current, next)) push(changeEvents(current, next));
        current = next;
      }
    } catch (err) {
      failure = err;
    } finally {
      done = true;
      stop.abort();
      wake?.();
    }
  })();

  const progress = (async () => {
    try {
      const body = await source.events();
      if (!body) return;
      // Piped so the reader can be let go at once when the task settles (the process may live on).
      const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
      body.pipeTo(writable, { signal: stop.signal }).catch(() => {});
      for await (const event of parseEventStream(readable)) {
        if (done) break;
        // A process that calls tools is working, even before the kernel's own record says so.
        const e = !isFinal(current.status.state) ? progressEvent(current, event, since) : null;
        if (e) push([e]);
      }
    } catch {
      // Progress is a courtesy: the task's states still arrive from the kernel.
    }
  })();

  try {
    for (;;) {
      if (queue.length > 0) {
        yield queue.shift()!;
        continue;
      }
      // The reader went away (its signal): nothing more is sent, whatever the task does.
      if (done || signal?.aborted) break;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  } finally {
    stop.abort();
    signal?.removeEventListener("abort", onAbort);
    void Promise.allSettled([states, progress]);
  }
  if (failure) throw failure;
}
