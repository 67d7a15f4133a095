import { Hono } from "hono";
import { AuditQuery, AuditVerifyQuery } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { queryOf, type AppEnv } from "./context";

export const auditRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { afterSeq, limit, cursor } = queryOf(c, AuditQuery);
    const page = await forRoutes.kernel(c.env, c.get("tenant")).listAudit(cursor !== undefined ? Number(cursor) : afterSeq, limit);
    return c.json({ entries: page.items, nextCursor: page.nextCursor });
  })
  // Verifies what was appended since the last verified head; `?full=true` re-hashes the whole chain.
  .get("/verify", async (c) => {
    const { full } = queryOf(c, AuditVerifyQuery);
    return c.json(await forRoutes.kernel(c.env, c.get("tenant")).verifyAudit(full === "true" || full === "1"));
  });
