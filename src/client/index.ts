/**
 * The typed client of the Agent Kernel HTTP API (SPEC §13): one method per route, typed by the zod
 * contracts in src/contracts (types only: nothing here needs zod at run time), over any `fetch`.
 *
 *   const ak = createClient({ baseUrl: "http://127.0.0.1:8787", token });
 *   const p = await ak.procs.spawn({ agent: "greeter", input: "world" });
 *   const status = await ak.procs.wait(p.pid, { timeoutMs: 10_000 });
 *   for await (const e of ak.procs.events(p.pid)) console.log(e.event, e.data);
 *
 * It runs in Node (the CLI, run by Node's own type stripping: so this file uses only erasable
 * TypeScript and imports nothing but types) and in workerd (the tests pass the Worker's own `fetch`).
 * Failures are thrown as `KernelApiError` with the API's status, code, message and details.
 */
import type {
  AgentList,
  Approval,
  ApprovalList,
  ApprovalState,
  DecideRequest,
  ReplyResult,
  AgentSpec,
  AgentSpecInput,
  AuditEntry,
  AuditPage,
  AuditVerify,
  CancelAllResult,
  CancelTaskResult,
  CheckpointResult,
  CollectResult,
  CollectInput,
  Deleted,
  DelegateRequest,
  DelegateResult,
  DispatchResult,
  ErrorCode,
  FileDeleted,
  FileWritten,
  HookList,
  HookSpecInput,
  HookView,
  KillResult,
  McpRefreshResult,
  McpServer,
  McpServerInput,
  McpServerList,
  McpTool,
  Message,
  MessagePage,
  Process,
  ProcessEventType,
  ProcessList,
  ProcessState,
  Signal,
  StateResult,
  Task,
  TaskList,
  WaitResult,
} from "../contracts";

export type {
  AgentList,
  Approval,
  ApprovalList,
  AgentSpec,
  AgentSpecInput,
  AuditEntry,
  AuditPage,
  AuditVerify,
  CollectResult,
  DelegateResult,
  DispatchResult,
  HookView,
  KillResult,
  McpRefreshResult,
  McpServer,
  McpServerInput,
  McpServerList,
  McpTool,
  Message,
  Process,
  ProcessList,
  ProcessState,
  Task,
  TaskList,
  WaitResult,
};

export interface ClientOptions {
  /** The kernel's URL, e.g. `http://127.0.0.1:8787` (a trailing slash is ignored). */
  baseUrl: string;
  /** A bearer token (HS256 JWT); without one only /healthz, /openapi.json and /docs answer. */
  token?: string;
  /** The fetch to use; default the global one. Tests pass the Worker's `exports.default.fetch`. */
  fetch?: (request: Request) => Promise<Response>;
  /** Headers added to every request. */
  headers?: Record<string, string>;
}

/** An error answer of the API (`{"error": {code, message, details?}}`), or a failure to reach it. */
export class KernelApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode | "network_error" | "bad_response";
  readonly details: unknown;
  constructor(status: number, code: KernelApiError["code"], message: string, details?: unknown) {
    super(message);
    this.name = "KernelApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export interface PageQuery {
  limit?: number;
  cursor?: string;
}
export interface ProcessQuery extends PageQuery {
  state?: ProcessState;
  parentPid?: number;
  agent?: string;
}
export interface TaskQuery extends PageQuery {
  copilotPid?: number;
  a2a?: "v1";
}
export interface ApprovalQuery extends PageQuery {
  state?: ApprovalState;
  pid?: number;
  /** Every approval of a tree (a copilot and its workers). */
  rootPid?: number;
}
export interface AuditQuery extends PageQuery {
  afterSeq?: number;
}
export interface SpawnInput {
  agent: string;
  input: string;
  parentPid?: number | null;
  metadata?: Record<string, unknown>;
  idempotencyKey?: string;
}
export interface KillInput {
  signal?: Signal;
  reason?: string;
  cascade?: boolean;
}
export type DelegateInput = Omit<DelegateRequest, never>;
export type CollectInputs = Partial<CollectInput> & { timeoutMs?: number };

/** One Server-Sent Event of a process's stream: `data` is `{seq, at, ...}` for persisted events. */
export interface StreamEvent {
  /** The event id (the `seq`); undefined for live-only events such as streamed text deltas. */
  id: string | undefined;
  event: ProcessEventType | (string & {});
  data: { seq?: number; at: string; [key: string]: unknown };
}
/**
 * One event of the tenant's feed (`GET /v1/events`): the process, task or audit entry as it is when
 * the event is sent. A row pruned since is `{ref, gone: true}`.
 */
