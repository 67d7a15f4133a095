/**
 * Tools from MCP servers in the agent loop (SPEC §10). The kernel's catalogue answers, per granted
 * `mcp__<server>__<tool>` name, a binding: the server's own description, JSON Schema, annotations
 * and how to reach it (URL, header values, timeout). Each binding becomes a `Tool` here, so the
 * dispatcher treats it as any built-in one (effective tools, hooks, budget, timeout, journal).
 *
 * Bindings carry header values (API keys): they live in this object's memory for the turn that
 * uses them and are never written to its storage, its events or its audit entries.
 */
import { Validator, type Schema } from "@cfworker/json-schema";
import { z } from "zod";
import { McpClientError, openMcpSession, renderCallResult, type FetchLike, type McpConnection, type McpSession } from "../../mcp/client";
import type { McpToolBinding } from "../../contracts/mcp";
import type { ToolFailure } from "./result";
import type { Tool, ToolOutcome } from "./types";

/** A repeat of the call is harmless (SPEC §10): only these are sent again after a crash. */
export const isRepeatable = (b: Pick<McpToolBinding, "annotations">) => b.annotations.readOnlyHint === true || b.annotations.idempotentHint === true;

/** How much longer than toolTimeoutMs the MCP client itself waits, so the timeout the model reads is always the dispatcher's. */
const CLIENT_TIMEOUT_SLACK_MS = 1_000;

/** The dispatcher's own contract accepts any object: the server's schema is what validates. */
const ANY_ARGS = z.record(z.string(), z.unknown());

/** The tool of one binding, calling its server through `sessions`. */
export function mcpTool(binding: McpToolBinding, sessions: McpSessions): Tool {
  // Compiled on first use: most tools offered to the model are never called.
  let validate: ((args: unknown) => string | null) | null = null;
  const repeatable = isRepeatable(binding);
  return {
    name: binding.name,
    description: binding.description,
    args: ANY_ARGS,
    parameters: binding.inputSchema,
    loopOnly: false,
    async run(call, ctx): Promise<ToolOutcome> {
      validate ??= argumentValidator(binding.inputSchema);
      const invalid = validate(call.arguments);
      if (invalid) return fail({ code: "invalid_arguments", message: `invalid_arguments: ${invalid}` });
      // The marker is durable before anything leaves: a crash from here on is seen by the re-run.
      const decision = ctx.beginSend ? await ctx.beginSend(call.id, repeatable) : "send";
      if (decision === "interrupted") {
        ctx.reached?.("interrupted");
        return fail({ code: "interrupted", message: `the call to ${binding.name} may or may not have taken effect` });
      }
      ctx.reached?.("sent");
      try {
        // The dispatcher's toolTimeoutMs decides (and aborts the signal); the client's own deadline is only a backstop.
        const timeout = ctx.timeoutMs ? { timeoutMs: ctx.timeoutMs + CLIENT_TIMEOUT_SLACK_MS } : {};
        const result = await sessions.call(binding, call.arguments, { ...timeout, ...(ctx.signal ? { signal: ctx.signal } : {}) });
        const { ok, output } = renderCallResult(result);
        return ok ? { ok: true, output } : fail({ code: "tool_error", message: output || `${binding.name} failed without saying why` });
      } catch (err) {
        return fail(callFailure(err));
      }
    },
  };
}

const fail = (failure: ToolFailure): ToolOutcome => ({ ok: false, failure });

/** What the model reads when a call could not be made or answered. */
export function callFailure(err: unknown): ToolFailure {
  if (!(err instanceof McpClientError)) return { code: "tool_error", cause: "mcp_unreachable", message: err instanceof Error ? err.message : String(err) };
  switch (err.kind) {
    case "timeout":
    case "aborted":
      return { code: "timeout", message: err.message };
    case "protocol":
      return { code: "tool_error", cause: "mcp_error", message: err.message };
    default:
      return { code: "tool_error", cause: "mcp_unreachable", message: err.message };
  }
}

/** How many schema errors the model is told about at once. */
const MAX_SCHEMA_ERRORS = 5;

/**
 * Validates arguments against a server's JSON Schema with a Workers-safe validator (no code
 * generation): null when valid, else what is wrong, one clause per failing location.
 */
