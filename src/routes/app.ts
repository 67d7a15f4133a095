import { OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ApiError, type ErrorBody } from "../contracts";
import { a2aRoutes } from "./a2a";
import { agentRoutes } from "./agents";
import { approvalRoutes } from "./approvals";
import { auditRoutes } from "./audit";
import { authenticate, type AppEnv } from "./context";
import { docsPage } from "./docs";
import { eventRoutes } from "./events";
import { fsRoutes } from "./fs";
import { hookRoutes } from "./hooks";
import { mcpRoutes } from "./mcp";
import { createRoute, defineRoute, json, S } from "./openapi";
import { processRoutes } from "./procs";
import { taskRoutes } from "./tasks";

export const MAX_BODY_BYTES = 1024 * 1024;

const errorResponse = (status: number, body: ErrorBody) => Response.json(body, { status });

/** The document's top level: what /openapi.json is generated with. */
const DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "Agent Kernel API",
    version: "0.1.0",
    description:
      "A multi-agent runtime with an operating-system model: a kernel per tenant (process table, agent registry, hook chain, hash-chained audit log), agent processes, a workspace file system, and copilots that delegate tasks to workers.\n\nEvery route under `/v1` needs `Authorization: Bearer <JWT>` (HS256, `sub` = tenant, `role` = viewer | operator | admin, `exp` required). `viewer` reads; `operator` also spawns, kills, messages, delegates, cancels, dispatches and writes files; `admin` also registers agents and MCP servers and manages hooks. Errors are `{\"error\": {\"code\", \"message\", \"details?\"}}` (`ErrorBody`). Lists are paged with `?limit=` and `?cursor=`; pass an answer's `nextCursor` back as `cursor` (`null` on the last page).",
  },
  tags: [
    { name: "agents", description: "The registry of agent specs processes are spawned from." },
    { name: "processes", description: "Agent processes: spawn, list, wait, kill, messages, pause/resume, dispatch, checkpoints, events." },
    { name: "delegation", description: "Copilot/worker tasks (A2A shape): delegate, collect, cancel." },
    { name: "approvals", description: "People in the loop: tool calls a policy holds for a person's decision." },
    { name: "files", description: "The tenant's workspace files." },
    { name: "hooks", description: "The tenant's hook chain (admin only)." },
    { name: "mcp", description: "MCP servers whose tools agents can be granted (`mcp__<server>__<tool>`)." },
    { name: "audit", description: "The hash-chained audit log." },
    { name: "a2a", description: "Every agent as an A2A server: its agent card and JSON-RPC endpoint (A2A 1.0, and 0.3 method names), behind the same token." },
    { name: "meta", description: "Health and this description." },
  ],
  security: [{ bearerAuth: [] }],
};

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      const { status, code, message, details } = err.failure;
      return errorResponse(status, { error: details === undefined ? { code, message } : { code, message, details } });
    }
    if (err instanceof HTTPException && err.status === 413) {
      return errorResponse(413, { error: { code: "payload_too_large", message: "Request bodies are limited to 1 MiB." } });
    }
    console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, err instanceof Error ? err.message : String(err));
    return errorResponse(500, { error: { code: "internal", message: "Something went wrong inside the kernel." } });
  });
  app.notFound(() => errorResponse(404, { error: { code: "not_found", message: "No such route." } }));

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An HS256 JWT signed with the kernel's AUTH_SECRET: `sub` = tenant id, `role` = viewer | operator | admin, `exp` required.",
  });

  // The SSE routes' events, documented as a schema of their own (text/event-stream has no JSON body to refer to it).
  app.openAPIRegistry.register("ProcessEvent", S.ProcessEvent);

  defineRoute(
    app,
    createRoute({ method: "get", path: "/healthz", tags: ["meta"], summary: "Health check", security: [], responses: { 200: json(S.Health, "The Worker is up.") } }),
    {},
    (c) => c.json({ ok: true }),
  );

  const v1 = new OpenAPIHono<AppEnv>();
  const limitBody = bodyLimit({
    maxSize: MAX_BODY_BYTES,
    onError: () => {
      throw ApiError.of(413, "payload_too_large", "Request bodies are limited to 1 MiB.");
    },
  });
  v1.use(authenticate);
  v1.use(limitBody);
  v1.route("/agents", agentRoutes);
  v1.route("/procs", processRoutes);
  v1.route("/tasks", taskRoutes);
  v1.route("/approvals", approvalRoutes);
  v1.route("/hooks", hookRoutes);
  v1.route("/mcp", mcpRoutes);
  v1.route("/audit", auditRoutes);
  v1.route("/fs", fsRoutes);
  v1.route("/events", eventRoutes);
  app.route("/v1", v1);

  // SPEC §12: each agent's A2A card and JSON-RPC endpoint, behind the same token.
  const a2a = new OpenAPIHono<AppEnv>();
  a2a.use(authenticate);
  a2a.use(limitBody);
  a2a.route("/", a2aRoutes);
  app.route("/a2a", a2a);

  // The description of every route above, generated once from their declarations; no token needed.
  let document: ReturnType<typeof app.getOpenAPI31Document> | undefined;
  const openapi = () => (document ??= tidy(app.getOpenAPI31Document(DOCUMENT)));
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/openapi.json",
      tags: ["meta"],
      summary: "This OpenAPI 3.1 document",
      security: [],
      responses: { 200: json(z.record(z.string(), z.unknown()).meta({ description: "An OpenAPI 3.1 document." }), "The description of every route.") },
    }),
    {},
    (c) => c.json(openapi()),
  );
  defineRoute(
    app,
    createRoute({
      method: "get",
      path: "/docs",
      tags: ["meta"],
      summary: "The API reference page",
      description: "A self-contained HTML rendering of /openapi.json (no scripts, nothing loaded from elsewhere).",
      security: [],
      responses: { 200: { description: "An HTML page.", content: { "text/html": { schema: z.string() } } } },
    }),
    {},
    (c) => c.html(docsPage(openapi())),
  );
  return app;
}

/** The OpenAPI 3.1 document of the API, built without bindings (for tools and Node-side checks). */
export const openApiDocument = () => tidy(createApp().getOpenAPI31Document(DOCUMENT));

/**
 * Query and path parameters arrive as strings and are never null, but the generator types a coerced
 * number (`z.coerce.number()`, whose input is unknown) as `["integer", "null"]`: drop the `null`.
 */
function tidy<D extends { paths?: Record<string, unknown> }>(doc: D): D {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(item as Record<string, { parameters?: { schema?: { type?: unknown } }[] }>)) {
      for (const p of op.parameters ?? []) {
        const type = p.schema?.type;
        if (Array.isArray(type) && type.includes("null")) {
          const rest = type.filter((t) => t !== "null");
          p.schema!.type = rest.length === 1 ? rest[0] : rest;
        }
      }
    }
  }
  return doc;
}
