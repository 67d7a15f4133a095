/** Types for test/support/mcp-server.mjs (a real MCP server built with the official SDK). */
export declare const SNAPSHOT_PNG_BYTES: number;
export declare const LONG_TOOL_NAME: string;
export declare const DEFAULT_SECURE_TOKEN: string;

export interface McpFixtureCounters {
  /** tool name → calls received */
  calls: Record<string, number>;
  /** launch key (default "default") → side effects taken */
  launches: Record<string, number>;
  /** set_flag's state */
  flags: Record<string, boolean>;
}

export interface McpFixture {
  /** `http://127.0.0.1:<port>/mcp` */
  url: string;
  /** `http://127.0.0.1:<port>` (GET /counters, POST /admin/tools, /not-mcp) */
  origin: string;
  /** `/secure/mcp`: 401 without `Authorization: Bearer <secureToken>` */
  secureUrl: string;
  secureToken: string;
  /** `/s/<scope>/mcp`: the server plus the tools added to <scope> */
  scopedUrl(scope: string): string;
  counters: McpFixtureCounters;
  addTool(name: string, description?: string, scope?: string): void;
  close(): Promise<void>;
}

export declare function startMcpServer(options?: {
  port?: number;
  host?: string;
  /** Bearer token required on /mcp and /s/<scope>/mcp */
  token?: string;
  /** Bearer token of /secure/mcp (default DEFAULT_SECURE_TOKEN) */
  secureToken?: string;
  /** tools/list page size (default 4) */
  pageSize?: number;
  quiet?: boolean;
}): Promise<McpFixture>;
