import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError, TaskId, unwrap } from "../contracts";
import { TaskListQuery, TaskQuery } from "../contracts/tasks";
import { forRoutes } from "../rpc/stubs";
import { actorOf, processEvents, type AppContext, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, eventStream, json, jsonRequest, lastEventIdHeader, S } from "./openapi";

const kernel = (c: AppContext) => forRoutes.kernel(c.env, c.get("tenant"));
const notFound = ApiError.of(404, "task_not_found", "No such task.");
const IdParam = z.object({ id: TaskId.meta({ param: { name: "id", in: "path" }, description: "A task id (a UUID)." }) });
const tags = ["delegation"];
const unknownTask: [number, string] = [404, "`task_not_found`."];

export const taskRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  taskRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List tasks",
    description: "The tenant's A2A tasks, or one copilot's with `copilotPid`; `a2a=v1` gives the A2A 1.0 `TASK_STATE_*` state names.",
    request: { query: TaskListQuery },
    responses: { 200: json(S.TaskList, "A page of tasks."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query: { copilotPid, a2a, limit, cursor } }) => {
    const page = await kernel(c).listTasks({ ...(copilotPid ? { copilotPid } : {}), v1: a2a === "v1", limit, ...(cursor ? { cursor } : {}) });
    return c.json({ tasks: page.items, nextCursor: page.nextCursor });
  },
);

defineRoute(
  taskRoutes,
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "Get a task",
    request: { params: IdParam, query: TaskQuery },
    responses: { 200: json(S.Task, "The task (A2A shape)."), ...errors(400, 401, unknownTask, 500) },
  }),
  { paramError: notFound },
  async (c, { param: { id }, query: { a2a } }) => c.json(unwrap(await kernel(c).getTask(id, a2a === "v1"))),
);

defineRoute(
  taskRoutes,
  createRoute({
    method: "get",
    path: "/{id}/events",
    tags,
    summary: "Stream a task's progress",
    description: "The event stream of the task's worker process (Server-Sent Events, `Last-Event-ID` resumes).",
    request: { params: IdParam, headers: lastEventIdHeader },
    responses: { 200: eventStream("The worker's event stream."), ...errors(401, unknownTask, 500) },
  }),
  { paramError: notFound },
  async (c, { param: { id } }) => {
    const task = unwrap(await kernel(c).getTask(id));
    // The task's progress is its worker's event stream.
    return processEvents(c, task.metadata.workerPid);
  },
);

defineRoute(
  taskRoutes,
  createRoute({
    method: "post",
    path: "/{id}/cancel",
    tags,
    summary: "Cancel a task",
    description: "Kills the task's worker and its descendants (reason `delegation cancelled`); sibling tasks go on.",
    request: { params: IdParam },
    responses: { 200: json(S.CancelTaskResult, "The task's new state."), ...errors(401, 403, unknownTask, [409, "`task_not_cancelable`: the task has ended."], 500) },
  }),
  { paramError: notFound, role: "operator" },
  async (c, { param: { id } }) => c.json(unwrap(await kernel(c).cancelTask(id, { actor: actorOf(c) }))),
);

defineRoute(
  taskRoutes,
  createRoute({
    method: "post",
    path: "/{id}/reply",
    tags,
    summary: "Answer a task's question",
    description:
      "Answers the oldest open question (`request_input`) of the task's worker: the message becomes the result of that call, and the task is `working` again (or stays `input-required` while another question waits). A task waiting on an approval is answered by deciding the approval.",
    request: { params: IdParam, body: jsonRequest(S.ReplyRequest) },
    responses: {
      200: json(S.ReplyResult, "The task's state after the reply."),
      ...errors(400, 401, 403, unknownTask, [409, "`task_not_waiting`: the task is not waiting for an answer (`details.approvalId` names the approval it waits on, if any)."], 413, 500),
    },
  }),
  { paramError: notFound, role: "operator" },
  async (c, { param: { id }, body: { message } }) => c.json(unwrap(await kernel(c).replyTask(id, message, { actor: actorOf(c) }))),
);
