import type { CollectedTask, ExitStatus, Message, ProcessEvent, ProcessEventType } from "../contracts";
import { MCP_PREFIX } from "../contracts/mcp";
import type { SqlStore } from "../lib/sql-store";
import { Conversation } from "./conversation";
import { EventLog } from "./event-log";
import { Inbox } from "./inbox";
import { Journal, journalKey } from "./journal";
import { exitedLoop, type ExitRecord, type LoopState, type Stored } from "./machine";
import { resultOfMessage } from "./tools/result";
import type { ProcessConfig } from "../rpc/messages";

/** What one commit changes; all of it lands in one transaction, or none of it. */
export interface ProcessChange {
  loop?: LoopState;
  append?: readonly Message[];
  events?: readonly (readonly [ProcessEventType, unknown])[];
  /** The process ends: its exit status, its result, and whether the kernel already knows. */
  exit?: { status: ExitStatus; result: string | null; reported?: boolean };
}

/** The change that ends a process: the loop exited, its status and result, then the `state` and `exit` events. */
export function exitChange(
  loop: LoopState,
  status: ExitStatus,
  result: string | null,
  also: { append?: readonly Message[]; events?: ProcessChange["events"]; reported?: boolean } = {},
): ProcessChange {
  return {
    loop: exitedLoop(loop),
    append: also.append ?? [],
    events: [...(also.events ?? []), ["state", { state: "zombie" }], ["exit", { ...status, result }]],
    exit: { status, result, reported: also.reported ?? false },
  };
}

/**
 * A process's storage: its config, loop state and exit (a small key-value table), its conversation,
 * event log, inbox and journal, all in the object's SQLite. Holds the state it read in memory, so
 * every reader sees what the last commit wrote.
 */
export class ProcessStore {
  readonly conversation: Conversation;
  readonly events: EventLog;
  readonly inbox: Inbox;
  readonly journal: Journal;
  private cfg: ProcessConfig | null = null;
  private state: LoopState | null = null;
  private ended: ExitRecord | null = null;

  /** `published` receives events once their write is done (for live streams and a copilot's progress). */
  constructor(
    private readonly storage: SqlStore,
    private readonly published: (events: ProcessEvent[]) => void,
  ) {
    storage.sql.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    this.conversation = new Conversation(storage.sql);
    this.events = new EventLog(storage.sql);
    this.inbox = new Inbox(storage.sql);
    this.journal = new Journal(storage);
  }

  /** Reads the stored process once per incarnation; false when there is none. */
  load(): boolean {
    if (!this.cfg) {
      this.cfg = this.read<ProcessConfig>("config");
      this.state = this.read<LoopState>("loop");
      const status = this.read<ExitStatus>("exit");
      this.ended = status ? { status, result: this.read<string>("result"), reported: this.read<boolean>("exitReported") ?? false } : null;
    }
    return this.cfg !== null;
  }

  get config(): ProcessConfig {
    return this.cfg!;
  }
  get loop(): LoopState {
    return this.state!;
  }
  get exit(): ExitRecord | null {
    return this.ended;
  }
  get stored(): Stored {
    return { loop: this.loop, exit: this.ended };
  }

  /**
   * A new process: its config, first loop state and messages. A restored turn's results are in its
   * conversation; the journal learns them, so they are not run again. Its MCP calls without a result
   * may be in flight in the process it was saved from (a checkpoint does not wait for the step): they
   * are marked sent, so only a read-only or idempotent one goes out again, the others answer
   * `interrupted`.
   */
  create(config: ProcessConfig, loop: LoopState, messages: readonly Message[], events: readonly (readonly [ProcessEventType, unknown])[]) {
    this.storage.transactionSync(() => {
      this.write("config", config);
      this.cfg = config;
      if (loop.phase === "tools") {
        const pending = new Set(loop.pendingCalls.map((c) => c.id));
        for (const m of messages) {
          if (m.role === "tool" && pending.delete(m.toolCallId)) this.journal.record(journalKey.tool(m.toolCallId), resultOfMessage(m));
        }
        for (const call of loop.pendingCalls) if (pending.has(call.id) && call.name.startsWith(MCP_PREFIX)) this.journal.markSent(call.id);
      }
      this.commit({ loop, append: messages, events });
    });
  }

