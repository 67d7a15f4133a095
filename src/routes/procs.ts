import { OpenAPIHono } from "@hono/zod-openapi";
import { ApiError, ConversationQuery, ListQuery, unwrap, WaitQuery } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { actorOf, hasRole, processEvents, type AppContext, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, eventStream, json, jsonRequest, lastEventIdHeader, PidParam, S } from "./openapi";

const canReap = (c: AppContext) => hasRole(c, "operator");
const notFound = ApiError.of(404, "process_not_found", "No such process.");
const kernel = (c: AppContext) => forRoutes.kernel(c.env, c.get("tenant"));
/**
 * A process object is reached only after the kernel's table says the pid exists: asking an object
 * for an unknown pid would create it (reads must not write).
 */
async function proc(c: AppContext, pid: number) {
  if (!(await kernel(c).hasProcess(pid))) throw notFound;
  return forRoutes.process(c.env, c.get("tenant"), pid);
}

const tags = ["processes"];
const delegation = ["delegation"];
const pidRoute = { paramError: notFound };
const unknownPid: [number, string] = [404, "`process_not_found`."];

export const processRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Spawn a process",
    description:
      "Starts a process of a registered agent with `input` as its first user message; answers at once, without waiting for the model. The same `idempotencyKey` answers the same process. `parentPid` makes a child (inherit-and-restrict, counted in the parent's `maxChildren`).",
    request: { body: jsonRequest(S.SpawnRequest) },
    responses: {
      201: json(S.Process, "The new process."),
      ...errors(
        400,
        401,
        [403, "`forbidden` (role too low) or `spawn_vetoed` (a pre_spawn hook said no; `details.hook` names it)."],
        [404, "`agent_not_found`, or `process_not_found` for an unknown `parentPid`."],
        [409, "`process_already_running` (a singleton agent), `conflict`."],
        413,
        [422, "`limit_exceeded` (depth, children, budget) or `model_not_configured` (`details.setting` names what is missing)."],
        429,
        500,
      ),
    },
  }),
  { role: "operator" },
  async (c, { body }) => c.json(unwrap(await kernel(c).spawn(body, actorOf(c))), 201),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List processes",
    description: "Rows of the process table in pid order, filtered by state, parent and agent.",
    request: { query: ListQuery },
    responses: { 200: json(S.ProcessList, "A page of processes."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query }) => {
    const page = await kernel(c).listProcesses(query);
    return c.json({ processes: page.items, nextCursor: page.nextCursor });
  },
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/restore",
    tags,
    summary: "Restore a checkpoint",
    description: "Makes a new top-level process of the checkpoint's agent that continues the saved conversation, with the saved rights narrowed by the agent's spec as it is now.",
    request: { body: jsonRequest(S.RestoreRequest) },
    responses: {
      201: json(S.Process, "The restored process (a new pid)."),
      ...errors(400, 401, 403, [404, "`not_found` (unknown checkpoint) or `agent_not_found`."], 413, [422, "`limit_exceeded`: the saved budget is spent."], 429, 500),
    },
  }),
  { role: "operator" },
  async (c, { body: { checkpointId } }) => c.json(unwrap(await kernel(c).restore(checkpointId, actorOf(c))), 201),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "get",
    path: "/{pid}",
    tags,
    summary: "Get a process",
    request: { params: PidParam },
    responses: { 200: json(S.Process, "The process."), ...errors(401, unknownPid, 500) },
  }),
  pidRoute,
  async (c, { param: { pid } }) => c.json(unwrap(await kernel(c).getProcess(pid))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "get",
    path: "/{pid}/wait",
    tags,
    summary: "Wait for a process to exit",
    description:
      "Holds up to `timeoutMs` (at most 60000) for the exit. An operator's wait reaps the process (`stopped`); a viewer's reports the status without reaping. Waiting again answers the same status.",
    request: { params: PidParam, query: WaitQuery },
    responses: { 200: json(S.WaitResult, "The exit status, or `exited: false` with the state at the deadline."), ...errors(400, 401, unknownPid, 500) },
  }),
  pidRoute,
  async (c, { param: { pid }, query: { timeoutMs } }) =>
    // Reaping changes the table: a viewer's wait reports the exit status without reaping.
    c.json(unwrap(await kernel(c).wait(pid, timeoutMs, actorOf(c), { reap: canReap(c) }))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/kill",
    tags,
    summary: "Kill a process",
    description: "Stops the process and, with `cascade` (default), every live descendant. Killing an exited process is not an error. The body is optional.",
    request: { params: PidParam, body: jsonRequest(S.KillRequest, { required: false }) },
    responses: { 200: json(S.KillResult, "The pids killed and those already exited."), ...errors(400, 401, 403, unknownPid, 413, 500) },
  }),
  { ...pidRoute, role: "operator" },
  async (c, { param: { pid }, body }) => c.json(unwrap(await kernel(c).kill(pid, body, actorOf(c)))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "get",
    path: "/{pid}/messages",
    tags,
    summary: "Read a process's conversation",
    request: { params: PidParam, query: ConversationQuery },
    responses: { 200: json(S.MessagePage, "A page of the conversation, oldest first."), ...errors(400, 401, unknownPid, 500) },
  }),
  { ...pidRoute, order: ["query", "param"] },
  async (c, { param: { pid }, query }) => {
    const page = unwrap(await (await proc(c, pid)).conversationPage({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) }));
    return c.json({ messages: page.items, nextCursor: page.nextCursor });
  },
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/messages",
    tags,
    summary: "Send a process a message",
    description:
      "Appends a user message; wakes an interactive process that sleeps. When the process has an open question to a person (`pendingInput`, from `request_input`), the message answers it instead: the content becomes that call's result, not a new user message.",
    request: { params: PidParam, body: jsonRequest(S.MessageRequest) },
    responses: {
      202: json(S.StateResult, "The message is queued (or answered the open question); the process's state."),
      ...errors(400, 401, 403, unknownPid, [409, "`process_not_running`: the process has exited."], 413, [422, "`limit_exceeded`: the conversation is full."], 500),
    },
  }),
  { ...pidRoute, role: "operator", order: ["body", "param"] },
  async (c, { param: { pid }, body: { content } }) => c.json(unwrap(await (await proc(c, pid)).message(content, actorOf(c))), 202),
);

