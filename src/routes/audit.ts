import { Hono } from "hono";
import { AuditQuery } from "../contracts";
import { kernelOf } from "../env";
import { queryOf, type AppEnv } from "./context";

export const auditRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const { afterSeq, limit } = queryOf(c, AuditQuery);
    return c.json({ entries: await kernelOf(c.env, c.get("tenant")).listAudit(afterSeq, limit) });
  })
  .get("/verify", async (c) => c.json(await kernelOf(c.env, c.get("tenant")).verifyAudit()));
