import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError, HookName, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { checkOutboundUrl, parseHostList } from "../lib/net";
import { actorOf, requireRole, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, json, jsonRequest, S } from "./openapi";

const notFound = ApiError.of(404, "not_found", "No such hook.");
const NameParam = z.object({ name: HookName.meta({ param: { name: "name", in: "path" }, example: "no-deletes" }) });
const tags = ["hooks"];

/** The hook chain is the tenant's security policy: admin only, reads included. */
export const hookRoutes = new OpenAPIHono<AppEnv>();
hookRoutes.use(requireRole("admin"));

defineRoute(
  hookRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List the hook chain",
    description: "The chain in order, the built-in audit hook first. Webhook secrets are never shown.\n\nNeeds the `admin` role.",
    responses: { 200: json(S.HookList, "The hooks in chain order."), ...errors(401, 403, 500) },
  }),
  {},
  async (c) => c.json({ hooks: await forRoutes.kernel(c.env, c.get("tenant")).listHooks() }),
);

defineRoute(
  hookRoutes,
  createRoute({
    method: "put",
    path: "/{name}",
    tags,
    summary: "Add or replace a hook",
    description:
      "A `policy` (declarative rules; the first matching rule decides) or a `webhook` (events POSTed as JSON, signed with `X-Kernel-Signature`). A webhook URL may not point at a private or local address unless its host is in `ALLOW_PRIVATE_HOSTS`.\n\nNeeds the `admin` role.",
    request: { params: NameParam, body: jsonRequest(S.HookSpecInput) },
    responses: {
      200: json(S.HookView, "The hook as stored, with its position."),
      ...errors([400, "`invalid_request` (also for a malformed name or a refused webhook URL, `details[0].path` = `[\"url\"]`) or `invalid_json`."], 401, 403, [409, "`conflict`: the name is reserved (`audit`)."], 413, 500),
    },
  }),
  { paramError: ApiError.of(400, "invalid_request", "Hook names are 1-64 lowercase letters, digits, _ and -.") },
  async (c, { param: { name }, body: spec }) => {
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
  },
);

defineRoute(
  hookRoutes,
  createRoute({
    method: "delete",
    path: "/{name}",
    tags,
    summary: "Remove a hook",
    description: "Needs the `admin` role.",
    request: { params: NameParam },
    responses: { 200: json(S.Deleted, "The hook is gone."), ...errors(401, 403, [404, "`not_found`."], [409, "`conflict`: the audit hook cannot be removed."], 500) },
  }),
  { paramError: notFound },
  async (c, { param: { name } }) => c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).deleteHook(name, actorOf(c)))),
);
