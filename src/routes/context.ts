import type { Context, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { ApiError, Role, TenantId } from "../contracts";
import type { Env } from "../env";
import { verifyJwt } from "../lib/jwt";
import { forRoutes } from "../rpc/stubs";

export type AppEnv = { Bindings: Env; Variables: { tenant: string; role: Role } };
export type AppContext = Context<AppEnv>;

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Bearer JWT auth (SPEC §2): sets the tenant and role for the routes below it. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match) throw ApiError.of(401, "unauthorized", "A bearer token is required.");
  if (!c.env.AUTH_SECRET) throw ApiError.of(500, "internal", "AUTH_SECRET is not configured.");
  // Every token must expire unless the operator opted out (ALLOW_NON_EXPIRING_TOKENS="true").
  const requireExp = c.env.ALLOW_NON_EXPIRING_TOKENS?.trim().toLowerCase() !== "true";
  const claims = await verifyJwt(match[1]!, c.env.AUTH_SECRET, { requireExp });
  const tenant = TenantId.safeParse(claims?.sub);
  const role = Role.safeParse(claims?.role);
  if (!claims || !tenant.success || !role.success) throw ApiError.of(401, "unauthorized", "The token is malformed, wrongly signed, expired, not yet valid (nbf) or has no expiry (exp).");
  c.set("tenant", tenant.data);
  c.set("role", role.data);
  await next();
};

export const hasRole = (c: AppContext, needed: Role): boolean => RANK[c.get("role")] >= RANK[needed];

export const requireRole =
  (needed: Role): MiddlewareHandler<AppEnv> =>
  async (c, next) => {
    if (!hasRole(c, needed)) throw ApiError.of(403, "forbidden", `This call needs the ${needed} role.`);
    await next();
  };

function invalid(error: z.ZodError, where: string): ApiError {
  const details = error.issues.map((i) => ({ path: i.path.map(String), message: i.message, code: i.code }));
  // A field over its size cap (e.g. metadata) is a body too large, not a malformed one.
  const tooLarge = error.issues.filter((i) => i.code === "custom" && (i.params as { tooLarge?: boolean } | undefined)?.tooLarge);
  if (tooLarge.length > 0 && tooLarge.length === error.issues.length) {
    return ApiError.of(413, "payload_too_large", `The request ${where} is too large: ${tooLarge.map((i) => i.message).join("; ")}.`, details);
  }
  return ApiError.of(400, "invalid_request", `The request ${where} is invalid.`, details);
}

/** Parses the JSON body with a contract schema; bad JSON and schema misses are 400s in the SPEC's shape. */
export async function jsonBody<S extends z.ZodType>(c: AppContext, schema: S, { optional = false } = {}): Promise<z.infer<S>> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim() !== "" || !optional) {
    try {
      raw = JSON.parse(text);
    } catch {
      throw ApiError.of(400, "invalid_json", "The request body is not valid JSON.");
    }
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw invalid(parsed.error, "body");
  return parsed.data;
}

export function queryOf<S extends z.ZodType>(c: AppContext, schema: S): z.infer<S> {
  const parsed = schema.safeParse(c.req.query());
  if (!parsed.success) throw invalid(parsed.error, "query");
  return parsed.data;
}

export function pathParam<S extends z.ZodType>(c: AppContext, name: string, schema: S, notFound: ApiError): z.infer<S> {
  const parsed = schema.safeParse(c.req.param(name));
  if (!parsed.success) throw notFound;
  return parsed.data;
}

/** The audit log's actor for an HTTP caller. */
export const actorOf = (c: AppContext) => `api:${c.get("role")}`;

/** An object's SSE stream, resumed after the caller's `Last-Event-ID` and closed when the caller goes. */
export function forwardEventStream(c: AppContext, source: { fetch(request: Request): Promise<Response> }): Promise<Response> {
  const headers = new Headers();
  const last = c.req.header("last-event-id");
  if (last) headers.set("last-event-id", last);
  return source.fetch(new Request("https://kernel/events", { headers, signal: c.req.raw.signal }));
}

/** A process's SSE stream (the process's events, or a task's: its worker's). */
export const processEvents = (c: AppContext, pid: number): Promise<Response> => forwardEventStream(c, forRoutes.process(c.env, c.get("tenant"), pid));
