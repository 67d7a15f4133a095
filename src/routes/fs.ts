import { Hono } from "hono";
import { ApiError, unwrap } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { requireRole, type AppContext, type AppEnv } from "./context";

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

export const fsRoutes = new Hono<AppEnv>();

fsRoutes.get("/", listFiles);

fsRoutes.get("/*", async (c) => {
  const path = filePath(c);
  if (path === "/") return listFiles(c);
  const file = unwrap(await forRoutes.workspace(c.env, c.get("tenant")).readFile(path));
  return c.text(file.content);
});

/** Decodes the body as UTF-8 whatever its content type, keeping a leading BOM as part of the text. */
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

// app.ts's bodyLimit has already capped the body at 1 MiB; the workspace re-checks the decoded text,
// which invalid UTF-8 can make longer.
fsRoutes.put("/*", requireRole("operator"), async (c) => {
  const content = utf8.decode(await c.req.arrayBuffer());
  return c.json(unwrap(await forRoutes.workspace(c.env, c.get("tenant")).writeFile(filePath(c), content)));
});

fsRoutes.delete("/*", requireRole("operator"), async (c) => {
  return c.json(unwrap(await forRoutes.workspace(c.env, c.get("tenant")).deleteFile(filePath(c))));
});
