/**
 * Fake model providers that speak the real wire protocols, for the provider tests (no network):
 *
 *   POST /openai/v1/chat/completions   OpenAI Chat Completions (key in `Authorization: Bearer`)
 *   POST /compat/v1/chat/completions   the same protocol, as an OpenAI-compatible server
 *   POST /anthropic/v1/messages        Anthropic Messages (key in `x-api-key`)
 *
 * each as one JSON answer, or as Server-Sent Events when the request says `"stream": true`
 * (Chat Completions `data: {chunk}` lines ending `data: [DONE]`; Messages `event: message_start`,
 * `content_block_start`, `content_block_delta`, `content_block_stop`, `message_delta`, `message_stop`).
 *
 * The worker's provider settings are global to the test run, so the behaviour is chosen by the
 * model id: `<behaviour>-<anything unique>` (e.g. `openai:fail-500-3f9a`), see BEHAVIOURS. Each
 * request is recorded under `<provider>/<model id>`:
 *
 *   GET  /log/<provider>/<model id>      the recorded requests, oldest first (see LogEntry)
 *   POST /release/<provider>/<model id>  lets a `gated-` model's pending answer go
 *
 * This module uses no Node API (test/global-setup.ts adapts node:http to `Exchange`), so it type-checks
 * with the Worker's types too.
 */

export type ProviderKey = "openai" | "openai-compatible" | "anthropic";
type Wire = "chat" | "messages";

/** Fake keys the worker is configured with (vitest.config.ts). The fakes reject any other. */
export const FAKE_KEYS: Record<ProviderKey, string> = {
  openai: "sk-test-openai-5f1c2e9a7b3d4c6e",
  "openai-compatible": "compat-key-81d2e7f4a9",
  anthropic: "sk-ant-test-0b7e3a91c4d25f68",
};

const ROUTES: Record<string, { provider: ProviderKey; wire: Wire }> = {
  "/openai/v1/chat/completions": { provider: "openai", wire: "chat" },
  "/compat/v1/chat/completions": { provider: "openai-compatible", wire: "chat" },
  "/anthropic/v1/messages": { provider: "anthropic", wire: "messages" },
};

/** The base URLs to configure the worker with, given the fake server's origin. */
export const fakeBaseUrls = (origin: string) => ({
  openai: `${origin}/openai/v1`,
  "openai-compatible": `${origin}/compat/v1`,
  anthropic: `${origin}/anthropic/v1`,
});

export interface LogEntry {
  /** Milliseconds since the epoch at arrival. */
  at: number;
  headers: Record<string, string>;
  /** The parsed JSON request body. */
  body: any;
  /** The client closed the connection before the answer was complete. */
  closedEarly: boolean;
  /** What the fake answered: status and, for a 200, the answer it serialised. */
  reply: { status: number; answer?: Answer } | null;
}

export interface Answer {
  text: string;
  /** Text in the pieces it is streamed in; defaults to `[text]`. */
  chunks?: string[];
  toolCalls: Array<{ id: string; name: string; arguments: Record<string, unknown> }>;
  usage: { input: number; output: number };
}

/** One HTTP exchange, as test/global-setup.ts hands it over from node:http. */
export interface Exchange {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  head(status: number, headers: Record<string, string>): void;
  write(chunk: string): void;
  end(chunk?: string): void;
  /** True once the client has closed the connection before the answer was complete. */
  closed(): boolean;
  /** Resolves when the connection closes, the answer complete or not. */
  readonly gone: Promise<void>;
}

const sleep = (ms: number, until?: Promise<void>) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    void until?.then(() => (clearTimeout(timer), resolve()));
  });

const rid = () => Math.random().toString(36).slice(2, 12);

/** What the last message of a request is: a tool result (its text) or not. */
function lastToolResult(wire: Wire, body: any): string | null {
  const last = body?.messages?.at?.(-1);
  if (!last) return null;
  if (wire === "chat") return last.role === "tool" ? String(last.content) : null;
  if (last.role !== "user" || !Array.isArray(last.content)) return null;
  const results = last.content.filter((p: any) => p.type === "tool_result");
  if (results.length === 0) return null;
  return results.map((r: any) => (typeof r.content === "string" ? r.content : (r.content ?? []).map((c: any) => c.text ?? "").join(""))).join("\n");
}

