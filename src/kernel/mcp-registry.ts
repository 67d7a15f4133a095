import { Validator } from "@cfworker/json-schema";
import { fail, ok, type Outcome } from "../contracts";
import {
  MAX_TOOL_NAME_LENGTH,
  mcpToolName,
  type McpAnnotations,
  type McpRefreshResult,
  type McpServer,
  type McpServerConfig,
  type McpTool,
  type McpToolBinding,
} from "../contracts/mcp";
import { anyGlobMatch } from "../lib/glob";
import { redactUrlCredentials } from "../lib/net";
import { takePage, type Page } from "../lib/paging";
import type { SqlStore } from "../lib/sql-store";
import { McpClientError, scrubSecrets, type McpConnection, type McpListedTool, type McpSession } from "../mcp/client";
import type { Actor, AuditLog } from "./audit-log";
import { mapRows } from "./rows";

/**
 * The tenant's MCP servers (SPEC §10) and their tool catalogues.
 *
 * Stored as one row per server and one row per tool (a catalogue can be large, and SQLite keeps a
 * value under 2 MB): `mcp_servers` holds the connection (URL, header values, timeout, globs) and
 * `mcp_tools` each listed tool with its full name, schema, annotations and whether the globs expose it.
 *
 * Registering and refreshing talk to the server first (initialize, every page of tools/list) with
 * nothing held: the object keeps serving while the server answers. Only then is the catalogue written,
 * in one transaction, after checking that nothing changed the server meanwhile.
 *
 * Header values never leave this module except in `bindings` (to a process of the same tenant, which
 * sends them to the server): views, audit entries and error messages carry header names only.
 */

/** At most this many servers per tenant. */
export const MAX_MCP_SERVERS = 32;
/** At most this many tools listed by one server. */
export const MAX_MCP_TOOLS = 256;
/** A tool whose input schema is larger than this (JSON characters) is skipped. */
export const MAX_SCHEMA_CHARS = 64 * 1024;
/** A server's whole stored catalogue (JSON characters): beyond it registration is refused. */
export const MAX_CATALOGUE_CHARS = 1024 * 1024;
/** Descriptions are cut here: the model reads them on every call. */
export const MAX_DESCRIPTION_CHARS = 4096;
/** Pages of tools/list followed at most. */
export const MAX_LIST_PAGES = 64;

const TOOL_NAME = /^[A-Za-z0-9_-]+$/;
const ANNOTATION_KEYS = ["readOnlyHint", "idempotentHint", "destructiveHint", "openWorldHint"] as const;

type ServerRow = {
  name: string;
  url: string;
  headers: string;
  globs: string;
  timeout_ms: number;
  server_info: string;
  skipped: string;
  revision: number;
  registered_at: string;
  refreshed_at: string;
};
type ToolRow = { server: string; tool: string; name: string; position: number; description: string; input_schema: string; annotations: string; exposed: number };

/** A listed tool the kernel keeps. */
export interface CatalogueTool extends McpTool {
  exposed: boolean;
}

export interface Catalogue {
  tools: CatalogueTool[];
  skipped: { tool: string; reason: string }[];
}

/**
 * What the kernel keeps of a server's `tools/list`: every tool under its full name, with the globs'
 * verdict, or skipped with the reason (a name providers refuse or too long once prefixed, a name
 * listed twice, an input schema that is not a usable JSON object schema or is too large).
 * Refuses (422) a catalogue over `MAX_CATALOGUE_CHARS`.
 */
export function buildCatalogue(server: string, listed: readonly McpListedTool[], globs: readonly string[]): Outcome<Catalogue> {
  const tools: CatalogueTool[] = [];
  const skipped: Catalogue["skipped"] = [];
  const seen = new Set<string>();
  let chars = 0;
  for (const t of listed) {
    const name = mcpToolName(server, t.name);
    const why = skipReason(t, name, seen);
    if (why) {
      skipped.push({ tool: t.name.slice(0, 200), reason: why });
      continue;
    }
    seen.add(t.name);
    const description = t.description.length > MAX_DESCRIPTION_CHARS ? `${t.description.slice(0, MAX_DESCRIPTION_CHARS)}…` : t.description;
    const tool: CatalogueTool = { name, tool: t.name, description, inputSchema: t.inputSchema, annotations: pickAnnotations(t.annotations), exposed: anyGlobMatch(globs, t.name) };
    chars += JSON.stringify(tool).length;
    tools.push(tool);
  }
  if (chars > MAX_CATALOGUE_CHARS) {
    return fail(422, "limit_exceeded", `The tools of MCP server ${server} take ${chars} characters as JSON; the kernel keeps at most ${MAX_CATALOGUE_CHARS} per server.`, {
      limit: "mcp_catalogue",
      chars,
      max: MAX_CATALOGUE_CHARS,
    });
  }
  return ok({ tools, skipped });
}

