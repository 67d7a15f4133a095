import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import type { AppContext, AppEnv } from "./context";
import { createRoute, defineRoute, errors, json, S } from "./openapi";

/** Where app.ts mounts these routes; the file path is what follows it in the URL. */
const MOUNT = "/v1/fs";

/**
 * The workspace path named by the URL. Each segment is percent-decoded exactly once, so `%2F` may
 * add slashes and `%2e%2e` may spell `..`; the workspace normalizes the result, clamping at `/`,
 * so no spelling escapes the tenant's root.
 */
function filePath(c: AppContext): string {
  const pathname = new URL(c.req.url).pathname;
  const rest = pathname.startsWith(MOUNT) ? pathname.slice(MOUNT.length) : pathname;
  try {
    return rest.split("/").map(decodeURIComponent).join("/") || "/";
  } catch {
    throw ApiError.of(400, "invalid_request", "The file path is not valid percent-encoding.");
  }
}

async function listFiles(c: AppContext) {
  const glob = c.req.query("glob") || "/**";
  return c.json(unwrap(await forRoutes.workspace(c.env, c.get("tenant")).globFiles(glob)));
}

const tags = ["files"];
/**
 * The file routes take the rest of the URL as the path (`/v1/fs/notes/a.md` is `/notes/a.md`), which
 * an OpenAPI path parameter cannot express (it never spans a `/`): the document shows `/v1/fs/{path}`
 * and says so. Hono serves the wildcard `/v1/fs/*`.
 */
const wildcard = { honoPath: "/*" };
const pathParameter = {
  name: "path",
  in: "path" as const,
  required: true,
  schema: { type: "string" as const, example: "notes/a.md" },
  description:
    "The file's path in the tenant's workspace: the REST of the URL, slashes included (`/v1/fs/notes/a.md` is `/notes/a.md`), each segment percent-decoded once. OpenAPI path parameters cannot span `/`, so tools that encode `{path}` as one segment should send `%2F` (also accepted).",
};
const GlobQuery = z.object({ glob: z.string().optional().meta({ description: "A glob over file paths; default `/**`.", example: "/notes/**" }) });

export const fsRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  fsRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List files",
    request: { query: GlobQuery },
    responses: { 200: json(S.FileList, "The paths of the files matching `glob`."), ...errors(400, 401, 500) },
  }),
  {},
  async (c) => listFiles(c),
);

defineRoute(
  fsRoutes,
  createRoute({
    method: "get",
    path: "/{path}",
    tags,
    summary: "Read a file",
    description: "Answers the file's text. `GET /v1/fs/` (an empty path) lists files like `GET /v1/fs`.",
    parameters: [pathParameter],
    responses: {
      200: { description: "The file's text.", content: { "text/plain": { schema: z.string() } } },
      ...errors(400, 401, [404, "`file_not_found`."], 500),
    },
  }),
  wildcard,
  async (c) => {
    const path = filePath(c);
    if (path === "/") return listFiles(c);
    const file = unwrap(await forRoutes.workspace(c.env, c.get("tenant")).readFile(path));
    return c.text(file.content);
  },
);

/** Decodes the body as UTF-8 whatever its content type, keeping a leading BOM as part of the text. */
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

// app.ts's bodyLimit has already capped the body at 1 MiB; the workspace re-checks the decoded text,
// which invalid UTF-8 can make longer.
defineRoute(
  fsRoutes,
  createRoute({
    method: "put",
    path: "/{path}",
    tags,
    summary: "Write a file",
    description: "Creates or replaces the file; the body is its text (UTF-8), whatever its content type. At most 1 MiB.",
    parameters: [pathParameter],
    request: { body: { required: true, content: { "text/plain": { schema: z.string().meta({ description: "The file's text." }) } } } },
    responses: {
      200: json(S.FileWritten, "The path written and its size in bytes."),
      ...errors(400, 401, 403, [409, "`conflict`: a directory is in the way."], [413, "`payload_too_large`: the file is over 1 MiB."], 500),
    },
  }),
  { ...wildcard, role: "operator" },
  async (c) => {
    const content = utf8.decode(await c.req.arrayBuffer());
    return c.json(unwrap(await forRoutes.workspace(c.env, c.get("tenant")).writeFile(filePath(c), content)));
  },
);

defineRoute(
  fsRoutes,
  createRoute({
    method: "delete",
    path: "/{path}",
    tags,
    summary: "Delete a file",
    parameters: [pathParameter],
    responses: { 200: json(S.FileDeleted, "The path deleted."), ...errors(400, 401, 403, [404, "`file_not_found`."], 500) },
  }),
  { ...wildcard, role: "operator" },
  async (c) => c.json(unwrap(await forRoutes.workspace(c.env, c.get("tenant")).deleteFile(filePath(c)))),
);