const offersTools = (body: any) => Array.isArray(body?.tools) && body.tools.length > 0;

type Behaviour = (ctx: { wire: Wire; provider: ProviderKey; model: string; body: any; count: number; ex: Exchange; gate: Promise<void> }) => Promise<Reply>;
type Reply =
  | { kind: "answer"; answer: Answer; delayMs?: number; gate?: Promise<void>; spacingMs?: number }
  | { kind: "error"; status: number; headers?: Record<string, string>; body: string }
  | { kind: "raw"; contentType: string; body: string }
  | { kind: "hang" };

const text = (t: string, usage = { input: 12, output: 6 }, chunks?: string[]): Reply => ({
  kind: "answer",
  answer: { text: t, toolCalls: [], usage, ...(chunks ? { chunks } : {}) },
});

function errorBody(wire: Wire, type: string, message: string): string {
  return JSON.stringify(wire === "chat" ? { error: { message, type, param: null, code: null } } : { type: "error", error: { type, message } });
}

function mcpRoundtrip({ wire, body }: { wire: Wire; body: any }): Extract<Reply, { kind: "answer" }> {
  const result = lastToolResult(wire, body);
  if (result !== null) return text(`done: ${result}`, { input: 40, output: 8 }) as Extract<Reply, { kind: "answer" }>;
  const names: string[] = (body.tools ?? []).map((t: any) => (wire === "chat" ? t.function.name : t.name));
  const lookup = names.find((n) => /^mcp__[a-z0-9-]+__lookup$/.test(n));
  if (!lookup) return text(`no lookup tool among ${names.join(", ")}`) as Extract<Reply, { kind: "answer" }>;
  const id = wire === "chat" ? `call_${rid()}` : `toolu_${rid()}`;
  return { kind: "answer", answer: { text: "", toolCalls: [{ id, name: lookup, arguments: { query: "over the wire" } }], usage: { input: 30, output: 12 } } };
}

/**
 * Behaviours by model-id prefix (longest prefix wins). `count` is the number of earlier requests
 * for the same model id.
 */