function skipReason(t: McpListedTool, name: string, seen: Set<string>): string | null {
  if (!TOOL_NAME.test(t.name)) return "its name has characters other than letters, digits, _ and - (model providers refuse it)";
  if (name.length > MAX_TOOL_NAME_LENGTH) return `its full name ${name} is longer than ${MAX_TOOL_NAME_LENGTH} characters (model providers refuse it)`;
  if (seen.has(t.name)) return "the server lists it twice";
  const schema = t.inputSchema;
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return "its input schema is not a JSON object";
  if (schema.type !== undefined && schema.type !== "object") return `its input schema is of type ${JSON.stringify(schema.type)}, not "object"`;
  const size = JSON.stringify(schema).length;
  if (size > MAX_SCHEMA_CHARS) return `its input schema is ${size} characters as JSON; at most ${MAX_SCHEMA_CHARS} are kept`;
  try {
    // Arguments are validated against it before every call: a schema that cannot be used is refused now.
    new Validator(schema as ConstructorParameters<typeof Validator>[0]).validate({});
  } catch (err) {
    return `its input schema cannot be used: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`;
  }
  return null;
}

function pickAnnotations(a: Record<string, unknown>): McpAnnotations {
  const out: McpAnnotations = {};
  for (const key of ANNOTATION_KEYS) if (typeof a[key] === "boolean") out[key] = a[key];
  return out;
}

/** Opens a session with a server (src/mcp/client.ts, with the kernel's outbound rules). */
export type McpConnect = (conn: McpConnection) => Promise<McpSession>;

export class McpRegistry {
  private names: string[] | null = null;

  constructor(
    private readonly store: SqlStore,
    private readonly audit: AuditLog,
    private readonly connect: McpConnect,
  ) {}

  /** Every exposed tool's full name, sorted: what spawn-time expansion of `mcp__…` globs sees. */
  exposedNames(): string[] {
    return (this.names ??= this.store.sql
      .exec<{ name: string }>("SELECT name FROM mcp_tools WHERE exposed = 1 ORDER BY name")
      .toArray()
      .map((r) => r.name));
  }

  /** `PUT /v1/mcp/:name`: connect, list every page, then store (replacing a server of that name). */
  async register(name: string, config: McpServerConfig, actor: Actor): Promise<Outcome<McpServer>> {
    const full = () => fail(422, "limit_exceeded", `The tenant already has ${MAX_MCP_SERVERS} MCP servers; remove one first.`, { limit: "mcp_servers", max: MAX_MCP_SERVERS });
    if (!this.row(name) && this.count() >= MAX_MCP_SERVERS) return full();
    const listed = await this.list(name, config);
    if (!listed.ok) return listed;
    const { catalogue, serverInfo } = listed.value;
    const at = new Date().toISOString();
    const result = this.store.transactionSync((): Outcome<null> => {
      const existing = this.row(name);
      if (!existing && this.count() >= MAX_MCP_SERVERS) return full();
      this.store.sql.exec(
        `INSERT INTO mcp_servers (name, url, headers, globs, timeout_ms, server_info, skipped, revision, registered_at, refreshed_at) VALUES (?,?,?,?,?,?,?,?,?,?)
         ON CONFLICT(name) DO UPDATE SET url = excluded.url, headers = excluded.headers, globs = excluded.globs, timeout_ms = excluded.timeout_ms,
           server_info = excluded.server_info, skipped = excluded.skipped, revision = excluded.revision, registered_at = excluded.registered_at, refreshed_at = excluded.refreshed_at`,
        name,
        config.url,
        JSON.stringify(config.headers),
        JSON.stringify(config.tools),
        config.timeoutMs,
        JSON.stringify(serverInfo),
        JSON.stringify(catalogue.skipped),
        (existing?.revision ?? 0) + 1,
        at,
        at,
      );
      this.writeTools(name, catalogue.tools);
      this.audit.append({
        actor,
        event: "mcp_registered",
        data: {
          server: name,
          url: redactUrlCredentials(config.url),
          headerNames: Object.keys(config.headers),
          tools: config.tools,
          exposed: catalogue.tools.filter((t) => t.exposed).length,
          skipped: catalogue.skipped.length,
          replaced: !!existing,
        },
      });
      return ok(null);
    });
    this.names = null;
    if (!result.ok) return result;
    return ok(this.view(this.row(name)!));
  }

