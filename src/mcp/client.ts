/**
 * The kernel's MCP client (SPEC §10): one session with one remote MCP server over the Streamable HTTP
 * transport, built on the official SDK's `Client`, used by the registry (connect, list every page of
 * tools) and by processes (call a tool). Workers-safe: no Node APIs, and JSON Schemas are compiled by
 * `@cfworker/json-schema` (the SDK's default, Ajv, generates code with `new Function`, which workerd
 * refuses).
 *
 * Every failure comes out as an `McpClientError` with a `kind` and a sentence a person can act on;
 * header values (API keys) are never part of one: the messages are built from statuses, the server's
 * own words (with any header value it echoes blanked out) and the URL without credentials.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport, StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ErrorCode, McpError, type CallToolResult, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { checkOutboundUrl, redactUrlCredentials } from "../lib/net";

export interface McpConnection {
  url: string;
  /** Sent with every request (e.g. `Authorization`); write-only, never echoed in errors. */
  headers: Record<string, string>;
  /** Longest wait for the connection and for each request that has no timeout of its own. */
  timeoutMs: number;
}

export type McpFailureKind =
  /** The URL is not one the kernel may call (scheme, private host without ALLOW_PRIVATE_HOSTS). */
  | "blocked_url"
  /** No HTTP answer: DNS, refused connection, reset, TLS. */
  | "unreachable"
  /** 401 / 403: missing or wrong credentials. */
  | "unauthorized"
  /** An HTTP answer that is not MCP over Streamable HTTP: another status, content type or body. */
  | "not_mcp"
  /** No answer within the timeout. */
  | "timeout"
  /** A JSON-RPC error from the server, or a protocol violation (version, malformed result). */
  | "protocol"
  /** More tools (or pages) than the kernel stores for one server. */
  | "too_large"
  /** The caller's signal aborted the request. */
  | "aborted";

export class McpClientError extends Error {
  override readonly name = "McpClientError";
  constructor(
    readonly kind: McpFailureKind,
    message: string,
    /** The HTTP status or JSON-RPC error code when there is one. */
    readonly code?: number,
  ) {
    super(message);
  }
}

/** What `tools/list` says of one tool, as the kernel keeps it. */
export interface McpListedTool {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
  annotations: Record<string, unknown>;
}