const BEHAVIOURS: Record<string, Behaviour> = {
  // Calls write_file, then answers with the tool's result once it comes back.
  "tool-roundtrip": async ({ wire, provider, body }) => {
    const result = lastToolResult(wire, body);
    if (result !== null) return text(`done: ${result}`, { input: 40, output: 8 });
    const id = wire === "chat" ? `call_${rid()}` : `toolu_${rid()}`;
    return {
      kind: "answer",
      answer: { text: "", toolCalls: [{ id, name: "write_file", arguments: { path: `/out/${provider}.txt`, content: `written by ${provider}` } }], usage: { input: 30, output: 12 } },
    };
  },
  // Calls the offered MCP tool named `mcp__<server>__lookup` (SPEC §10), then answers with its result.
  "mcp-roundtrip": async (ctx) => mcpRoundtrip(ctx),
  // The same, but the first answer waits until the test lets it go (so it can change the MCP catalogue meanwhile).
  "gated-mcp-roundtrip": async (ctx) => ({ ...mcpRoundtrip(ctx), ...(ctx.count === 0 ? { gate: ctx.gate } : {}) }),
  // Streams a text in pieces.
  text: async ({ provider }) => text(`Hello from the fake ${provider}.`, undefined, ["Hello", " from", " the fake", ` ${provider}.`]),
  // Eight pieces 100 ms apart: a stream that takes longer than a short MODEL_TIMEOUT_MS but never stalls that long.
  drip: async () => ({
    kind: "answer",
    spacingMs: 100,
    answer: { text: "12345678", chunks: ["1", "2", "3", "4", "5", "6", "7", "8"], toolCalls: [], usage: { input: 3, output: 8 } },
  }),
  // As `text`, but only once the test lets it go (POST /release), so it can subscribe to the events first.
  "gated-text": async ({ provider, gate }) => ({
    kind: "answer",
    gate,
    answer: { text: `Streamed by ${provider}.`, chunks: ["Streamed", " by", ` ${provider}`, "."], toolCalls: [], usage: { input: 9, output: 4 } },
  }),
  "fail-429": async ({ wire, count }) =>
    count === 0 ? { kind: "error", status: 429, headers: { "retry-after": "1" }, body: errorBody(wire, wire === "chat" ? "rate_limit_exceeded" : "rate_limit_error", "Rate limit reached, retry after 1s") } : text("recovered"),
  "fail-429-ms": async ({ wire, count }) =>
    count === 0 ? { kind: "error", status: 429, headers: { "retry-after-ms": "1200" }, body: errorBody(wire, "rate_limit_error", "slow down") } : text("recovered"),
  "fail-429-date": async ({ wire, count }) =>
    count === 0
      ? { kind: "error", status: 429, headers: { "retry-after": new Date(Date.now() + 2000).toUTCString() }, body: errorBody(wire, "rate_limit_error", "slow down") }
      : text("recovered"),
  "fail-500": async ({ wire }) => ({ kind: "error", status: 500, body: errorBody(wire, wire === "chat" ? "server_error" : "api_error", "upstream exploded") }),
  "fail-400": async ({ wire }) => ({ kind: "error", status: 400, body: errorBody(wire, "invalid_request_error", "messages: bad shape") }),
  // 200 with a body that is not JSON (or an SSE chunk that is not).
  malformed: async ({ body }) =>
    body?.stream ? { kind: "raw", contentType: "text/event-stream", body: 'data: {"id": "chatcmpl-x", "choices": [\n\n' } : { kind: "raw", contentType: "application/json", body: '{"id": "chatcmpl-x", "choices": [' },
  // 200 with valid JSON that lacks the protocol's fields.
  "missing-fields": async ({ body }) =>
    body?.stream ? { kind: "raw", contentType: "text/event-stream", body: 'data: {"unexpected": true}\n\n' } : { kind: "raw", contentType: "application/json", body: '{"unexpected": true}' },
  // Streams a little text, then an error event inside the stream (the HTTP status was already 200).
  "midstream-error": async ({ wire, model }) => ({
    kind: "raw",
    contentType: "text/event-stream",
    body:
      wire === "chat"
        ? [
            { id: "chatcmpl-e", object: "chat.completion.chunk", created: 1, model, choices: [{ index: 0, delta: { role: "assistant", content: "partial" }, finish_reason: null }] },
            { error: { message: "The server had an error while processing your request.", type: "server_error", param: null, code: null } },
          ]
            .map((o) => `data: ${JSON.stringify(o)}\n\n`)
            .join("")
        : [
            ["message_start", { message: { id: "msg_e", type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 5, output_tokens: 1 } } }],
            ["content_block_start", { index: 0, content_block: { type: "text", text: "" } }],
            ["content_block_delta", { index: 0, delta: { type: "text_delta", text: "partial" } }],
            ["error", { error: { type: "overloaded_error", message: "Overloaded" } }],
          ]
            .map(([type, data]) => `event: ${type}\ndata: ${JSON.stringify({ type, ...(data as object) })}\n\n`)
            .join(""),
  }),
  // Never answers; the log shows when the client closes the connection.
  hang: async () => ({ kind: "hang" }),
  // The first request answers after 6 s (past MODEL_TIMEOUT_MS); later ones at once.
  "slow-once": async ({ count }) => (count === 0 ? { ...text("too late"), delayMs: 6000 } : text("on time")),
  // Tool calls reporting heavy usage while tools are offered; a final text when they are not.
  usage: async ({ wire, body }) =>
    offersTools(body)
      ? {
          kind: "answer",
          answer: { text: "", toolCalls: [{ id: wire === "chat" ? `call_${rid()}` : `toolu_${rid()}`, name: "list_dir", arguments: { path: "/" } }], usage: { input: 600, output: 100 } },
        }
      : text("final answer within budget", { input: 50, output: 10 }),
  // Rejects the key, echoing the credentials it received into the error body (as some servers do).
  "echo-key": async ({ wire, ex }) => ({
    kind: "error",
    status: 401,
    body: errorBody(wire, wire === "chat" ? "invalid_request_error" : "authentication_error", `Incorrect API key provided: ${ex.headers["authorization"] ?? ""} ${ex.headers["x-api-key"] ?? ""}`.trim()),
  }),
};
const PREFIXES = Object.keys(BEHAVIOURS).sort((a, b) => b.length - a.length);

