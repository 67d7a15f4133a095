import type { CollectedTask, ExitStatus, Message, ProcessEvent, ProcessEventType } from "../contracts";
import { MCP_PREFIX } from "../contracts/mcp";
import type { SqlStore } from "../lib/sql-store";
import { admit, Conversation, storedBytes } from "./conversation";
import { EventLog } from "./event-log";
import { Inbox } from "./inbox";
import { Journal, journalKey } from "./journal";
import { exitedLoop, type ExitRecord, type LoopState, type Stored } from "./machine";
import { resultOfMessage } from "./tools/result";
import { CONVERSATION_BYTES_KEY, createTables, migrateProcessSchema, PROCESS_SCHEMA_VERSION, SCHEMA_VERSION_KEY, tableNames } from "./schema";
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

/** The kv keys of a process's state. */
const KEY = { config: "config", loop: "loop", exit: "exit", result: "result", exitReported: "exitReported" } as const;

/**
 * A process's storage: its config, loop state and exit (a small key-value table), its conversation,
 * event log, inbox and journal, all in the object's SQLite (tables: src/process/schema.ts). Holds the
 * state it read in memory, so every reader sees what the last commit wrote. An incarnation reads it
 * once (the table names, then every kv row at once); a commit writes what changed, one statement per
 * table, and a new object's first commit makes its tables.
 */
export class ProcessStore {
  readonly conversation: Conversation;
  readonly events: EventLog;
  readonly inbox: Inbox;
  readonly journal: Journal;
  private cfg: ProcessConfig | null = null;
  private state: LoopState | null = null;
  private ended: ExitRecord | null = null;
  /** Whether the object's tables exist (false: a new object); undefined until the first load of this incarnation. */
  private tables: boolean | undefined = undefined;
  /** Open transactions: a transaction inside another joins it (a throw rolls back the outermost). */
  private depth = 0;
  /** The kv rows as stored (JSON text), so a commit leaves out a value that did not change; empty after a rollback. */
  private readonly kv = new Map<string, string>();

  /** `published` receives events once their write is done (for live streams and a copilot's progress). */
  constructor(
    private readonly storage: SqlStore,
    private readonly published: (events: ProcessEvent[]) => void,
  ) {
    this.conversation = new Conversation(storage.sql);
    this.events = new EventLog(storage.sql);
    this.inbox = new Inbox(storage.sql);
    // The journal's transactions join the store's (a result is recorded in the commit that persists it).
    this.journal = new Journal({ sql: storage.sql, transactionSync: (fn) => this.transaction(fn), ...(storage.sync ? { sync: () => storage.sync!() } : {}) }, () => this.ended !== null);
  }