export interface McpSession {
  /** The server's `initialize` answer: name and version. */
  readonly serverInfo: { name: string; version: string };
  /** `tools/list`, following every `nextCursor`; refuses over `maxTools` tools or `maxPages` pages. */
  listAllTools(limits?: { maxTools?: number; maxPages?: number }): Promise<McpListedTool[]>;
  /** `tools/call`; a tool's own failure is a result with `isError: true`, anything else throws `McpClientError`. */
  callTool(name: string, args: Record<string, unknown>, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<CallToolResult>;
  /** Ends the session (best effort `DELETE`, then the transport). Never throws. */
  close(): Promise<void>;
}

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

const CLIENT_INFO = { name: "agent-kernel", version: "0.1.0" };
/** How long close() gives the server to acknowledge the session's end. */
const TERMINATE_TIMEOUT_MS = 2_000;

/**
 * Connects (`initialize`) to the server at `conn.url`. `allowPrivateHosts` is the parsed
 * `ALLOW_PRIVATE_HOSTS` setting (`parseHostList`): every request the transport makes, redirects
 * included, is checked against it, and none follows a redirect off the server's origin.
 */
export async function openMcpSession(conn: McpConnection, fetchImpl: FetchLike = fetch, allowPrivateHosts: readonly string[] = []): Promise<McpSession> {
  const first = checkOutboundUrl(conn.url, allowPrivateHosts);
  if (!first.ok) throw new McpClientError("blocked_url", first.reason);
  const where = redactUrlCredentials(conn.url);
  const failure = (err: unknown, doing: string, timeoutMs: number) => {
    const e = classify(err, doing, timeoutMs);
    const message = scrubSecrets(e.message, conn.headers);
    return message === e.message ? e : new McpClientError(e.kind, message, e.code);
  };

  const guardedFetch: FetchLike = async (input, init) => {
    const target = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const check = checkOutboundUrl(target, allowPrivateHosts);
    if (!check.ok) throw new McpClientError("blocked_url", check.reason);
    return fetchImpl(input, { ...init, redirect: "manual" });
  };

  const transport = new StreamableHTTPClientTransport(new URL(conn.url), {
    fetch: guardedFetch,
    requestInit: { headers: { ...conn.headers } },
    // The standalone GET stream is only for server-initiated messages; do not retry it for long.
    reconnectionOptions: { initialReconnectionDelay: 1000, maxReconnectionDelay: 5000, reconnectionDelayGrowFactor: 1.5, maxRetries: 0 },
  });
  const client = new Client(CLIENT_INFO, { capabilities: {}, jsonSchemaValidator: new CfWorkerJsonSchemaValidator() });
  // Transport errors also reach the request that caused them; the handler only keeps them off the console.
  client.onerror = () => {};

  try {
    await client.connect(transport, { timeout: conn.timeoutMs });
  } catch (err) {
    await client.close().catch(() => {});
    throw failure(err, `connecting to ${where}`, conn.timeoutMs);
  }
  const info = client.getServerVersion();
  const serverInfo = { name: String(info?.name ?? ""), version: String(info?.version ?? "") };

  let closed = false;
  return {
    serverInfo,
    async listAllTools(limits = {}) {
      const maxTools = limits.maxTools ?? 1000;
      const maxPages = limits.maxPages ?? 100;
      const tools: McpListedTool[] = [];
      const seen = new Set<string>();
      let cursor: string | undefined;
      for (let page = 1; ; page++) {
        if (page > maxPages) throw new McpClientError("too_large", `The server's tools/list has more than ${maxPages} pages.`);
        let answer: { tools: Tool[]; nextCursor?: string | undefined };
        try {
          answer = await client.listTools(cursor === undefined ? undefined : { cursor }, { timeout: conn.timeoutMs });
        } catch (err) {
          throw failure(err, `listing the tools of ${where}`, conn.timeoutMs);
        }
        for (const tool of answer.tools) tools.push(listed(tool));
        if (tools.length > maxTools) throw new McpClientError("too_large", `The server lists more than ${maxTools} tools.`);
        cursor = answer.nextCursor;
        if (cursor === undefined || cursor === "") return tools;
        if (seen.has(cursor)) throw new McpClientError("protocol", `The server's tools/list returned the cursor ${JSON.stringify(cursor.slice(0, 80))} twice.`);
        seen.add(cursor);
      }
    },
    async callTool(name, args, options = {}) {
      const timeoutMs = options.timeoutMs ?? conn.timeoutMs;
      try {
        const result = await client.callTool({ name, arguments: args }, undefined, { timeout: timeoutMs, ...(options.signal ? { signal: options.signal } : {}) });
        // Servers of protocol 2024-10-07 and older may answer `{toolResult}`: show it as text.
        if (!Array.isArray((result as CallToolResult).content)) {
          return { content: [{ type: "text", text: JSON.stringify((result as { toolResult?: unknown }).toolResult ?? result) }] };
        }
        return result as CallToolResult;
      } catch (err) {
        if (options.signal?.aborted) throw new McpClientError("aborted", `The call to ${name} was abandoned.`);
        throw failure(err, `calling ${name} on ${where}`, timeoutMs);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        transport.terminateSession().catch(() => {}),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, TERMINATE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
      await client.close().catch(() => {});
    },
  };
}

function listed(tool: Tool): McpListedTool {
  return {
    name: tool.name,
    description: tool.description ?? tool.title ?? "",
    inputSchema: (tool.inputSchema ?? { type: "object" }) as Record<string, unknown>,
    annotations: { ...(tool.annotations ?? {}) },
  };
}

/** `message` with every header value blanked out: a server may echo a credential in its error page. */
export function scrubSecrets(message: string, headers: Record<string, string>): string {
  let out = message;
  for (const value of Object.values(headers)) {
    // The whole value, and its credential alone (what follows a scheme such as `Bearer `).
    for (const part of [value, value.trim().split(/\s+/).at(-1) ?? ""]) if (part.length >= 4) out = out.split(part).join("***");
  }
  return out;
}

/** A longest cause we quote from a server, so an HTML error page does not become the message. */
const QUOTE_MAX = 200;
const quote = (text: string) => {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > QUOTE_MAX ? `${flat.slice(0, QUOTE_MAX)}…` : flat;
};

/** Turns whatever the SDK or fetch threw into an `McpClientError` whose message says what went wrong. */
export function classify(err: unknown, doing: string, timeoutMs: number): McpClientError {
  if (err instanceof McpClientError) return err;
  if (err instanceof StreamableHTTPError) {
    const status = err.code ?? -1;
    const said = quote(err.message.replace(/^Streamable HTTP error: /, "").replace(/^Error POSTing to endpoint: /, ""));
    if (status === 401 || status === 403) {
      return new McpClientError("unauthorized", `The server refused ${doing}: HTTP ${status}${said ? ` (${said})` : ""}. Check the credentials in the server's headers.`, status);
    }
    if (status === -1) return new McpClientError("not_mcp", `The server does not speak MCP over Streamable HTTP (${doing}): ${said}.`);
    return new McpClientError("not_mcp", `The server answered HTTP ${status} when ${doing}${said ? `: ${said}` : ""}; it is not an MCP Streamable HTTP endpoint, or it failed.`, status);
  }
  if (err instanceof McpError) {
    if (err.code === ErrorCode.RequestTimeout) return new McpClientError("timeout", `No answer within ${timeoutMs} ms when ${doing}.`, err.code);
    if (err.code === ErrorCode.ConnectionClosed) return new McpClientError("unreachable", `The connection closed when ${doing}.`, err.code);
    const said = quote(err.message.replace(/^MCP error -?\d+: /, ""));
    return new McpClientError("protocol", `The server answered a JSON-RPC error ${err.code} when ${doing}: ${said}`, err.code);
  }
  const name = err instanceof Error ? err.name : "";
  const message = err instanceof Error ? err.message : String(err);
  if (name === "AbortError" || name === "TimeoutError") return new McpClientError("timeout", `No answer within ${timeoutMs} ms when ${doing}.`);
  if (name === "ZodError" || name === "SyntaxError" || /Unexpected content type|JSON/i.test(message)) {
    return new McpClientError("not_mcp", `The server's answer is not MCP (${doing}): ${quote(message)}`);
  }
  if (/protocol version/i.test(message)) return new McpClientError("protocol", `${quote(message)} (${doing}).`);
  return new McpClientError("unreachable", `The server could not be reached when ${doing}: ${quote(message) || "network error"}.`);
}

/** Longest tool output kept (characters); beyond it the output is cut with a note. */
export const MCP_OUTPUT_MAX_CHARS = 100_000;

/**
 * A `tools/call` result as the model sees it (SPEC §10): the text content is the output; every other
 * content item is one line (`[image/png, 2311 bytes]`, the decoded size); `isError: true` → `ok: false`
 * with the same rendering (the loop prefixes `Error: `). `structuredContent` without any content
 * becomes its JSON.
 */
export function renderCallResult(result: CallToolResult | { content?: unknown; isError?: unknown; structuredContent?: unknown }): { ok: boolean; output: string } {
  const ok = result.isError !== true;
  const content = Array.isArray(result.content) ? (result.content as unknown[]) : [];
  const lines: string[] = [];
  for (const item of content) lines.push(renderItem(item));
  if (lines.length === 0 && result.structuredContent !== undefined) lines.push(JSON.stringify(result.structuredContent));
  let output = lines.join("\n");
  if (output.length > MCP_OUTPUT_MAX_CHARS) {
    output = `${output.slice(0, MCP_OUTPUT_MAX_CHARS)}\n[output truncated: ${output.length - MCP_OUTPUT_MAX_CHARS} more characters]`;
  }
  return { ok, output };
}

function renderItem(item: unknown): string {
  if (item === null || typeof item !== "object") return `[unknown content]`;
  const c = item as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  switch (c.type) {
    case "text":
      return str(c.text) ?? "";
    case "image":
    case "audio":
      return `[${str(c.mimeType) ?? c.type}, ${base64Bytes(str(c.data) ?? "")} bytes]`;
    case "resource_link":
      return `[resource link ${str(c.uri) ?? "?"}${str(c.name) ? ` (${str(c.name)})` : ""}${str(c.mimeType) ? `, ${str(c.mimeType)}` : ""}]`;
    case "resource": {
      const r = (c.resource ?? {}) as Record<string, unknown>;
      const size = str(r.text) !== undefined ? `${utf8Bytes(str(r.text)!)} bytes of text` : `${base64Bytes(str(r.blob) ?? "")} bytes`;
      return `[resource ${str(r.uri) ?? "?"}${str(r.mimeType) ? `, ${str(r.mimeType)}` : ""}, ${size}]`;
    }
    default:
      return `[${typeof c.type === "string" ? c.type : "unknown"} content]`;
  }
}

/** Decoded length of a base64 string (whitespace ignored, padding honoured). */
export function base64Bytes(data: string): number {
  const clean = data.replace(/[\s]/g, "");
  if (clean.length === 0) return 0;
  const padding = clean.endsWith("==") ? 2 : clean.endsWith("=") ? 1 : 0;
  return Math.floor((clean.length * 3) / 4) - padding;
}

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;
