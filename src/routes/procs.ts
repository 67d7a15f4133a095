import { Hono } from "hono";
import {
  ApiError,
  ConversationQuery,
  DispatchRequest,
  KillRequest,
  ListQuery,
  MessageRequest,
  Pid,
  RestoreRequest,
  SpawnRequest,
  unwrap,
  WaitQuery,
} from "../contracts";
import { CollectRequest, DelegateRequest } from "../contracts/tasks";
import { forRoutes } from "../rpc/stubs";
import { actorOf, hasRole, jsonBody, pathParam, processEvents, queryOf, requireRole, type AppContext, type AppEnv } from "./context";

const canReap = (c: AppContext) => hasRole(c, "operator");
const notFound = ApiError.of(404, "process_not_found", "No such process.");
const pidOf = (c: AppContext) => pathParam(c, "pid", Pid.refine((n) => n <= Number.MAX_SAFE_INTEGER), notFound);
const kernel = (c: AppContext) => forRoutes.kernel(c.env, c.get("tenant"));
/**
 * A process object is reached only after the kernel's table says the pid exists: asking an object
 * for an unknown pid would create it (reads must not write).
 */
async function proc(c: AppContext) {
  const pid = pidOf(c);
  if (!(await kernel(c).hasProcess(pid))) throw notFound;
  return forRoutes.process(c.env, c.get("tenant"), pid);
}

export const processRoutes = new Hono<AppEnv>()
  .post("/", requireRole("operator"), async (c) => {
    const body = await jsonBody(c, SpawnRequest);
    return c.json(unwrap(await kernel(c).spawn(body, actorOf(c))), 201);
  })
  .get("/", async (c) => {
    const page = await kernel(c).listProcesses(queryOf(c, ListQuery));
    return c.json({ processes: page.items, nextCursor: page.nextCursor });
  })
  .post("/restore", requireRole("operator"), async (c) => {
    const { checkpointId } = await jsonBody(c, RestoreRequest);
    return c.json(unwrap(await kernel(c).restore(checkpointId, actorOf(c))), 201);
  })
  .get("/:pid", async (c) => c.json(unwrap(await kernel(c).getProcess(pidOf(c)))))
  .get("/:pid/wait", async (c) => {
    const pid = pidOf(c);
    const { timeoutMs } = queryOf(c, WaitQuery);
    // Reaping changes the table: a viewer's wait reports the exit status without reaping.
    return c.json(unwrap(await kernel(c).wait(pid, timeoutMs, actorOf(c), { reap: canReap(c) })));
  })
  .post("/:pid/kill", requireRole("operator"), async (c) => {
    const pid = pidOf(c);
    const body = await jsonBody(c, KillRequest, { optional: true });
    return c.json(unwrap(await kernel(c).kill(pid, body, actorOf(c))));
  })
  .get("/:pid/messages", async (c) => {
    const query = queryOf(c, ConversationQuery);
    const page = unwrap(await (await proc(c)).conversationPage({ limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) }));
    return c.json({ messages: page.items, nextCursor: page.nextCursor });
  })
  .post("/:pid/messages", requireRole("operator"), async (c) => {
    const { content } = await jsonBody(c, MessageRequest);
    return c.json(unwrap(await (await proc(c)).message(content)), 202);
  })
  .post("/:pid/pause", requireRole("operator"), async (c) => c.json(unwrap(await (await proc(c)).pause())))
  .post("/:pid/resume", requireRole("operator"), async (c) => c.json(unwrap(await (await proc(c)).resume())))
  .post("/:pid/dispatch", requireRole("operator"), async (c) => {
    const body = await jsonBody(c, DispatchRequest);
    return c.json(unwrap(await (await proc(c)).dispatch(body.tool, body.arguments)));
  })
  .post("/:pid/delegate", requireRole("operator"), async (c) => {
    const { idempotencyKey, ...args } = await jsonBody(c, DelegateRequest);
    return c.json(unwrap(await (await proc(c)).delegate(args, idempotencyKey)), 201);
  })
  .post("/:pid/collect", requireRole("operator"), async (c) => {
    const args = await jsonBody(c, CollectRequest, { optional: true });
    return c.json(unwrap(await (await proc(c)).collect(args)));
  })
  .post("/:pid/cancel-all", requireRole("operator"), async (c) => c.json(unwrap(await kernel(c).cancelAll(pidOf(c), actorOf(c)))))
  .post("/:pid/checkpoint", requireRole("operator"), async (c) => c.json(unwrap(await kernel(c).checkpoint(pidOf(c), actorOf(c)))))
  .get("/:pid/events", async (c) => {
    const pid = pidOf(c);
    if (!(await kernel(c).hasProcess(pid))) throw notFound;
    return processEvents(c, pid);
  });
