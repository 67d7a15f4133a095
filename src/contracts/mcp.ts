/**
 * MCP servers (SPEC §10): the body of `PUT /v1/mcp/:name`, the server and tool views the API
 * answers, and `McpToolBinding`, what a process gets from its kernel to call a tool.
 */
import { z } from "zod";
import { pageQuery } from "./common";
import { ToolPattern } from "./agent";

/** A server's name: part of every tool name (`mcp__<server>__<tool>`), so no `_` (the separator is `__`). */
export const McpServerName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "MCP server names are 1-32 lowercase letters, digits and -, starting with a letter or digit");

/** At most this many headers, each name an HTTP token and each value at most 8 KiB. */
export const MAX_MCP_HEADERS = 32;
/** Headers the Streamable HTTP transport (or HTTP itself) sets: a registration may not override them. */
const RESERVED_HEADERS = ["host", "content-type", "content-length", "accept", "mcp-session-id", "mcp-protocol-version", "last-event-id"];
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, "a header name is an HTTP token (letters, digits and !#$%&'*+.^_`|~-)");
const HeaderValue = z
  .string()
  .max(8192)
  .regex(/^[^\r\n\0]*$/, "a header value has no line breaks or NUL");

export const McpServerInput = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  /** Sent with every request to the server (API keys): write-only, never shown, audited or logged. */
  headers: z
    .record(HeaderName, HeaderValue)
    .refine((h) => Object.keys(h).length <= MAX_MCP_HEADERS, `at most ${MAX_MCP_HEADERS} headers`)
    .refine((h) => new Set(Object.keys(h).map((k) => k.toLowerCase())).size === Object.keys(h).length, "a header is named twice (header names are case-insensitive)")
    .refine((h) => !Object.keys(h).some((k) => RESERVED_HEADERS.includes(k.toLowerCase())), `the MCP transport sets these headers itself: ${RESERVED_HEADERS.join(", ")}`)
    .default({}),
  /** Globs over the server's own tool names: which of them are exposed to agents. */
  tools: z.array(ToolPattern).min(1).max(256).default(["*"]),
  /** Longest wait for the connection and `tools/list` (calls use the process's `toolTimeoutMs`). */
  timeoutMs: z.number().int().min(100).max(120_000).default(30_000),
});
export type McpServerInput = z.input<typeof McpServerInput>;
export type McpServerConfig = z.infer<typeof McpServerInput>;

/** The MCP tool annotations the kernel acts on (crash semantics) and shows. */
export const McpAnnotations = z.object({
  readOnlyHint: z.boolean().optional(),
  idempotentHint: z.boolean().optional(),
  destructiveHint: z.boolean().optional(),
  openWorldHint: z.boolean().optional(),
});
export type McpAnnotations = z.infer<typeof McpAnnotations>;

/** One exposed tool as the API shows it. */
export const McpTool = z.object({
  /** The name agents are granted and call it by: `mcp__<server>__<tool>`. */
  name: z.string(),
  /** The server's own name for it. */
  tool: z.string(),
  description: z.string(),
  /** The server's JSON Schema for its arguments, as the model sees it. */
  inputSchema: z.record(z.string(), z.unknown()),
  annotations: McpAnnotations,
});
export type McpTool = z.infer<typeof McpTool>;

/** A server as the API shows it: never a header value. */
export const McpServer = z.object({
  name: McpServerName,
  /** Without `user:password@` credentials. */
  url: z.string(),
  /** The names of the headers set (their values are write-only). */
  headerNames: z.array(z.string()),
  /** The globs choosing the exposed tools. */
  tools: z.array(z.string()),
  timeoutMs: z.number().int(),
  /** What the server said of itself in `initialize`. */
  serverInfo: z.object({ name: z.string(), version: z.string() }),
  /** The tools agents can be granted. */
  exposed: z.array(McpTool),
  /** Tools of the server that the `tools` globs leave out (their server names). */
  unexposed: z.array(z.string()),
  /** Tools the kernel cannot offer, with why (a name providers refuse, a schema that is not usable). */
  skipped: z.array(z.object({ tool: z.string(), reason: z.string() })),
  registeredAt: z.string(),
  refreshedAt: z.string(),
});
export type McpServer = z.infer<typeof McpServer>;

export const McpServerList = z.object({ servers: z.array(McpServer), nextCursor: z.string().nullable() });
export type McpServerList = z.infer<typeof McpServerList>;
export const McpListQuery = z.strictObject(pageQuery(100, McpServerName));

/** What a refresh changed among the exposed tools, by full tool name. */
export const McpRefreshResult = McpServer.extend({
  changes: z.object({ added: z.array(z.string()), removed: z.array(z.string()), changed: z.array(z.string()) }),
});
export type McpRefreshResult = z.infer<typeof McpRefreshResult>;

/** Everything a process needs to offer and call one MCP tool (kernel RPC `mcpTools`). */
export interface McpToolBinding {
  /** `mcp__<server>__<tool>` */
  name: string;
  server: string;
  /** The server's own name for the tool. */
  tool: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: McpAnnotations;
  connection: { url: string; headers: Record<string, string>; timeoutMs: number };
}

/** `mcp__<server>__<tool>`: a name every model provider accepts (`^[a-zA-Z0-9_-]{1,64}$`). */
export const mcpToolName = (server: string, tool: string) => `mcp__${server}__${tool}`;
export const MCP_PREFIX = "mcp__";
export const MAX_TOOL_NAME_LENGTH = 64;
