import { Hono } from "hono";
import { ApiError, unwrap } from "../contracts";
import { TaskListQuery, TaskQuery } from "../contracts/tasks";
import { forRoutes } from "../rpc/stubs";
import { actorOf, processEvents, queryOf, requireRole, type AppContext, type AppEnv } from "./context";

const kernel = (c: AppContext) => forRoutes.kernel(c.env, c.get("tenant"));
const taskId = (c: AppContext) => {
  const id = c.req.param("id") ?? "";
  if (!/^[0-9a-f-]{36}$/.test(id)) throw ApiError.of(404, "task_not_found", "No such task.");
  return id;
};

export const taskRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { copilotPid, a2a, limit, cursor } = queryOf(c, TaskListQuery);
    const page = await kernel(c).listTasks({ ...(copilotPid ? { copilotPid } : {}), v1: a2a === "v1", limit, ...(cursor ? { cursor } : {}) });
    return c.json({ tasks: page.items, nextCursor: page.nextCursor });
  })
  .get("/:id", async (c) => {
    const id = taskId(c);
    const { a2a } = queryOf(c, TaskQuery);
    return c.json(unwrap(await kernel(c).getTask(id, a2a === "v1")));
  })
  .get("/:id/events", async (c) => {
    const task = unwrap(await kernel(c).getTask(taskId(c)));
    // The task's progress is its worker's event stream.
    return processEvents(c, task.metadata.workerPid);
  })
  .post("/:id/cancel", requireRole("operator"), async (c) => {
    const id = taskId(c);
    return c.json(unwrap(await kernel(c).cancelTask(id, { actor: actorOf(c) })));
  });