export type TenantEvent =
  | { id: string | undefined; event: "proc"; data: FeedData<{ process: Process }> }
  | { id: string | undefined; event: "task"; data: FeedData<{ task: Task }> }
  | { id: string | undefined; event: "audit"; data: FeedData<{ entry: AuditEntry }> }
  | { id: string | undefined; event: "approval"; data: FeedData<{ approval: Approval }> };
type FeedData<T> = { seq: number; at: string } & (T | { ref: string; gone: true });

export interface StreamOptions {
  /** Resume after this id (sent as `Last-Event-ID`). */
  lastEventId?: string;
  /** Stops the stream. */
  signal?: AbortSignal;
  /** Reconnect (resuming after the last id) when the connection drops before the `exit` event; default true. */
  reconnect?: boolean;
}
/** The tenant's feed never ends by itself: it reconnects, resuming after the last id, until `signal` stops it. */
export type TenantStreamOptions = Omit<StreamOptions, "reconnect">;

type Query = Record<string, string | number | boolean | undefined | null>;

/** A page-at-a-time list as an async iterator over every item, following `nextCursor`. */
async function* follow<T, P extends { nextCursor: string | null }>(fetchPage: (cursor: string | undefined) => Promise<P>, items: (page: P) => T[]): AsyncGenerator<T> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* items(page);
    if (page.nextCursor === null || page.nextCursor === undefined) return;
    cursor = page.nextCursor;
  }
}

