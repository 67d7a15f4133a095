/**
 * Routes as OpenAPI operations (SPEC §13). Each route is declared once with `createRoute` from
 * @hono/zod-openapi: its path, parameters, body and responses as zod contracts. `defineRoute`
 * registers that declaration in the app's OpenAPI registry (what /openapi.json is generated from)
 * and validates requests with the very schemas of the declaration, so the document cannot drift
 * from what the API accepts.
 *
 * The validation is ours rather than the integration's `app.openapi()` validators because those
 * would change the API's answers: they refuse non-JSON content types with 415 (the API parses any
 * body as JSON and answers `400 invalid_json`), answer malformed JSON with their own 400, validate
 * the query before the path and read repeated query keys as arrays. Here errors keep the SPEC's shape:
 * schema misses are `400 invalid_request` with `details[]` (or `413 payload_too_large` for fields over
 * their size cap), path parameters that do not parse are the route's own 404, and each route checks
 * its inputs in the order it always did.
 */
import { createRoute, z, type OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import {
  AgentList,
  Approval,
  DecideRequest,
  ReplyRequest,
  ReplyResult,
  AgentSpec,
  AgentSpecInput,
  ApiError,
  AuditEntry,
  AuditPage,
  AuditVerify,
  CancelAllResult,
  CancelTaskResult,
  CheckpointResult,
  CollectRequest,
  CollectResult,
  Deleted,
  DelegateRequest,
  DelegateResult,
  DispatchRequest,
  DispatchResult,
  ErrorBody,
  FileDeleted,
  FileList,
  FileWritten,
  Health,
  HookList,
  HookSpecInput,
  HookViewSchema,
  KillRequest,
  KillResult,
  McpRefreshResult,
  McpServerList,
  McpServer,
  McpServerInput,
  Message,
  MessagePage,
  MessageRequest,
  NextCursor,
  Process,
  ProcessEvent,
  ProcessList,
  RestoreRequest,
  SpawnRequest,
  StateResult,
  Task,
  TaskList,
  WaitResult,
  type Role,
} from "../contracts";
import { jsonBody, queryOf, requireRole, type AppContext, type AppEnv } from "./context";

// ---------- named schemas: components in the document ----------

/** The contracts under the names the document gives them (clones carrying a refId; they validate alike). */
const named = <T extends z.ZodType>(schema: T, id: string): T => schema.meta({ id });
const ErrorBodyDoc = named(ErrorBody, "ErrorBody");
const ProcessDoc = named(Process, "Process");
const AgentSpecDoc = named(AgentSpec, "AgentSpec");
const TaskDoc = named(Task, "Task");
const MessageDoc = named(Message, "Message");
const AuditEntryDoc = named(AuditEntry, "AuditEntry");
const HookViewDoc = named(HookViewSchema, "HookView");
const McpServerDoc = named(McpServer, "McpServer");
const ApprovalDoc = named(Approval, "Approval");
/** A list answer built from the named item schema, so its items are a `$ref` (same shape as the contract's). */
const listOf = <T extends z.ZodType>(key: string, item: T, id: string) => named(z.object({ [key]: z.array(item), nextCursor: NextCursor }), id);

/**
 * The contracts under the names the document gives them: `.meta({ id })` clones, which validate
 * exactly like the originals. (Zod's own `.meta()`, not the integration's `.openapi()`: a zod 4 schema
 * only has `.openapi()` if it was built after @hono/zod-openapi was loaded, which the contracts may not be.)
 */
export const S = {
  ErrorBody: ErrorBodyDoc,
  Health: named(Health, "Health"),
  AgentSpec: AgentSpecDoc,
  AgentSpecInput: named(AgentSpecInput, "AgentSpecInput"),
  AgentList: listOf("agents", AgentSpecDoc, "AgentList") as unknown as typeof AgentList,
  Deleted: named(Deleted, "Deleted"),
  Process: ProcessDoc,
  ProcessList: listOf("processes", ProcessDoc, "ProcessList") as unknown as typeof ProcessList,
  SpawnRequest: named(SpawnRequest, "SpawnRequest"),
  RestoreRequest: named(RestoreRequest, "RestoreRequest"),
  WaitResult: named(WaitResult, "WaitResult"),
  KillRequest: named(KillRequest, "KillRequest"),
  KillResult: named(KillResult, "KillResult"),
  Message: MessageDoc,
  MessagePage: listOf("messages", MessageDoc, "MessagePage") as unknown as typeof MessagePage,
  MessageRequest: named(MessageRequest, "MessageRequest"),
  StateResult: named(StateResult, "StateResult"),
  DispatchRequest: named(DispatchRequest, "DispatchRequest"),
  ToolResult: named(DispatchResult, "ToolResult"),
  DelegateRequest: named(DelegateRequest, "DelegateRequest"),
  DelegateResult: named(DelegateResult, "DelegateResult"),
  CollectRequest: named(CollectRequest, "CollectRequest"),
  CollectResult: named(CollectResult, "CollectResult"),
  CancelAllResult: named(CancelAllResult, "CancelAllResult"),
  CheckpointResult: named(CheckpointResult, "CheckpointResult"),
  ProcessEvent: named(ProcessEvent, "ProcessEvent"),
  Task: TaskDoc,
  TaskList: listOf("tasks", TaskDoc, "TaskList") as unknown as typeof TaskList,
  CancelTaskResult: named(CancelTaskResult, "CancelTaskResult"),
  FileList: named(FileList, "FileList"),
  FileWritten: named(FileWritten, "FileWritten"),
  FileDeleted: named(FileDeleted, "FileDeleted"),
  HookSpecInput: named(HookSpecInput, "HookSpecInput"),
  HookView: HookViewDoc,
  HookList: named(z.object({ hooks: z.array(HookViewDoc) }), "HookList") as unknown as typeof HookList,
  AuditEntry: AuditEntryDoc,
  AuditPage: listOf("entries", AuditEntryDoc, "AuditPage") as unknown as typeof AuditPage,
  AuditVerify: named(AuditVerify, "AuditVerify"),
  McpServerInput: named(McpServerInput, "McpServerInput"),
  McpServer: McpServerDoc,
  McpServerList: listOf("servers", McpServerDoc, "McpServerList") as unknown as typeof McpServerList,
  McpRefreshResult: named(McpRefreshResult, "McpRefreshResult"),
  Approval: ApprovalDoc,
  ApprovalList: listOf("approvals", ApprovalDoc, "ApprovalList"),
  DecideRequest: named(DecideRequest, "DecideRequest"),
  ReplyRequest: named(ReplyRequest, "ReplyRequest"),
  ReplyResult: named(ReplyResult, "ReplyResult"),
};

// ---------- building blocks of route declarations ----------

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });
export const jsonRequest = <T extends z.ZodType>(schema: T, { required = true, description }: { required?: boolean; description?: string } = {}) => ({
  required,
  ...(description ? { description } : {}),
  content: { "application/json": { schema } },
});

