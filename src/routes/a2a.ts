/**
 * The A2A endpoint of every registered agent (SPEC §12): its agent card and its JSON-RPC binding.
 * Requests are parsed, dispatched and answered by the official SDK's transport handlers (protocol
 * 1.0, and 0.3 by the `A2A-Version` header or the method name) over `KernelA2AHandler`, which does
 * the work with the kernel. This file is the HTTP glue the SDK leaves to the host (it ships it for
 * Express only): auth, the agent's lookup, content type, JSON parsing, roles and SSE framing.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { A2A_VERSION_HEADER, formatSSEErrorEvent, formatSSEEvent, SSE_HEADERS } from "@a2a-js/sdk";
import { isLegacyJsonRpcMethod, legacyJsonRpcToV1Method } from "@a2a-js/sdk/compat/v0_3";
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { A2A_ERROR_CODE, ContentTypeNotSupportedError } from "@a2a-js/sdk/errors";
import { JsonRpcTransportHandler, ServerCallContext, validateVersion } from "@a2a-js/sdk/server";
import { agentCard, agentCardJson } from "../a2a/card";
import { KernelA2AHandler } from "../a2a/handler";
import { AgentName, ApiError, type AgentSpec } from "../contracts";
import { forRoutes } from "../rpc/stubs";
import { actorOf, hasRole, type AppContext, type AppEnv } from "./context";
import { errors, json } from "./openapi";

/** Methods that change something: a viewer may read tasks and the card, not send or cancel. */
const WRITES = new Set(["SendMessage", "SendStreamingMessage", "CancelTask", "CreateTaskPushNotificationConfig", "DeleteTaskPushNotificationConfig"]);

type RpcResponse = { jsonrpc: string; id: string | number | null; result?: unknown; error?: unknown };
const rpcError = (id: unknown, error: { code: number; message: string }) => ({ jsonrpc: "2.0", id: typeof id === "string" || typeof id === "number" ? id : null, error });

export const a2aRoutes = new OpenAPIHono<AppEnv>();

async function agentOf(c: AppContext): Promise<AgentSpec> {
  const name = AgentName.safeParse(c.req.param("agent"));
  const found = name.success ? await forRoutes.kernel(c.env, c.get("tenant")).getAgent(name.data) : null;
  if (!found?.ok) throw ApiError.of(404, "agent_not_found", `No agent named ${c.req.param("agent")} is registered.`);
  return found.value;
}

const baseUrlOf = (c: AppContext, agent: string) => `${new URL(c.req.url).origin}/a2a/${agent}/`;

a2aRoutes.get("/:agent/.well-known/agent-card.json", async (c) => {
  const spec = await agentOf(c);
  return c.json(agentCardJson(spec, baseUrlOf(c, spec.name)));
});