for (const [action, summary, description] of [
  ["pause", "Pause a process", "Suspends the process after the step in flight (which completes and is persisted); an exited process answers `409 process_not_running`."],
  ["resume", "Resume a paused process", "Continues exactly where the process stopped."],
] as const) {
  defineRoute(
    processRoutes,
    createRoute({
      method: "post",
      path: `/{pid}/${action}`,
      tags,
      summary,
      description,
      request: { params: PidParam },
      responses: { 200: json(S.StateResult, "The process's state now."), ...errors(401, 403, unknownPid, [409, "`process_not_running`."], 500) },
    }),
    { ...pidRoute, role: "operator" },
    async (c, { param: { pid } }) => {
      const p = await proc(c, pid);
      return c.json(unwrap(await (action === "pause" ? p.pause() : p.resume())));
    },
  );
}

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/step",
    tags,
    summary: "Run one step of a paused process",
    description:
      "A debugger's step: on a `paused` process, runs exactly one step (its model call, or the turn of tool calls the model asked for), persisted like any other, and leaves the process paused. Answers the process.",
    request: { params: PidParam },
    responses: {
      200: json(S.Process, "The process after the step."),
      ...errors(401, 403, unknownPid, [409, "`process_not_running` (exited), or `conflict`: not paused, a step already running, or nothing to step (it waits for a message)."], 500),
    },
  }),
  { ...pidRoute, role: "operator" },
  async (c, { param: { pid } }) => {
    unwrap(await (await proc(c, pid)).singleStep());
    return c.json(unwrap(await kernel(c).getProcess(pid)));
  },
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/dispatch",
    tags,
    summary: "Run one tool as a process",
    description:
      "Runs the tool with the process's permissions and the dispatch hooks; counts against its tree-wide `toolCalls` budget. A call a policy `ask`s a person about is not run (an HTTP dispatch cannot wait for a decision): `403 approval_required`, nothing charged, no approval opened.",
    request: { params: PidParam, body: jsonRequest(S.DispatchRequest) },
    responses: {
      200: json(S.ToolResult, "The tool's result (a denial or a veto is a result with `success: false`)."),
      ...errors(
        400,
        401,
        [403, "`forbidden` (the caller's role is too low) or `approval_required` (a policy asks a person about this call; `details: {hook, reason, tool}`)."],
        unknownPid,
        [409, "`process_not_running`."],
        413,
        [422, "`limit_exceeded` (the toolCalls budget) or `tool_not_dispatchable` (`collect`, `request_input`: they wait inside the agent loop)."],
        500,
      ),
    },
  }),
  { ...pidRoute, role: "operator", order: ["body", "param"] },
  async (c, { param: { pid }, body }) => c.json(unwrap(await (await proc(c, pid)).dispatch(body.tool, body.arguments))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/delegate",
    tags: delegation,
    summary: "Delegate a task from a copilot",
    description: "The `delegate` tool over HTTP: creates a task and its worker with inherit-and-restrict rights and a budget reserved from the copilot's.",
    request: { params: PidParam, body: jsonRequest(S.DelegateRequest) },
    responses: {
      201: json(S.DelegateResult, "The task and its worker."),
      ...errors(400, 401, 403, [404, "`process_not_found` or `agent_not_found`."], [409, "`process_not_running`, `conflict`."], 413, [422, "`limit_exceeded` (depth, budget)."], 429, 500),
    },
  }),
  { ...pidRoute, role: "operator", order: ["body", "param"] },
  async (c, { param: { pid }, body }) => {
    const { idempotencyKey, ...args } = body;
    return c.json(unwrap(await (await proc(c, pid)).delegate(args, idempotencyKey)), 201);
  },
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/collect",
    tags: delegation,
    summary: "Collect a copilot's task results",
    description: "Holds until the mode is satisfied or `timeoutMs` (at most 60000) passes; `satisfied: false` means the deadline passed. The body is optional.",
    request: { params: PidParam, body: jsonRequest(S.CollectRequest, { required: false }) },
    responses: { 200: json(S.CollectResult, "The tasks by outcome."), ...errors(400, 401, 403, [404, "`process_not_found` or `task_not_found`."], 409, 413, 500) },
  }),
  { ...pidRoute, role: "operator", order: ["body", "param"] },
  async (c, { param: { pid }, body }) => c.json(unwrap(await (await proc(c, pid)).collect(body))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/cancel-all",
    tags: delegation,
    summary: "Cancel all of a copilot's tasks",
    request: { params: PidParam },
    responses: { 200: json(S.CancelAllResult, "The task ids cancelled."), ...errors(401, 403, unknownPid, 500) },
  }),
  { ...pidRoute, role: "operator" },
  async (c, { param: { pid } }) => c.json(unwrap(await kernel(c).cancelAll(pid, actorOf(c)))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "post",
    path: "/{pid}/checkpoint",
    tags,
    summary: "Checkpoint a process",
    description: "Pauses the process and saves its conversation, loop state and rights; the id is the sha-256 of the saved state.",
    request: { params: PidParam },
    responses: {
      200: json(S.CheckpointResult, "The checkpoint id (for `POST /v1/procs/restore`)."),
      ...errors(401, 403, unknownPid, [409, "`process_not_running`."], [413, "`payload_too_large`: the saved state is over 16 MiB."], 500),
    },
  }),
  { ...pidRoute, role: "operator" },
  async (c, { param: { pid } }) => c.json(unwrap(await kernel(c).checkpoint(pid, actorOf(c)))),
);

defineRoute(
  processRoutes,
  createRoute({
    method: "get",
    path: "/{pid}/events",
    tags,
    summary: "Stream a process's events",
    description: "Server-Sent Events: the persisted backlog after `Last-Event-ID`, then live events until the process exits.",
    request: { params: PidParam, headers: lastEventIdHeader },
    responses: { 200: eventStream("The process's event stream."), ...errors(401, unknownPid, 500) },
  }),
  pidRoute,
  async (c, { param: { pid } }) => {
    if (!(await kernel(c).hasProcess(pid))) throw notFound;
    return processEvents(c, pid);
  },
);