  commit(change: ProcessChange): void {
    const written: ProcessEvent[] = [];
    try {
      this.storage.transactionSync(() => {
        if (change.loop) this.write("loop", change.loop);
        if (change.exit) {
          this.write("exit", change.exit.status);
          this.write("result", change.exit.result);
          this.write("exitReported", change.exit.reported ?? false);
        }
        if (change.append?.length) this.conversation.append(change.append);
        for (const [type, data] of change.events ?? []) written.push(this.events.insert(type, data));
      });
    } catch (err) {
      this.conversation.forgetSize();
      throw err;
    }
    if (change.loop) this.state = change.loop;
    if (change.exit) this.ended = { status: change.exit.status, result: change.exit.result, reported: change.exit.reported ?? false };
    this.published(written);
    if (change.exit) this.events.close();
  }

  /** One event on its own. */
  emit(type: ProcessEventType, data: unknown) {
    this.published([this.events.insert(type, data)]);
  }

  /** The kernel acknowledged the exit. */
  markReported() {
    this.write("exitReported", true);
    this.ended = { ...this.ended!, reported: true };
  }

  /**
   * Before a model call: ended immediate and deferred tasks join the conversation, and the journal
   * of the step before is dropped (none of its entries can be asked for again).
   */
  beginModelCall() {
    this.storage.transactionSync(() => {
      for (const task of this.inbox.takeForConversation()) {
        const note: Message = { role: "user", content: describeTaskResult(task) };
        // A result with no room left is announced without its text (collect and GET /v1/tasks/:id have it).
        this.conversation.append([this.conversation.fits([note]).ok ? note : { role: "user", content: describeTaskResult({ ...task, result: null }) }]);
      }
      const canReply = this.config.tools.includes("reply_task");
      for (const task of this.inbox.takeQuestionsForConversation()) {
        const note: Message = { role: "user", content: describeTaskQuestion(task, canReply) };
        const short = { ...task, question: `[too long to show here: GET /v1/tasks/${task.taskId}]` };
        this.conversation.append([this.conversation.fits([note]).ok ? note : { role: "user", content: describeTaskQuestion(short, canReply) }]);
      }
      this.journal.clear();
    });
  }

  private read<T>(key: string): T | null {
    const row = this.storage.sql.exec<{ value: string }>("SELECT value FROM kv WHERE key = ?", key).toArray()[0];
    return row ? (JSON.parse(row.value) as T) : null;
  }
  private write(key: string, value: unknown) {
    this.storage.sql.exec("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", key, JSON.stringify(value));
  }
}

/** A task result joins the conversation in full up to this size; GET /v1/tasks/:id has all of it. */
const MAX_INJECTED_RESULT_CHARS = 64 * 1024;

export function describeTaskResult(t: CollectedTask): string {
  if (t.result && t.result.length > MAX_INJECTED_RESULT_CHARS) {
    t = { ...t, result: `${t.result.slice(0, MAX_INJECTED_RESULT_CHARS)}… [${t.result.length - MAX_INJECTED_RESULT_CHARS} more characters: GET /v1/tasks/${t.taskId}]` };
  }
  const outcome = t.state === "completed" ? `completed: ${t.result ?? ""}` : `${t.state}${t.reason ? ` (${t.reason})` : ""}${t.result ? `: ${t.result}` : ""}`;
  return `[task ${t.taskId} from ${t.agent} (pid ${t.pid}) ${outcome}]`;
}

/** A worker's question as it joins its copilot's conversation, with how it can be answered. */
export function describeTaskQuestion(t: CollectedTask, canReply: boolean): string {
  const how = canReply
    ? `Answer it with reply_task {"taskId": "${t.taskId}", "message": "..."}; the worker waits until then.`
    : `reply_task is not among your tools: a person can answer it (POST /v1/tasks/${t.taskId}/reply); the worker waits until then.`;
  return `[task ${t.taskId} from ${t.agent} (pid ${t.pid}) needs input: ${t.question ?? ""}]\n${how}`;
}