a2aRoutes.post("/:agent/", async (c) => {
  const spec = await agentOf(c);
  const contentType = c.req.header("content-type");
  const media = contentType?.split(";", 1)[0]!.trim().toLowerCase();
  if (media && media !== "application/json" && media !== "application/a2a+json") {
    const err = JsonRpcTransportHandler.mapToJSONRPCError(new ContentTypeNotSupportedError(`Unsupported Content-Type "${contentType}"; expected application/json.`));
    return c.json(rpcError(null, err));
  }
  let body: unknown;
  try {
    body = JSON.parse(await c.req.text());
  } catch {
    return c.json(rpcError(null, { code: A2A_ERROR_CODE.PARSE_ERROR, message: "Invalid JSON payload." }));
  }
  const method = typeof body === "object" && body !== null ? (body as { method?: unknown }).method : undefined;
  const id = typeof body === "object" && body !== null ? (body as { id?: unknown }).id : null;
  const version = c.req.header(A2A_VERSION_HEADER);
  // A 0.3 client may send no version header: its method names say which protocol it speaks.
  const legacy = version === "0.3" || (!version && isLegacyJsonRpcMethod(method));
  try {
    // The versions the card declares for its JSON-RPC interface (1.0 and 0.3).
    validateVersion(version ?? (legacy ? "0.3" : "1.0"), agentCard(spec, baseUrlOf(c, spec.name)), "JSONRPC");
  } catch (err) {
    return c.json(rpcError(id, JsonRpcTransportHandler.mapToJSONRPCError(err)));
  }
  const v1Method = legacy && typeof method === "string" && isLegacyJsonRpcMethod(method) ? legacyJsonRpcToV1Method(method) : method;
  if (typeof v1Method === "string" && WRITES.has(v1Method) && !hasRole(c, "operator")) {
    throw ApiError.of(403, "forbidden", `${String(method)} needs the operator role; a viewer may read tasks only.`);
  }

  // The caller is gone when its request is aborted or its stream canceled: stop following for it.
  const gone = new AbortController();
  c.req.raw.signal?.addEventListener("abort", () => gone.abort());
  const handler = new KernelA2AHandler({ env: c.env, tenant: c.get("tenant"), spec, actor: actorOf(c), baseUrl: baseUrlOf(c, spec.name), signal: gone.signal });
  // The tenant is the token's, never a request's `params.tenant` (which the handler ignores).
  const context = new ServerCallContext({ requestedVersion: version ?? (legacy ? "0.3" : "1.0") });
  const mapError = legacy ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError : JsonRpcTransportHandler.mapToJSONRPCError;
  const answer = legacy ? await new LegacyJsonRpcTransportHandler(handler).handle(body as Record<string, unknown>, context) : await new JsonRpcTransportHandler(handler).handle(body as Record<string, unknown>, context);
  if (!(Symbol.asyncIterator in answer)) return c.json(answer);

  // A stream: its first event (or its refusal, as a plain JSON-RPC error) decides the answer's type.
  const stream = answer as AsyncGenerator<RpcResponse, void, undefined>;
  let first: IteratorResult<RpcResponse, void>;
  try {
    first = await stream.next();
  } catch (err) {
    return c.json(rpcError(id, mapError(err)));
  }
  const encoder = new TextEncoder();
  const sse = new ReadableStream<Uint8Array>({
    async start(controller) {
      // Once the reader has gone, the stream is closed: nothing more is written to it.
      const write = (text: string) => {
        if (!gone.signal.aborted) controller.enqueue(encoder.encode(text));
      };
      try {
        if (!first.done) write(formatSSEEvent(first.value));
        for await (const event of { [Symbol.asyncIterator]: () => stream }) write(formatSSEEvent(event));
      } catch (err) {
        write(formatSSEErrorEvent(rpcError(id, mapError(err))));
      } finally {
        if (!gone.signal.aborted) controller.close();
      }
    },
    async cancel() {
      gone.abort();
      await stream.return(undefined);
    },
  });
  return new Response(sse, { headers: SSE_HEADERS });
});

// ---------- the description (SPEC §13): the routes above, as operations ----------

const AgentParam = z.object({ agent: AgentName.meta({ param: { name: "agent", in: "path" }, description: "A registered agent's name." }) });
const anyJson = (description: string) => z.record(z.string(), z.unknown()).meta({ description });
const tags = ["a2a"];

a2aRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: "/{agent}/.well-known/agent-card.json",
  tags,
  summary: "An agent's A2A agent card",
  description:
    "The A2A 1.0 agent card of a registered agent: name, description, one skill from the AgentSpec, `capabilities.streaming: true`, the JSON-RPC interface at `/a2a/{agent}/` (advertised for protocol 1.0 and 0.3) and the bearer security scheme. Any role.",
  request: { params: AgentParam },
  responses: { 200: json(anyJson("An A2A AgentCard (1.0 JSON)."), "The agent card."), ...errors(401, [404, "`agent_not_found`: no such agent in the token's tenant."], 500) },
});

a2aRoutes.openAPIRegistry.registerPath({
  method: "post",
  path: "/{agent}/",
  tags,
  summary: "An agent's A2A JSON-RPC endpoint",
  description:
    "A2A JSON-RPC 2.0 (protocol 1.0: `SendMessage`, `SendStreamingMessage`, `GetTask`, `ListTasks`, `CancelTask`, `SubscribeToTask`; 0.3 names `message/send`, `message/stream`, `tasks/get`, `tasks/cancel`, `tasks/resubscribe` by `A2A-Version: 0.3` or by name). `SendMessage` with the `taskId` of an `input-required` task answers it: text answers the agent's question (or is an interactive agent's next message), a message whose only part is a data part `{decision: \"approve\" | \"reject\", message?, arguments?, approvalId?}` decides the task's pending approval. Failures are JSON-RPC errors with the A2A codes, answered with status 200; the streaming methods answer Server-Sent Events of JSON-RPC responses. `SendMessage`, `SendStreamingMessage` and `CancelTask` need the operator role.",
  request: { params: AgentParam, body: { required: true, content: { "application/json": { schema: anyJson("A JSON-RPC 2.0 request.") } } } },
  responses: {
    200: {
      description: "A JSON-RPC response, or (streaming methods) Server-Sent Events each carrying one.",
      content: { "application/json": { schema: anyJson("A JSON-RPC 2.0 response.") }, "text/event-stream": { schema: z.string() } },
    },
    ...errors(401, 403, [404, "`agent_not_found`: no such agent in the token's tenant."], 413, 500),
  },
});