export function argumentValidator(schema: Record<string, unknown>): (args: unknown) => string | null {
  let validator: Validator;
  try {
    validator = new Validator(schema as Schema, draftOf(schema), false);
  } catch {
    // A schema the validator cannot read: the server is asked anyway, and it validates.
    return () => null;
  }
  return (args) => {
    let result: ReturnType<Validator["validate"]>;
    try {
      result = validator.validate(args);
    } catch {
      return null;
    }
    if (result.valid) return null;
    // The validator reports each failure and every schema around it; the innermost ones say what is wrong.
    const leaves = result.errors.filter((e) => !result.errors.some((o) => o !== e && o.keywordLocation.startsWith(`${e.keywordLocation}/`)));
    const clauses = [...new Set(leaves.map((e) => `${e.instanceLocation.replace(/^#/, "") || "/"}: ${e.error}`))];
    const shown = clauses.slice(0, MAX_SCHEMA_ERRORS).join("; ");
    return clauses.length > MAX_SCHEMA_ERRORS ? `${shown}; and ${clauses.length - MAX_SCHEMA_ERRORS} more` : shown;
  };
}

function draftOf(schema: Record<string, unknown>): "4" | "7" | "2019-09" | "2020-12" {
  const id = typeof schema.$schema === "string" ? schema.$schema : "";
  if (id.includes("draft-04")) return "4";
  if (id.includes("draft-06") || id.includes("draft-07")) return "7";
  if (id.includes("2019-09")) return "2019-09";
  return "2020-12";
}

/**
 * This process's MCP sessions, one per server, in memory: a session is opened on first use,
 * re-established after this object's eviction (a new incarnation has none) and when the server
 * says it no longer knows it (HTTP 404, the transport's "session expired"), and replaced when the
 * server's registration changed (URL or headers).
 */
export class McpSessions {
  private readonly open = new Map<string, { key: string; session: Promise<McpSession> }>();

  constructor(private readonly connect: (conn: McpConnection) => Promise<McpSession>) {}

  static over(fetchImpl: FetchLike, allowPrivateHosts: readonly string[]): McpSessions {
    return new McpSessions((conn) => openMcpSession(conn, fetchImpl, allowPrivateHosts));
  }

  /** `tools/call` on the binding's server. A request refused for an expired session is sent once more on a new one: the server did not run it. */
  async call(binding: McpToolBinding, args: Record<string, unknown>, options: { timeoutMs?: number; signal?: AbortSignal }) {
    for (let attempt = 0; ; attempt++) {
      const session = this.session(binding);
      const live = await session;
      try {
        return await live.callTool(binding.tool, args, options);
      } catch (err) {
        if (err instanceof McpClientError && err.kind !== "protocol" && err.kind !== "timeout" && err.kind !== "aborted") this.forget(binding.server, session);
        if (attempt === 0 && sessionExpired(err) && !options.signal?.aborted) continue;
        throw err;
      }
    }
  }

  private session(binding: McpToolBinding): Promise<McpSession> {
    const { url, headers, timeoutMs } = binding.connection;
    const key = JSON.stringify([url, Object.entries(headers).sort(([a], [b]) => a.localeCompare(b)), timeoutMs]);
    const held = this.open.get(binding.server);
    if (held && held.key === key) return held.session;
    if (held) this.close(held.session);
    const session = this.connect({ url, headers, timeoutMs });
    this.open.set(binding.server, { key, session });
    // A connection that failed is not kept: the next call tries again.
    session.catch(() => this.forget(binding.server, session));
    return session;
  }

  private forget(server: string, session: Promise<McpSession>) {
    if (this.open.get(server)?.session !== session) return;
    this.open.delete(server);
    this.close(session);
  }

  private close(session: Promise<McpSession>) {
    session.then((s) => s.close()).catch(() => {});
  }

  /** Ends every session (the process exited). */
  closeAll() {
    for (const { session } of this.open.values()) this.close(session);
    this.open.clear();
  }
}

/** The server no longer knows the session (Streamable HTTP answers 404 to its requests). */
const sessionExpired = (err: unknown) => err instanceof McpClientError && err.code === 404 && err.kind === "not_mcp";
