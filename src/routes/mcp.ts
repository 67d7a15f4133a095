import { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "zod";
import { ApiError, McpListQuery, McpServerInput, McpServerName, unwrap } from "../contracts";
import { checkOutboundUrl, parseHostList } from "../lib/net";
import { forRoutes } from "../rpc/stubs";
import { actorOf, type AppEnv } from "./context";
import { createRoute, defineRoute, errors, json, jsonRequest, S } from "./openapi";

const notFound = ApiError.of(404, "not_found", "No such MCP server.");
const NameParam = z.object({ name: McpServerName.meta({ param: { name: "name", in: "path" }, example: "github" }) });
const tags = ["mcp"];
const UNREACHABLE =
  "`mcp_unreachable`: the server could not be reached, refused the connection (e.g. `401` without credentials) or does not speak MCP over Streamable HTTP; `details` = `{kind, cause, code?}`, `kind` one of `unreachable`, `unauthorized`, `not_mcp`, `timeout`, `protocol`. Nothing is stored. `limit_exceeded`: more than 32 servers, more than 256 tools, or a catalogue over 1 MiB.";

/** MCP servers (SPEC §10): everyone reads; admins register, refresh and remove. Header values are write-only. */
export const mcpRoutes = new OpenAPIHono<AppEnv>();

defineRoute(
  mcpRoutes,
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List the MCP servers",
    description: "The tenant's MCP servers by name, each with its exposed tools. Header values are never shown, only their names.",
    request: { query: McpListQuery },
    responses: { 200: json(S.McpServerList, "A page of servers, by name."), ...errors(400, 401, 500) },
  }),
  {},
  async (c, { query: { limit, cursor } }) => {
    const page = await forRoutes.kernel(c.env, c.get("tenant")).listMcp({ limit, ...(cursor ? { cursor } : {}) });
    return c.json({ servers: page.items, nextCursor: page.nextCursor });
  },
);

defineRoute(
  mcpRoutes,
  createRoute({
    method: "get",
    path: "/{name}",
    tags,
    summary: "Get an MCP server",
    request: { params: NameParam },
    responses: { 200: json(S.McpServer, "The server and its exposed tools."), ...errors(401, [404, "`not_found`."], 500) },
  }),
  { paramError: notFound },
  async (c, { param: { name } }) => c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).getMcp(name))),
);

defineRoute(
  mcpRoutes,
  createRoute({
    method: "put",
    path: "/{name}",
    tags,
    summary: "Register or replace an MCP server",
    description:
      "Connects to the server (MCP `initialize` over Streamable HTTP), lists its tools (`tools/list`, every page) and stores the catalogue. Its tools are granted and called as `mcp__<name>__<tool>`; `tools` (globs over the server's own tool names, default `[\"*\"]`) chooses which are exposed. A tool whose name is not `[A-Za-z0-9_-]`, or whose full name is over 64 characters, is listed under `skipped`. `headers` are sent with every request to the server and are write-only. The URL may not point at a private or local address unless its host is in `ALLOW_PRIVATE_HOSTS`.",
    request: { params: NameParam, body: jsonRequest(S.McpServerInput) },
    responses: {
      200: json(S.McpServer, "The server as stored."),
      ...errors([400, "`invalid_request` (also for a malformed name, `details[0].path` = `[\"name\"]`, or a refused URL, `details[0].path` = `[\"url\"]`) or `invalid_json`."], 401, 403, 413, [422, UNREACHABLE], 500),
    },
  }),
  {
    role: "admin",
    paramError: ApiError.of(400, "invalid_request", "MCP server names are 1-32 lowercase letters, digits and -, starting with a letter or digit.", [
      { path: ["name"], message: "MCP server names match ^[a-z0-9][a-z0-9-]{0,31}$", code: "invalid_format" },
    ]),
  },
  async (c, { param: { name }, body }) => {
    const config = McpServerInput.parse(body);
    // The same rule as webhooks (src/lib/net.ts): no private host unless the operator allows it; checked again on every request.
    const check = checkOutboundUrl(config.url, parseHostList(c.env.ALLOW_PRIVATE_HOSTS));
    if (!check.ok) {
      throw ApiError.of(400, "invalid_request", "The request body is invalid: the MCP server URL may not point at a private or local address.", [
        { path: ["url"], message: check.reason, code: "url_not_allowed" },
      ]);
    }
    return c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).registerMcp(name, config, actorOf(c))));
  },
);

defineRoute(
  mcpRoutes,
  createRoute({
    method: "post",
    path: "/{name}/refresh",
    tags,
    summary: "List an MCP server's tools again",
    description: "Reconnects with the stored URL and headers and replaces the catalogue. Running processes see the new catalogue from their next model call; tools added here reach processes spawned from now on. `changes` names the tools added, removed and changed.",
    request: { params: NameParam },
    responses: {
      200: json(S.McpRefreshResult, "The server as stored now, and what changed."),
      ...errors(401, 403, [404, "`not_found`."], [409, "`conflict`: the server was registered again during the refresh."], [422, UNREACHABLE], 500),
    },
  }),
  { role: "admin", paramError: notFound },
  async (c, { param: { name } }) => c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).refreshMcp(name, actorOf(c)))),
);

defineRoute(
  mcpRoutes,
  createRoute({
    method: "delete",
    path: "/{name}",
    tags,
    summary: "Remove an MCP server",
    description: "Its tools leave the catalogue: a later call of one, by a process that was granted it, is an error tool result (`tool_unavailable`).",
    request: { params: NameParam },
    responses: { 200: json(S.Deleted, "The server is gone."), ...errors(401, 403, [404, "`not_found`."], 500) },
  }),
  { role: "admin", paramError: notFound },
  async (c, { param: { name } }) => c.json(unwrap(await forRoutes.kernel(c.env, c.get("tenant")).removeMcp(name, actorOf(c)))),
);
