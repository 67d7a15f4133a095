import { Hono } from "hono";
import { ApiError, HookName, HookSpecInput, unwrap } from "../contracts";
import { kernelOf } from "../env";
import { actorOf, jsonBody, pathParam, requireRole, type AppEnv } from "./context";

const notFound = ApiError.of(404, "not_found", "No such hook.");

/** The hook chain is the tenant's security policy: admin only, reads included. */
export const hookRoutes = new Hono<AppEnv>()
  .use(requireRole("admin"))
  .get("/", async (c) => c.json({ hooks: await kernelOf(c.env, c.get("tenant")).listHooks() }))
  .put("/:name", async (c) => {
    const name = pathParam(c, "name", HookName, ApiError.of(400, "invalid_request", "Hook names are 1-64 lowercase letters, digits, _ and -."));
    const spec = await jsonBody(c, HookSpecInput);
    return c.json(unwrap(await kernelOf(c.env, c.get("tenant")).putHook(name, spec, actorOf(c))));
  })
  .delete("/:name", async (c) => {
    const name = pathParam(c, "name", HookName, notFound);
    return c.json(unwrap(await kernelOf(c.env, c.get("tenant")).deleteHook(name, actorOf(c))));
  });