const ERROR_TEXT: Record<number, string> = {
  400: "The request is invalid: `invalid_request` (zod issues in `details`, each `{path, message, code}`) or `invalid_json`.",
  401: "`unauthorized`: the bearer token is missing, malformed, wrongly signed, expired or has no `exp`.",
  403: "`forbidden`: the caller's role is too low.",
  404: "Not found.",
  409: "Conflict.",
  413: "`payload_too_large`: the body is over 1 MiB, or a field over its cap (e.g. `metadata`, 16 KiB of JSON).",
  422: "Refused by a limit or rule.",
  429: "`too_many_processes`: the tenant's cap on live processes is reached.",
  500: "`internal`: something went wrong inside the kernel (never for bad input; no stack trace).",
};

/** Error responses, each `ErrorBody`; a string overrides the default description (e.g. to name the codes). */
export function errors(...entries: (number | [number, string])[]) {
  const out: Record<string, { description: string; content: { "application/json": { schema: typeof S.ErrorBody } } }> = {};
  for (const entry of entries) {
    const [status, text] = typeof entry === "number" ? [entry, ERROR_TEXT[entry] ?? "Error."] : entry;
    out[String(status)] = { description: text, content: { "application/json": { schema: S.ErrorBody } } };
  }
  return out;
}

/** Server-Sent Events, documented as `text/event-stream`. */
export const eventStream = (description: string) => ({
  description,
  content: {
    "text/event-stream": {
      schema: z.string().meta({
        description:
          "A stream of Server-Sent Events. Each persisted event is `id: <seq>`, `event: <type>` (state, turn, model, tool_call, tool_result, task, exit, message), `data: <JSON ProcessEvent fields: {seq, at, ...data}>`. Streamed model text deltas are sent to live readers only, without an id. The stream closes once the process has exited and its backlog is sent.",
      }),
    },
  },
});