  /** `POST /v1/mcp/:name/refresh`: lists the tools again with the stored connection. */
  async refresh(name: string, actor: Actor): Promise<Outcome<McpRefreshResult>> {
    const before = this.row(name);
    if (!before) return notFound(name);
    const config = configOf(before);
    const listed = await this.list(name, config);
    if (!listed.ok) return listed;
    const { catalogue, serverInfo } = listed.value;
    const result = this.store.transactionSync((): Outcome<McpRefreshResult["changes"]> => {
      const now = this.row(name);
      if (!now) return notFound(name);
      // Re-registered while this refresh listed the old connection: its answer may be stale.
      if (now.revision !== before.revision) return fail(409, "conflict", `MCP server ${name} was registered again during the refresh; refresh it again.`);
      const old = new Map(this.toolRows(name).map((r) => [r.name, r]));
      const changes = diff(old, catalogue.tools);
      this.store.sql.exec("UPDATE mcp_servers SET server_info = ?, skipped = ?, refreshed_at = ? WHERE name = ?", JSON.stringify(serverInfo), JSON.stringify(catalogue.skipped), new Date().toISOString(), name);
      this.writeTools(name, catalogue.tools);
      const cap = (xs: string[]) => xs.slice(0, 50);
      this.audit.append({
        actor,
        event: "mcp_refreshed",
        data: { server: name, added: cap(changes.added), removed: cap(changes.removed), changed: cap(changes.changed), exposed: catalogue.tools.filter((t) => t.exposed).length },
      });
      return ok(changes);
    });
    this.names = null;
    if (!result.ok) return result;
    return ok({ ...this.view(this.row(name)!), changes: result.value });
  }

  find(name: string): Outcome<McpServer> {
    const row = this.row(name);
    return row ? ok(this.view(row)) : notFound(name);
  }

  /** Servers by name; a page is bounded by size too (a catalogue can be large). */
  page(page: { limit: number; cursor?: string }): Page<McpServer> {
    const rows = this.store.sql.exec<ServerRow>("SELECT * FROM mcp_servers WHERE name > ? ORDER BY name LIMIT ?", page.cursor ?? "", page.limit + 1);
    return takePage(
      mapRows(rows, (r) => this.view(r)),
      page.limit,
      (s) => s.name,
    );
  }

  remove(name: string, actor: Actor): Outcome<{ deleted: string }> {
    let found = false;
    this.store.transactionSync(() => {
      found = this.store.sql.exec("DELETE FROM mcp_servers WHERE name = ?", name).rowsWritten > 0;
      if (!found) return;
      this.store.sql.exec("DELETE FROM mcp_tools WHERE server = ?", name);
      this.audit.append({ actor, event: "mcp_removed", data: { server: name } });
    });
    this.names = null;
    return found ? ok({ deleted: name }) : notFound(name);
  }

