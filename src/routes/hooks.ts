import { Hono } from "hono";
import { ApiError, HookName, HookSpecInput, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { checkOutboundUrl, parseHostList } from "../lib/net";
import { actorOf, jsonBody, pathParam, requireRole, type AppEnv } from "./context";

const notFound = ApiError.of(404, "not_found", "No such hook.");

/** The hook chain is the tenant's security policy: admin only, reads included. */
export const hookRoutes = new Hono<AppEnv>()
  .use(requireRole("admin"))
  .get("/", async (c) => c.json({ hooks: await forRoutes.kernel(c.env, c.get("tenant")).listHooks() }))
  .put("/:name", async (c) => {
    const name = pathParam(c, "name", HookName, ApiError.of(400, "invalid_request", "Hook names are 1-64 lowercase letters, digits, _ and -."));
    const spec = await jsonBody(c, HookSpecInput);
    if (spec.kind === "webhook") {
      // No webhook may point into the kernel's own network (src/lib/net.ts); checked again at call time.
      const check = checkOutboundUrl(spec.url, parseHostList(c.env.ALLOW_PRIVATE_HOSTS));
      if (!check.ok) {
        throw ApiError.of(400, "invalid_request", "The request body is invalid: the webhook URL may not point at a private or local address.", [
          { path: ["url"], message: check.reason, code: "url_not_allowed" },
        ]);
      }
    }
    return c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).putHook(name, spec, actorOf(c))));
  })
  .delete("/:name", async (c) => {
    const name = pathParam(c, "name", HookName, notFound);
    return c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).deleteHook(name, actorOf(c))));
  });
