import { OpenAPIHono } from "@hono/zod-openapi";
import { forRoutes } from "../rpc/stubs";
import { forwardEventStream, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, eventStream, lastEventIdHeader } from "./openapi";

export const eventRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  eventRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags: ["events"],
    summary: "Stream the tenant's changes",
    description:
      "Server-Sent Events of the tenant as it changes, produced from the kernel's own commits (a change that is not committed is never announced): `proc` with `{process}` on every state, turn, usage or exit change (and when its `pendingInput` changes); `task` with `{task}` when a task is made or changes state; `approval` with `{approval}` when an approval is opened, decided or expires; `audit` with `{entry}` for each audit entry. Each event has a sequence id; `Last-Event-ID` resumes after it (the last 10,000 events are kept). Events carry the process or task as it is when the event is sent. What a live view listens to.",
    request: { headers: lastEventIdHeader },
    responses: { 200: eventStream("The tenant's event stream."), ...errors(401, 500) },
  }),
  {},
  async (c) => forwardEventStream(c, forRoutes.kernel(c.env, c.get("tenant"))),
);