// ---------- serialisation ----------

function chatJson(model: string, a: Answer) {
  return {
    id: `chatcmpl-${rid()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: a.text === "" && a.toolCalls.length ? null : a.text,
          ...(a.toolCalls.length
            ? { tool_calls: a.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.arguments) } })) }
            : {}),
        },
        finish_reason: a.toolCalls.length ? "tool_calls" : "stop",
      },
    ],
    usage: { prompt_tokens: a.usage.input, completion_tokens: a.usage.output, total_tokens: a.usage.input + a.usage.output },
  };
}

function chatChunks(model: string, a: Answer, includeUsage: boolean): string[] {
  const id = `chatcmpl-${rid()}`;
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: object, finish: string | null = null) => ({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const out: object[] = [chunk({ role: "assistant", content: "" })];
  for (const piece of a.chunks ?? (a.text ? [a.text] : [])) out.push(chunk({ content: piece }));
  a.toolCalls.forEach((c, index) => {
    const args = JSON.stringify(c.arguments);
    const half = Math.floor(args.length / 2);
    // The arguments arrive in two pieces, as real servers split them.
    out.push(chunk({ tool_calls: [{ index, id: c.id, type: "function", function: { name: c.name, arguments: args.slice(0, half) } }] }));
    out.push(chunk({ tool_calls: [{ index, function: { arguments: args.slice(half) } }] }));
  });
  out.push(chunk({}, a.toolCalls.length ? "tool_calls" : "stop"));
  if (includeUsage) out.push({ id, object: "chat.completion.chunk", created, model, choices: [], usage: { prompt_tokens: a.usage.input, completion_tokens: a.usage.output, total_tokens: a.usage.input + a.usage.output } });
  return [...out.map((o) => `data: ${JSON.stringify(o)}\n\n`), "data: [DONE]\n\n"];
}

function messagesJson(model: string, a: Answer) {
  return {
    id: `msg_${rid()}`,
    type: "message",
    role: "assistant",
    model,
    content: [...(a.text ? [{ type: "text", text: a.text }] : []), ...a.toolCalls.map((c) => ({ type: "tool_use", id: c.id, name: c.name, input: c.arguments }))],
    stop_reason: a.toolCalls.length ? "tool_use" : "end_turn",
    stop_sequence: null,
    usage: { input_tokens: a.usage.input, output_tokens: a.usage.output },
  };
}

function messagesEvents(model: string, a: Answer): string[] {
  const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  const out = [
    ev("message_start", {
      message: { id: `msg_${rid()}`, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: a.usage.input, output_tokens: 1 } },
    }),
    ev("ping", {}),
  ];
  let index = 0;
  if (a.text) {
    out.push(ev("content_block_start", { index, content_block: { type: "text", text: "" } }));
    for (const piece of a.chunks ?? [a.text]) out.push(ev("content_block_delta", { index, delta: { type: "text_delta", text: piece } }));
    out.push(ev("content_block_stop", { index }));
    index++;
  }
  for (const c of a.toolCalls) {
    const args = JSON.stringify(c.arguments);
    const half = Math.floor(args.length / 2);
    out.push(ev("content_block_start", { index, content_block: { type: "tool_use", id: c.id, name: c.name, input: {} } }));
    out.push(ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: args.slice(0, half) } }));
    out.push(ev("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: args.slice(half) } }));
    out.push(ev("content_block_stop", { index }));
    index++;
  }
  out.push(ev("message_delta", { delta: { stop_reason: a.toolCalls.length ? "tool_use" : "end_turn", stop_sequence: null }, usage: { output_tokens: a.usage.output } }));
  out.push(ev("message_stop", {}));
  return out;
}

// ---------- the server ----------

export class FakeProviders {
  private readonly log = new Map<string, LogEntry[]>();
  private readonly gates = new Map<string, { promise: Promise<void>; open: () => void }>();

  /** Handles the exchange if it is one of the fakes' routes; false otherwise. */
  async handle(ex: Exchange): Promise<boolean> {
    const [, route, provider, ...rest] = ex.path.split("/");
    const key = `${provider}/${decodeURIComponent(rest.join("/"))}`;
    if (ex.method === "GET" && route === "log") return this.json(ex, 200, this.log.get(key) ?? []), true;
    if (ex.method === "POST" && route === "release") return this.gate(key).open(), this.json(ex, 200, { released: key }), true;
    const target = ROUTES[ex.path];
    if (!target || ex.method !== "POST") return false;
    await this.serve(ex, target.provider, target.wire);
    return true;
  }

  private gate(key: string) {
    let gate = this.gates.get(key);
    if (!gate) {
      let open = () => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
      this.gates.set(key, gate);
    }
    return gate;
  }

  private json(ex: Exchange, status: number, body: unknown, headers: Record<string, string> = {}) {
    ex.head(status, { "content-type": "application/json", ...headers });
    ex.end(JSON.stringify(body));
  }

  private async serve(ex: Exchange, provider: ProviderKey, wire: Wire) {
    let body: any;
    try {
      body = JSON.parse(ex.body);
    } catch {
      return this.json(ex, 400, JSON.parse(errorBody(wire, "invalid_request_error", "request body is not JSON")));
    }
    const model = String(body?.model ?? "");
    const key = `${provider}/${model}`;
    const entries = this.log.get(key) ?? [];
    const entry: LogEntry = { at: Date.now(), headers: ex.headers, body, closedEarly: false, reply: null };
    entries.push(entry);
    this.log.set(key, entries);
    void ex.gone.then(() => {
      if (ex.closed()) entry.closedEarly = true;
    });

    const fail = (status: number, type: string, message: string) => {
      entry.reply = { status };
      this.json(ex, status, JSON.parse(errorBody(wire, type, message)));
    };
    // Authentication, as the real APIs do it.
    const sent = wire === "chat" ? ex.headers["authorization"] : ex.headers["x-api-key"];
    const expected = wire === "chat" ? `Bearer ${FAKE_KEYS[provider]}` : FAKE_KEYS[provider];
    const prefix = PREFIXES.find((p) => model === p || model.startsWith(`${p}-`));
    if (sent !== expected && prefix !== "echo-key") return fail(401, wire === "chat" ? "invalid_request_error" : "authentication_error", "invalid x-api-key or bearer token");
    if (!prefix) return fail(404, "not_found_error", `The model \`${model}\` does not exist`);

    const reply = await BEHAVIOURS[prefix]!({ wire, provider, model, body, count: entries.length - 1, ex, gate: this.gate(key).promise });
    if (reply.kind === "hang") {
      await ex.gone;
      return;
    }
    if (reply.kind === "error") {
      entry.reply = { status: reply.status };
      ex.head(reply.status, { "content-type": "application/json", ...reply.headers });
      ex.end(reply.body);
      return;
    }
    if (reply.kind === "raw") {
      entry.reply = { status: 200 };
      ex.head(200, { "content-type": reply.contentType });
      ex.end(reply.body);
      return;
    }
    if (reply.delayMs) await sleep(reply.delayMs, ex.gone);
    // At most 20 s, and no timer left behind to hold the test run open.
    if (reply.gate) await sleep(20_000, Promise.race([reply.gate, ex.gone]));
    if (ex.closed()) return;
    entry.reply = { status: 200, answer: reply.answer };
    if (!body.stream) return this.json(ex, 200, wire === "chat" ? chatJson(model, reply.answer) : messagesJson(model, reply.answer));
    const events = wire === "chat" ? chatChunks(model, reply.answer, body.stream_options?.include_usage === true) : messagesEvents(model, reply.answer);
    ex.head(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const event of events) {
      if (ex.closed()) return;
      ex.write(event);
      // Spaced out, so the deltas reach the worker as separate reads.
      await sleep(reply.spacingMs ?? 15, ex.gone);
    }
    ex.end();
  }
}