/** Parses an SSE byte stream into events (the `text/event-stream` format: `id:`, `event:`, `data:` lines). */
export async function* parseEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id: string | undefined; event: string; data: string }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let id: string | undefined;
  let event = "";
  let data: string[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { id, event: event || "message", data: data.join("\n") };
          id = undefined;
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") id = val;
        else if (field === "event") event = val;
        else if (field === "data") data.push(val);
      }
      if (done) return;
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export function createClient(options: ClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((request: Request) => fetch(request));

  const url = (path: string, query?: Query) => {
    const u = new URL(`${base}${path}`);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== null) u.searchParams.set(k, String(v));
    return u.toString();
  };

  async function send(method: string, path: string, init: { query?: Query; body?: unknown; text?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers, ...init.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined;
    if (init.text !== undefined) {
      body = init.text;
      headers["content-type"] ??= "text/plain; charset=utf-8";
    } else if (init.body !== undefined) {
      body = JSON.stringify(init.body);
      headers["content-type"] = "application/json";
    }
    let res: Response;
    try {
      res = await doFetch(new Request(url(path, init.query), { method, headers, ...(body !== undefined ? { body } : {}), ...(init.signal ? { signal: init.signal } : {}) }));
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new KernelApiError(0, "network_error", `cannot reach ${base}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }

  async function errorOf(res: Response): Promise<KernelApiError> {
    const text = await res.text().catch(() => "");
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
      if (parsed.error && typeof parsed.error.code === "string") {
        return new KernelApiError(res.status, parsed.error.code as ErrorCode, parsed.error.message ?? res.statusText, parsed.error.details);
      }
    } catch {
      // not the API's error shape
    }
    return new KernelApiError(res.status, "bad_response", `${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`);
  }

  async function call<T>(method: string, path: string, init: { query?: Query; body?: unknown } = {}): Promise<T> {
    const res = await send(method, path, init);
    return (await res.json()) as T;
  }

  /**
   * A process's (or a task worker's) event stream, resumed with Last-Event-ID after a dropped
   * connection; `endless` (the tenant's feed) also reconnects after a clean end, and keeps retrying.
   */
  async function* stream(path: string, opts: StreamOptions = {}, endless = false): AsyncGenerator<StreamEvent> {
    let last = opts.lastEventId;
    const reconnect = opts.reconnect ?? true;
    for (let attempt = 0; ; attempt++) {
      if (endless && attempt > 0) await new Promise((r) => setTimeout(r, Math.min(5_000, 250 * attempt)));
      if (opts.signal?.aborted) return;
      let res: Response;
      try {
        res = await send("GET", path, { headers: { accept: "text/event-stream", ...(last ? { "last-event-id": last } : {}) }, ...(opts.signal ? { signal: opts.signal } : {}) });
      } catch (err) {
        if (opts.signal?.aborted) return;
        // A stream that got events before the drop retries; one that cannot connect at all fails.
        if (err instanceof KernelApiError && err.code === "network_error" && reconnect && attempt > 0 && (endless || attempt < 5)) {
          await new Promise((r) => setTimeout(r, 200 * attempt));
          continue;
        }
        throw err;
      }
      let got = 0;
      let exited = false;
      try {
        for await (const raw of parseEventStream(res.body!)) {
          let data: StreamEvent["data"];
          try {
            data = JSON.parse(raw.data) as StreamEvent["data"];
          } catch {
            data = { at: "", text: raw.data };
          }
          if (raw.id !== undefined) last = raw.id;
          got++;
          if (raw.event === "exit") exited = true;
          yield { id: raw.id, event: raw.event, data };
        }
      } catch (err) {
        if (opts.signal?.aborted) return;
        if (!reconnect) throw err;
      }
      if (endless) {
        if (opts.signal?.aborted) return;
        if (got > 0) attempt = 0;
        continue;
      }
      // The server closes the stream once the process has exited and its backlog is sent.
      if (exited || !reconnect || opts.signal?.aborted || got === 0) return;
    }
  }

  const enc = encodeURIComponent;
  const filePath = (path: string) => path.replace(/^\/+/, "").split("/").map(enc).join("/");

  const agents = {
    list: (q: PageQuery = {}) => call<AgentList>("GET", "/v1/agents", { query: { ...q } }),
    all: () => follow((cursor) => agents.list({ ...(cursor ? { cursor } : {}) }), (p) => p.agents),
    get: (name: string) => call<AgentSpec>("GET", `/v1/agents/${enc(name)}`),
    put: (name: string, spec: AgentSpecInput) => call<AgentSpec>("PUT", `/v1/agents/${enc(name)}`, { body: spec }),
    delete: (name: string) => call<Deleted>("DELETE", `/v1/agents/${enc(name)}`),
  };

  const procs = {
    spawn: (req: SpawnInput) => call<Process>("POST", "/v1/procs", { body: req }),
    list: (q: ProcessQuery = {}) => call<ProcessList>("GET", "/v1/procs", { query: { ...q } }),
    all: (q: Omit<ProcessQuery, "cursor"> = {}) => follow((cursor) => procs.list({ ...q, ...(cursor ? { cursor } : {}) }), (p) => p.processes),
    get: (pid: number) => call<Process>("GET", `/v1/procs/${pid}`),
    wait: (pid: number, q: { timeoutMs?: number } = {}) => call<WaitResult>("GET", `/v1/procs/${pid}/wait`, { query: { ...q } }),
    kill: (pid: number, req: KillInput = {}) => call<KillResult>("POST", `/v1/procs/${pid}/kill`, { body: req }),
    messages: (pid: number, q: PageQuery = {}) => call<MessagePage>("GET", `/v1/procs/${pid}/messages`, { query: { ...q } }),
    allMessages: (pid: number) => follow((cursor) => procs.messages(pid, { ...(cursor ? { cursor } : {}) }), (p): Message[] => p.messages),
    message: (pid: number, content: string) => call<StateResult>("POST", `/v1/procs/${pid}/messages`, { body: { content } }),
    pause: (pid: number) => call<StateResult>("POST", `/v1/procs/${pid}/pause`),
    resume: (pid: number) => call<StateResult>("POST", `/v1/procs/${pid}/resume`),
    /** One step of a paused process (its model call, or its turn of tool calls); it stays paused. */
    step: (pid: number) => call<Process>("POST", `/v1/procs/${pid}/step`),
    dispatch: (pid: number, tool: string, args: Record<string, unknown> = {}) => call<DispatchResult>("POST", `/v1/procs/${pid}/dispatch`, { body: { tool, arguments: args } }),
    delegate: (pid: number, req: DelegateInput) => call<DelegateResult>("POST", `/v1/procs/${pid}/delegate`, { body: req }),
    collect: (pid: number, req: CollectInputs = {}) => call<CollectResult>("POST", `/v1/procs/${pid}/collect`, { body: req }),
    cancelAll: (pid: number) => call<CancelAllResult>("POST", `/v1/procs/${pid}/cancel-all`),
    checkpoint: (pid: number) => call<CheckpointResult>("POST", `/v1/procs/${pid}/checkpoint`),
    restore: (checkpointId: string) => call<Process>("POST", "/v1/procs/restore", { body: { checkpointId } }),
    /** The process's events: the backlog after `lastEventId`, then live events until it exits. */
    events: (pid: number, opts: StreamOptions = {}) => stream(`/v1/procs/${pid}/events`, opts),
  };

  const tasks = {
    list: (q: TaskQuery = {}) => call<TaskList>("GET", "/v1/tasks", { query: { ...q } }),
    all: (q: Omit<TaskQuery, "cursor"> = {}) => follow((cursor) => tasks.list({ ...q, ...(cursor ? { cursor } : {}) }), (p) => p.tasks),
    get: (id: string, q: { a2a?: "v1" } = {}) => call<Task>("GET", `/v1/tasks/${enc(id)}`, { query: { ...q } }),
    cancel: (id: string) => call<CancelTaskResult>("POST", `/v1/tasks/${enc(id)}/cancel`),
    /** Answers the worker's open question (`request_input`); the task is `working` again. */
    reply: (id: string, message: string) => call<ReplyResult>("POST", `/v1/tasks/${enc(id)}/reply`, { body: { message } }),
    /** The task's worker's events (same format as `procs.events`). */
    events: (id: string, opts: StreamOptions = {}) => stream(`/v1/tasks/${enc(id)}/events`, opts),
  };

  const approvals = {
    list: (q: ApprovalQuery = {}) => call<ApprovalList>("GET", "/v1/approvals", { query: { ...q } }),
    all: (q: Omit<ApprovalQuery, "cursor"> = {}) => follow((cursor) => approvals.list({ ...q, ...(cursor ? { cursor } : {}) }), (p): Approval[] => p.approvals),
    get: (id: string) => call<Approval>("GET", `/v1/approvals/${enc(id)}`),
    decide: (id: string, body: DecideRequest) => call<Approval>("POST", `/v1/approvals/${enc(id)}`, { body }),
    /** Runs the call, with `arguments` in place of the model's when given. */
    approve: (id: string, opts: { message?: string; arguments?: Record<string, unknown> } = {}) => approvals.decide(id, { decision: "approve", ...opts }),
    /** The model sees `Error: rejected by <you>: <message>`. */
    reject: (id: string, message?: string) => approvals.decide(id, { decision: "reject", ...(message !== undefined ? { message } : {}) }),
  };

  const files = {
    /** The paths matching `glob` (default every file). */
    list: (glob?: string) => call<string[]>("GET", "/v1/fs", { query: { glob } }),
    read: async (path: string) => (await send("GET", `/v1/fs/${filePath(path)}`)).text(),
    write: (path: string, content: string) => send("PUT", `/v1/fs/${filePath(path)}`, { text: content }).then((r) => r.json() as Promise<FileWritten>),
    delete: (path: string) => call<FileDeleted>("DELETE", `/v1/fs/${filePath(path)}`),
  };

  const hooks = {
    list: () => call<HookList>("GET", "/v1/hooks"),
    put: (name: string, spec: HookSpecInput) => call<HookView>("PUT", `/v1/hooks/${enc(name)}`, { body: spec }),
    delete: (name: string) => call<Deleted>("DELETE", `/v1/hooks/${enc(name)}`),
  };

  /** MCP servers (SPEC §10): header values are write-only, so a server comes back with `headerNames` only. */
  const mcp = {
    list: (q: PageQuery = {}) => call<McpServerList>("GET", "/v1/mcp", { query: { ...q } }),
    all: () => follow((cursor) => mcp.list({ ...(cursor ? { cursor } : {}) }), (p): McpServer[] => p.servers),
    get: (name: string) => call<McpServer>("GET", `/v1/mcp/${enc(name)}`),
    put: (name: string, server: McpServerInput) => call<McpServer>("PUT", `/v1/mcp/${enc(name)}`, { body: server }),
    refresh: (name: string) => call<McpRefreshResult>("POST", `/v1/mcp/${enc(name)}/refresh`),
    delete: (name: string) => call<Deleted>("DELETE", `/v1/mcp/${enc(name)}`),
  };

  const audit = {
    list: (q: AuditQuery = {}) => call<AuditPage>("GET", "/v1/audit", { query: { ...q } }),
    all: (q: Omit<AuditQuery, "cursor"> = {}) => follow((cursor) => audit.list({ ...q, ...(cursor ? { cursor } : {}) }), (p): AuditEntry[] => p.entries),
    verify: (q: { full?: boolean } = {}) => call<AuditVerify>("GET", "/v1/audit/verify", { query: q.full ? { full: "true" } : {} }),
  };

  return {
    baseUrl: base,
    health: () => call<{ ok: true }>("GET", "/healthz"),
    /**
     * The tenant's feed (`GET /v1/events`): `proc`, `task`, `approval` and `audit` events, the kept backlog after
     * `lastEventId` first, then live, reconnecting with Last-Event-ID until `signal` aborts.
     */
    events: (opts: TenantStreamOptions = {}) => stream("/v1/events", opts, true) as AsyncGenerator<TenantEvent>,
    openapi: () => call<Record<string, unknown>>("GET", "/openapi.json"),
    agents,
    procs,
    tasks,
    approvals,
    fs: files,
    hooks,
    mcp,
    audit,
  };
}

export type KernelClient = ReturnType<typeof createClient>;
