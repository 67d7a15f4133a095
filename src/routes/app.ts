import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ApiError, type ErrorBody } from "../contracts";
import { agentRoutes } from "./agents";
import { auditRoutes } from "./audit";
import { authenticate, type AppEnv } from "./context";
import { fsRoutes } from "./fs";
import { hookRoutes } from "./hooks";
import { processRoutes } from "./procs";
import { taskRoutes } from "./tasks";

export const MAX_BODY_BYTES = 1024 * 1024;

const errorResponse = (status: number, body: ErrorBody) => Response.json(body, { status });

export function createApp() {
  const app = new Hono<AppEnv>();

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

  app.get("/healthz", (c) => c.json({ ok: true }));

  const v1 = new Hono<AppEnv>();
  v1.use(authenticate);
  v1.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => {
        throw ApiError.of(413, "payload_too_large", "Request bodies are limited to 1 MiB.");
      },
    }),
  );
  v1.route("/agents", agentRoutes);
  v1.route("/procs", processRoutes);
  v1.route("/tasks", taskRoutes);
  v1.route("/hooks", hookRoutes);
  v1.route("/audit", auditRoutes);
  v1.route("/fs", fsRoutes);
  app.route("/v1", v1);
  return app;
}