  /**
   * What a process needs to offer and call the tools it names (kernel RPC `mcpTools`): each name that
   * is an exposed tool of a registered server now, with the server's connection. Other names are
   * simply absent (removed, no longer exposed, never existed).
   */
  bindings(names: readonly string[]): McpToolBinding[] {
    const wanted = [...new Set(names)].filter((n) => n.startsWith("mcp__"));
    const out: McpToolBinding[] = [];
    const servers = new Map<string, ServerRow | null>();
    // Durable Object SQL binds at most 100 parameters a statement.
    for (let i = 0; i < wanted.length; i += 90) {
      const chunk = wanted.slice(i, i + 90);
      const rows = this.store.sql.exec<ToolRow>(`SELECT * FROM mcp_tools WHERE exposed = 1 AND name IN (${chunk.map(() => "?").join(",")})`, ...chunk).toArray();
      for (const r of rows) {
        if (!servers.has(r.server)) servers.set(r.server, this.row(r.server));
        const server = servers.get(r.server);
        if (!server) continue;
        const config = configOf(server);
        out.push({ ...toolOf(r), server: r.server, connection: { url: config.url, headers: config.headers, timeoutMs: config.timeoutMs } });
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // ---------------------------------------------------------------------------------------

  /** Connects and lists; every failure becomes the 422 the API answers, with nothing stored. */
  private async list(name: string, config: McpServerConfig): Promise<Outcome<{ catalogue: Catalogue; serverInfo: { name: string; version: string } }>> {
    let session: McpSession | null = null;
    try {
      session = await this.connect({ url: config.url, headers: config.headers, timeoutMs: config.timeoutMs });
      const listed = await session.listAllTools({ maxTools: MAX_MCP_TOOLS, maxPages: MAX_LIST_PAGES });
      const catalogue = buildCatalogue(name, listed, config.tools);
      if (!catalogue.ok) return catalogue;
      return ok({ catalogue: catalogue.value, serverInfo: session.serverInfo });
    } catch (err) {
      const e = err instanceof McpClientError ? err : new McpClientError("unreachable", err instanceof Error ? err.message : String(err));
      // The client already scrubs its own errors; anything else thrown is scrubbed here.
      const cause = scrubSecrets(e.message, config.headers);
      if (e.kind === "too_large") {
        return fail(422, "limit_exceeded", `MCP server ${name} offers too many tools: ${cause}`, { limit: "mcp_tools", max: MAX_MCP_TOOLS, cause });
      }
      return fail(422, "mcp_unreachable", `MCP server ${name} could not be registered: ${cause}`, { kind: e.kind, cause, ...(e.code !== undefined ? { code: e.code } : {}) });
    } finally {
      await session?.close();
    }
  }

  private writeTools(server: string, tools: readonly CatalogueTool[]) {
    this.store.sql.exec("DELETE FROM mcp_tools WHERE server = ?", server);
    tools.forEach((t, position) =>
      this.store.sql.exec(
        "INSERT INTO mcp_tools (server, tool, name, position, description, input_schema, annotations, exposed) VALUES (?,?,?,?,?,?,?,?)",
        server,
        t.tool,
        t.name,
        position,
        t.description,
        JSON.stringify(t.inputSchema),
        JSON.stringify(t.annotations),
        t.exposed ? 1 : 0,
      ),
    );
  }

  private row(name: string): ServerRow | null {
    return this.store.sql.exec<ServerRow>("SELECT * FROM mcp_servers WHERE name = ?", name).toArray()[0] ?? null;
  }

  private count(): number {
    return this.store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM mcp_servers").one().n;
  }

  private toolRows(server: string): ToolRow[] {
    return this.store.sql.exec<ToolRow>("SELECT * FROM mcp_tools WHERE server = ? ORDER BY position", server).toArray();
  }

  private view(row: ServerRow): McpServer {
    const tools = this.toolRows(row.name);
    return {
      name: row.name,
      url: redactUrlCredentials(row.url),
      headerNames: Object.keys(JSON.parse(row.headers) as Record<string, string>),
      tools: JSON.parse(row.globs) as string[],
      timeoutMs: row.timeout_ms,
      serverInfo: JSON.parse(row.server_info) as { name: string; version: string },
      exposed: tools.filter((t) => t.exposed).map(toolOf),
      unexposed: tools.filter((t) => !t.exposed).map((t) => t.tool),
      skipped: JSON.parse(row.skipped) as Catalogue["skipped"],
      registeredAt: row.registered_at,
      refreshedAt: row.refreshed_at,
    };
  }
}

const notFound = (name: string) => fail(404, "not_found", `No MCP server named ${name} is registered.`);

function configOf(row: ServerRow): McpServerConfig {
  return { url: row.url, headers: JSON.parse(row.headers) as Record<string, string>, tools: JSON.parse(row.globs) as string[], timeoutMs: row.timeout_ms };
}

function toolOf(r: ToolRow): McpTool {
  return { name: r.name, tool: r.tool, description: r.description, inputSchema: JSON.parse(r.input_schema) as Record<string, unknown>, annotations: JSON.parse(r.annotations) as McpAnnotations };
}

/** Exposed tools (full names) added, removed, and changed (description, schema or annotations). */
function diff(old: Map<string, ToolRow>, next: readonly CatalogueTool[]): McpRefreshResult["changes"] {
  const added: string[] = [];
  const changed: string[] = [];
  const names = new Set<string>();
  for (const t of next) {
    if (!t.exposed) continue;
    names.add(t.name);
    const o = old.get(t.name);
    if (!o || !o.exposed) added.push(t.name);
    else if (o.description !== t.description || o.input_schema !== JSON.stringify(t.inputSchema) || o.annotations !== JSON.stringify(t.annotations)) changed.push(t.name);
  }
  const removed = [...old.values()].filter((o) => o.exposed && !names.has(o.name)).map((o) => o.name);
  return { added, removed, changed };
}
