import { OpenAPIHono } from "@hono/zod-openapi";
import { AuditQuery, AuditVerifyQuery } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import type { AppEnv } from "./context";
import { createRoute, defineRoute, errors, json, S } from "./openapi";

const tags = ["audit"];

export const auditRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  auditRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "Read the audit log",
    description: "Entries in sequence order after `afterSeq` (or after `cursor`, which takes precedence); 100 a page by default.",
    request: { query: AuditQuery },
    responses: { 200: json(S.AuditPage, "A page of the hash-chained log."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query: { afterSeq, limit, cursor } }) => {
    const page = await forRoutes.kernel(c.env, c.get("tenant")).listAudit(cursor !== undefined ? Number(cursor) : afterSeq, limit);
    return c.json({ entries: page.items, nextCursor: page.nextCursor });
  },
);

// Verifies what was appended since the last verified head; `?full=true` re-hashes the whole chain.
defineRoute(
  auditRoutes,
  createRoute({
    method: "get",
    path: "/verify",
    tags,
    summary: "Verify the audit chain",
    description: "Checks every entry appended since the last verified head plus 10,000 older ones in rotation; `full=true` re-hashes the whole chain.",
    request: { query: AuditVerifyQuery },
    responses: { 200: json(S.AuditVerify, "`ok: false` names the first broken entry in `brokenAt`."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query: { full } }) => c.json(await forRoutes.kernel(c.env, c.get("tenant")).verifyAudit(full === "true" || full === "1")),
);