export const lastEventIdHeader = z.object({
  "last-event-id": z.string().optional().meta({ description: "Resume after this event id (the `seq` of the last event received)." }),
});

/** `{pid}` in a path: a positive integer; anything else is `404 process_not_found`. */
export const PidParam = z.object({
  pid: z.coerce
    .number()
    .int()
    .positive()
    .refine((n) => n <= Number.MAX_SAFE_INTEGER)
    .meta({ param: { name: "pid", in: "path" }, type: "integer", example: 1, description: "A process id of the caller's tenant." }),
});

// ---------- registration ----------

type Target = "param" | "query" | "body";
type RequestOf<R> = R extends { request: infer Q } ? Q : object;
type Parsed<Q, K extends string> = Q extends { [key in K]: infer P extends z.ZodType } ? z.infer<P> : undefined;
type BodyOf<Q> = Q extends { body: { content: { "application/json": { schema: infer B extends z.ZodType } } } } ? z.infer<B> : undefined;
/** A route's validated inputs, typed from its declaration. */
export type RouteInput<R> = { param: Parsed<RequestOf<R>, "params">; query: Parsed<RequestOf<R>, "query">; body: BodyOf<RequestOf<R>> };

export interface RouteOptions {
  /** The role the route needs (viewers may read everything else). */
  role?: Role;
  /** What a path parameter that does not parse answers (today's route behaviour: a 404, or a 400 for names being created). */
  paramError?: ApiError;
  /** The order in which inputs are checked (default: path, query, body). */
  order?: Target[];
  /** The Hono path when the OpenAPI path cannot express it (the `/v1/fs/*` wildcard). */
  honoPath?: string;
}

type Route = RouteConfig & { getRoutingPath(): string };

/**
 * Registers `route` in the app's OpenAPI registry and serves it: the role check, then the inputs
 * parsed with the route's own schemas (in `order`), then `handler`.
 */
export function defineRoute<R extends Route>(
  app: OpenAPIHono<AppEnv>,
  route: R,
  options: RouteOptions,
  handler: (c: AppContext, input: RouteInput<R>) => Response | Promise<Response>,
) {
  const roleText = options.role ? `\n\nNeeds the \`${options.role}\` role.` : "";
  app.openAPIRegistry.registerPath({ ...route, description: `${route.description ?? ""}${roleText}`.trim() });
  const request = route.request ?? {};
  const bodySchema = (request.body?.content["application/json"] as { schema?: z.ZodType } | undefined)?.schema;
  const order = options.order ?? ["param", "query", "body"];
  const middleware: MiddlewareHandler<AppEnv>[] = options.role ? [requireRole(options.role)] : [];
  app.on([route.method.toUpperCase()], [options.honoPath ?? route.getRoutingPath()], ...middleware, async (c) => {
    const input: Record<Target, unknown> = { param: undefined, query: undefined, body: undefined };
    for (const target of order) {
      if (target === "param" && request.params) {
        const parsed = request.params.safeParse(c.req.param());
        if (!parsed.success) throw options.paramError ?? ApiError.of(404, "not_found", "No such route.");
        input.param = parsed.data;
      } else if (target === "query" && request.query) {
        input.query = queryOf(c, request.query);
      } else if (target === "body" && bodySchema) {
        input.body = await jsonBody(c, bodySchema, { optional: request.body?.required === false });
      }
    }
    return handler(c, input as RouteInput<R>);
  });
}

export { createRoute };