  /**
   * Reads the stored process once per incarnation (bringing the schema of an object written by older
   * code forward first); false when there is none. A new object has no tables until its `create`.
   */
  load(): boolean {
    if (this.cfg) return true;
    if (!this.tables) {
      const names = tableNames(this.storage.sql);
      this.tables = names.has("kv");
      if (!this.tables) return false;
      this.inbox.knowTable(names.has("inbox"));
      this.journal.knowTable(names.has("journal"));
    }
    let rows = this.readKv();
    const version = rows.has(SCHEMA_VERSION_KEY) ? (JSON.parse(rows.get(SCHEMA_VERSION_KEY)!) as number) : 0;
    if (version < PROCESS_SCHEMA_VERSION) {
      migrateProcessSchema(this.storage, version);
      rows = this.readKv();
    }
    this.kv.clear();
    for (const [key, value] of rows) this.kv.set(key, value);
    const read = <T>(key: string): T | null => (rows.has(key) ? (JSON.parse(rows.get(key)!) as T) : null);
    this.cfg = read<ProcessConfig>(KEY.config);
    if (!this.cfg) return false;
    this.state = read<LoopState>(KEY.loop);
    const status = read<ExitStatus>(KEY.exit);
    this.ended = status ? { status, result: read<string>(KEY.result), reported: read<boolean>(KEY.exitReported) ?? false } : null;
    this.conversation.knowBytes(read<number>(CONVERSATION_BYTES_KEY));
    return true;
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
   * A new process: its config, first loop state and messages (and, on a new object, every table). A
   * restored turn's results are in its conversation; the journal learns them, so they are not run
   * again. Its MCP calls without a result may be in flight in the process it was saved from (a
   * checkpoint does not wait for the step): they are marked sent, so only a read-only or idempotent one
   * goes out again, the others answer `interrupted`.
   */
  create(config: ProcessConfig, loop: LoopState, messages: readonly Message[], events: readonly (readonly [ProcessEventType, unknown])[]) {
    if (this.tables === undefined) this.load();
    const fresh = !this.tables;
    const written = this.transaction(() => {
      if (fresh) {
        createTables(this.storage);
        this.conversation.startEmpty();
        this.events.knowLast(0);
        this.journal.knowTable(false);
        this.inbox.knowTable(false);
      }
      if (loop.phase === "tools") {
        const pending = new Set(loop.pendingCalls.map((c) => c.id));
        for (const m of messages) {
          if (m.role === "tool" && pending.delete(m.toolCallId)) this.journal.record(journalKey.tool(m.toolCallId), resultOfMessage(m));
        }
        for (const call of loop.pendingCalls) if (pending.has(call.id) && call.name.startsWith(MCP_PREFIX)) this.journal.markSent(call.id);
      }
      return this.apply({ loop, append: messages, events }, [[KEY.config, config], ...(fresh ? [[SCHEMA_VERSION_KEY, PROCESS_SCHEMA_VERSION] as const] : [])]);
    });
    this.tables = true;
    this.cfg = config;
    this.settle({ loop }, written);
  }

  commit(change: ProcessChange): void {
    const written = this.transaction(() => this.apply(change));
    this.settle(change, written);
  }

  /** One event on its own. */
  emit(type: ProcessEventType, data: unknown) {
    this.published([this.events.insert(type, data)]);
  }

  /**
   * The kernel acknowledged the exit. Kept in memory only: a later incarnation that finds the exit
   * unreported reports it again, and the kernel answers with the exit it recorded (it records one
   * exit per process), so the write would buy nothing but a commit per process.
   */
  markReported() {
    this.ended = { ...this.ended!, reported: true };
  }

  /**
   * Before a model call: ended immediate and deferred tasks join the conversation, and the journal
   * of the step before is dropped (none of its entries can be asked for again).
   */
  beginModelCall() {
    // A process that never delegated, with nothing journaled (its first step), has nothing to do here.
    if (!this.inbox.any() && this.journal.isEmpty()) return;
    this.transaction(() => {
      const notes: Message[] = [];
      let used = this.conversation.bytes();
      // A note with no room left is announced without its text (collect and GET /v1/tasks/:id have it).
      const add = (note: Message, short: () => Message) => {
        const fitting = admit(used, [note]).ok ? note : short();
        used += storedBytes(fitting);
        notes.push(fitting);
      };
      for (const task of this.inbox.takeForConversation()) {
        add({ role: "user", content: describeTaskResult(task) }, () => ({ role: "user", content: describeTaskResult({ ...task, result: null }) }));
      }
      const canReply = this.config.tools.includes("reply_task");
      for (const task of this.inbox.takeQuestionsForConversation()) {
        const short = { ...task, question: `[too long to show here: GET /v1/tasks/${task.taskId}]` };
        add({ role: "user", content: describeTaskQuestion(task, canReply) }, () => ({ role: "user", content: describeTaskQuestion(short, canReply) }));
      }
      if (notes.length) this.writeKv([[CONVERSATION_BYTES_KEY, this.conversation.append(notes)]]);
      this.journal.clear();
    });
  }

  /** Writes a change (in the caller's transaction) and answers its events as stored. */
  private apply(change: ProcessChange, also: readonly (readonly [string, unknown])[] = []): ProcessEvent[] {
    const kv: (readonly [string, unknown])[] = [...also];
    if (change.loop) kv.push([KEY.loop, change.loop]);
    if (change.exit) {
      // An exit happens once: until the kernel knows of it, no `exitReported` row says it does not.
      kv.push([KEY.exit, change.exit.status], [KEY.result, change.exit.result], ...(change.exit.reported ? [[KEY.exitReported, true] as const] : []));
    }
    if (change.append?.length) kv.push([CONVERSATION_BYTES_KEY, this.conversation.append(change.append)]);
    this.writeKv(kv);
    return change.events?.length ? this.events.insertAll(change.events) : [];
  }

  /** After a change's transaction: the state it wrote is the state in memory, its events are published. */
  private settle(change: ProcessChange, written: ProcessEvent[]) {
    if (change.loop) this.state = change.loop;
    if (change.exit) this.ended = { status: change.exit.status, result: change.exit.result, reported: change.exit.reported ?? false };
    this.published(written);
    if (change.exit) this.events.close();
  }

  /** A transaction; when it rolls back, what is held in memory of the tables it wrote is read again. */
  private transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    try {
      return this.storage.transactionSync(fn);
    } catch (err) {
      this.conversation.forget();
      this.events.knowLast(null);
      this.journal.knowTable(undefined);
      this.inbox.knowTable(undefined);
      this.kv.clear();
      if (this.tables === false) this.tables = undefined;
      throw err;
    } finally {
      this.depth--;
    }
  }

  private readKv(): Map<string, string> {
    return new Map(this.storage.sql.exec<{ key: string; value: string }>("SELECT key, value FROM kv").toArray().map((r) => [r.key, r.value]));
  }

  /** Upserts the values that changed, in one statement. */
  private writeKv(entries: readonly (readonly [string, unknown])[]) {
    const changed: string[] = [];
    for (const [key, value] of entries) {
      const json = JSON.stringify(value);
      if (this.kv.get(key) !== json) changed.push(key, json);
    }
    if (changed.length === 0) return;
    const rows = Array.from({ length: changed.length / 2 }, () => "(?, ?)").join(", ");
    this.storage.sql.exec(`INSERT INTO kv (key, value) VALUES ${rows} ON CONFLICT(key) DO UPDATE SET value = excluded.value`, ...changed);
    for (let i = 0; i < changed.length; i += 2) this.kv.set(changed[i]!, changed[i + 1]!);
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
