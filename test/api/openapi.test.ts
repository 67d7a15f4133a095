/**
 * /openapi.json against the app that serves it (SPEC §13):
 *  (b) every route the Hono app serves is an operation of the document, and every operation is served;
 *  (c) the answers of a real walk-through (agents, spawn, wait, lists, tasks, files, hooks, audit,
 *      the process controls and errors) have documented statuses and validate against the documented
 *      response schemas, with a JSON Schema 2020-12 validator that runs inside workerd
 *      (@cfworker/json-schema: no code generation, which workerd forbids).
 * That the document is valid OpenAPI 3.1 is checked in Node (test/node/openapi.test.ts), where the
 * OpenAPI validator can run.
 */
import { Validator } from "@cfworker/json-schema";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/routes/app";
import { forProcess } from "../../src/rpc/stubs";
import { register, spawn } from "../support/agents";
import { client, freshTenant } from "../support/http";

type Op = { responses: Record<string, { content?: Record<string, { schema?: unknown }> }>; parameters?: unknown[] };
type Doc = { openapi: string; paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, unknown> } };

let doc: Doc;
/** The document with `#/components/schemas/X` refs moved under `$defs`, where a JSON Schema validator looks. */
let defs: Record<string, unknown>;

beforeAll(async () => {
  const res = await exports.default.fetch(new Request("http://kernel.test/openapi.json"));
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
  defs = JSON.parse(JSON.stringify(doc.components.schemas).replaceAll("#/components/schemas/", "#/$defs/")) as Record<string, unknown>;
});

/** The Hono path of a route as the document spells it: `:pid` → `{pid}`, the file wildcard → `{path}`. */
const docPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)/g, "{$1}").replace(/\/\*$/, "/{path}");

describe("the document covers the app", () => {
  it("documents every route the app serves, and serves every documented operation", () => {
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL") // middleware (auth, body limit, hook roles)
        .map((r) => `${r.method.toLowerCase()} ${docPath(r.path)}`),
    );
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method} ${path}`)));
    expect([...served].filter((op) => !documented.has(op)), "served but not documented").toEqual([]);
    expect([...documented].filter((op) => !served.has(op)), "documented but not served").toEqual([]);
    expect(served.size).toBeGreaterThanOrEqual(33);
    expect(documented).toContain("get /healthz");
    expect(documented).toContain("get /v1/fs/{path}");
  });

  it("documents the SSE routes as text/event-stream and every /v1 route's 401", () => {
    for (const path of ["/v1/procs/{pid}/events", "/v1/tasks/{id}/events"]) {
      expect(Object.keys(doc.paths[path]!.get!.responses["200"]!.content!)).toEqual(["text/event-stream"]);
    }
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!path.startsWith("/v1/")) continue;
      for (const [method, op] of Object.entries(item)) expect(op.responses["401"], `${method} ${path}`).toBeDefined();
    }
  });
});

describe("a walk-through validates against the documented responses", () => {
  let checked = 0;
  const seen = new Set<string>();

  /** Asserts that the answer's status is documented for the operation and its JSON body fits the schema. */
  async function conforms(method: string, template: string, res: Response): Promise<any> {
    const op = doc.paths[template]?.[method.toLowerCase()];
    expect(op, `${method} ${template} is documented`).toBeDefined();
    const documented = op!.responses[String(res.status)];
    const text = await res.text();
    expect(documented, `${method} ${template} → ${res.status} is documented (${text.slice(0, 200)})`).toBeDefined();
    const type = res.headers.get("content-type") ?? "";
    const media = Object.keys(documented!.content ?? {});
    if (type.startsWith("application/json")) {
      expect(media).toContain("application/json");
      const body = JSON.parse(text);
      const schema = { $defs: defs, ...(documented!.content!["application/json"]!.schema as object) };
      const ref = JSON.parse(JSON.stringify(schema).replaceAll("#/components/schemas/", "#/$defs/"));
      const result = new Validator(ref, "2020-12", false).validate(body);
      expect(result.errors, `${method} ${template} → ${res.status}: ${text.slice(0, 300)}`).toEqual([]);
      checked++;
      seen.add(`${method} ${template} ${res.status}`);
      return body;
    }
    expect(media.some((m) => type.startsWith(m)), `${method} ${template}: ${type} is documented (${media.join(", ")})`).toBe(true);
    seen.add(`${method} ${template} ${res.status}`);
    return text;
  }

  it("covers agents, processes, delegation, files, hooks, audit and errors", async () => {
    const tenant = freshTenant("oa");
    const api = client(tenant, "admin");
    const viewer = client(tenant, "viewer");
    const raw = (path: string, init?: RequestInit) => exports.default.fetch(new Request(`http://kernel.test${path}`, init));

    await conforms("GET", "/healthz", await raw("/healthz"));
    await conforms("GET", "/docs", await raw("/docs"));
    await conforms(
      "PUT",
      "/v1/agents/{name}",
      await api.call("PUT", "/v1/agents/greeter", { model: "scripted", script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/hello.txt", content: "Hello, {{input}}!" } }] }, { text: "Done: {{lastToolResult}}" }] }),
    );
    await conforms("GET", "/v1/agents", await api.call("GET", "/v1/agents"));
    await conforms("GET", "/v1/agents/{name}", await api.call("GET", "/v1/agents/greeter"));
    const p = await conforms("POST", "/v1/procs", await api.call("POST", "/v1/procs", { agent: "greeter", input: "world", metadata: { by: "openapi test" } }));
    const exited = await conforms("GET", "/v1/procs/{pid}/wait", await api.call("GET", `/v1/procs/${p.pid}/wait?timeoutMs=10000`));
    expect(exited).toMatchObject({ exited: true, code: 0 });
    await conforms("GET", "/v1/procs", await api.call("GET", "/v1/procs?limit=10"));
    await conforms("GET", "/v1/procs/{pid}", await api.call("GET", `/v1/procs/${p.pid}`));
    await conforms("GET", "/v1/procs/{pid}/messages", await api.call("GET", `/v1/procs/${p.pid}/messages`));
    await conforms("GET", "/v1/procs/{pid}/events", await api.call("GET", `/v1/procs/${p.pid}/events`));
    await conforms("POST", "/v1/procs/{pid}/kill", await api.call("POST", `/v1/procs/${p.pid}/kill`, {}));

    // A copilot with three workers, then its tasks.
    await register(api, "worker", { script: [{ text: "done {{input}}" }] });
    await register(api, "lead", {
      tools: ["delegate", "collect"],
      script: [
        { toolCalls: [{ name: "delegate", arguments: { agent: "worker", message: "a" } }, { name: "delegate", arguments: { agent: "worker", message: "b", deliveryPolicy: "on_demand" } }] },
        { toolCalls: [{ name: "collect", arguments: { mode: "all", timeoutMs: 10000 } }] },
        { text: "{{lastToolResult}}" },
      ],
    });
    const lead = await spawn(api, "lead", "go");
    await conforms("GET", "/v1/procs/{pid}/wait", await api.call("GET", `/v1/procs/${lead.pid}/wait?timeoutMs=20000`));
    const tasks = await conforms("GET", "/v1/tasks", await api.call("GET", `/v1/tasks?copilotPid=${lead.pid}`));
    expect(tasks.tasks).toHaveLength(2);
    await conforms("GET", "/v1/tasks/{id}", await api.call("GET", `/v1/tasks/${tasks.tasks[0].id}`));
    await conforms("GET", "/v1/tasks/{id}", await api.call("GET", `/v1/tasks/${tasks.tasks[0].id}?a2a=v1`));
    await conforms("GET", "/v1/tasks/{id}/events", await api.call("GET", `/v1/tasks/${tasks.tasks[0].id}/events`));
    await conforms("POST", "/v1/tasks/{id}/cancel", await api.call("POST", `/v1/tasks/${tasks.tasks[0].id}/cancel`)); // 409: it has ended

    // An interactive hub: messages, pause/resume, dispatch, delegate, collect, cancel-all, checkpoint, restore.
    await register(api, "hub", { mode: "interactive", tools: ["delegate", "collect", "write_file", "read_file"], script: [{ text: "ready" }, { text: "noted" }, { text: "noted" }, { text: "noted" }] });
    const hub = await spawn(api, "hub", "start");
    await conforms("GET", "/v1/procs/{pid}/wait", await api.call("GET", `/v1/procs/${hub.pid}/wait?timeoutMs=200`));
    await conforms("POST", "/v1/procs/{pid}/messages", await api.call("POST", `/v1/procs/${hub.pid}/messages`, { content: "hello" }));
    await conforms("POST", "/v1/procs/{pid}/dispatch", await api.call("POST", `/v1/procs/${hub.pid}/dispatch`, { tool: "write_file", arguments: { path: "/d.txt", content: "x" } }));
    const delegated = await conforms("POST", "/v1/procs/{pid}/delegate", await api.call("POST", `/v1/procs/${hub.pid}/delegate`, { agent: "worker", message: "c", deliveryPolicy: "on_demand" }));
    await conforms("POST", "/v1/procs/{pid}/collect", await api.call("POST", `/v1/procs/${hub.pid}/collect`, { taskIds: [delegated.taskId], timeoutMs: 10000 }));
    await conforms("POST", "/v1/procs/{pid}/cancel-all", await api.call("POST", `/v1/procs/${hub.pid}/cancel-all`));
    await conforms("POST", "/v1/procs/{pid}/pause", await api.call("POST", `/v1/procs/${hub.pid}/pause`));
    await conforms("POST", "/v1/procs/{pid}/step", await api.call("POST", `/v1/procs/${hub.pid}/step`));
    await conforms("POST", "/v1/procs/{pid}/resume", await api.call("POST", `/v1/procs/${hub.pid}/resume`));
    const cp = await conforms("POST", "/v1/procs/{pid}/checkpoint", await api.call("POST", `/v1/procs/${hub.pid}/checkpoint`));
    await conforms("POST", "/v1/procs/restore", await api.call("POST", "/v1/procs/restore", { checkpointId: cp.checkpointId }));

    // Files.
    await conforms("PUT", "/v1/fs/{path}", await api.call("PUT", "/v1/fs/notes/a.md", "# a", { "content-type": "text/markdown" }));
    await conforms("GET", "/v1/fs/{path}", await api.call("GET", "/v1/fs/notes/a.md"));
    await conforms("GET", "/v1/fs", await api.call("GET", "/v1/fs?glob=/notes/**"));
    await conforms("DELETE", "/v1/fs/{path}", await api.call("DELETE", "/v1/fs/notes/a.md"));
    await conforms("GET", "/v1/fs/{path}", await api.call("GET", "/v1/fs/notes/a.md")); // 404 file_not_found

    // Hooks.
    await conforms("PUT", "/v1/hooks/{name}", await api.call("PUT", "/v1/hooks/no-rm", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "delete_file" }, action: "deny" }] }));
    await conforms("GET", "/v1/hooks", await api.call("GET", "/v1/hooks"));
    await conforms("DELETE", "/v1/hooks/{name}", await api.call("DELETE", "/v1/hooks/no-rm"));

    // Approvals and replies (SPEC §11): a call gated the way a process's dispatcher does.
    await conforms("PUT", "/v1/hooks/{name}", await api.call("PUT", "/v1/hooks/ask", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", timeoutMs: 60000 }] }));
    const asker = await spawn(api, "hub", "start");
    const { approvalId } = (await forProcess.kernel(env, tenant).beforeDispatch(asker.pid, [{ id: "c1", name: "write_file", arguments: { path: "/a", content: "b" }, paths: ["/a"] }])).asks.c1!;
    await conforms("GET", "/v1/approvals", await viewer.call("GET", `/v1/approvals?rootPid=${asker.pid}&state=pending`));
    await conforms("GET", "/v1/approvals/{id}", await viewer.call("GET", `/v1/approvals/${approvalId}`));
    await conforms("POST", "/v1/approvals/{id}", await viewer.call("POST", `/v1/approvals/${approvalId}`, { decision: "approve" })); // 403
    await conforms("POST", "/v1/approvals/{id}", await api.call("POST", `/v1/approvals/${approvalId}`, { decision: "reject", message: "no" }));
    await conforms("POST", "/v1/approvals/{id}", await api.call("POST", `/v1/approvals/${approvalId}`, { decision: "approve" })); // 409 approval_decided
    await conforms("GET", "/v1/approvals/{id}", await api.call("GET", "/v1/approvals/nope")); // 404
    await conforms("POST", "/v1/tasks/{id}/reply", await api.call("POST", `/v1/tasks/${tasks.tasks[1].id}/reply`, { message: "x" })); // 409 task_not_waiting
    await conforms("DELETE", "/v1/hooks/{name}", await api.call("DELETE", "/v1/hooks/ask"));

    // Audit.
    await conforms("GET", "/v1/audit", await api.call("GET", "/v1/audit?limit=5"));
    const verify = await conforms("GET", "/v1/audit/verify", await api.call("GET", "/v1/audit/verify?full=true"));
    expect(verify.ok).toBe(true);
    await conforms("DELETE", "/v1/agents/{name}", await api.call("DELETE", "/v1/agents/hub"));

    // A2A: the card and the JSON-RPC endpoint (its answers are JSON-RPC, documented as JSON objects).
    await conforms("GET", "/a2a/{agent}/.well-known/agent-card.json", await api.call("GET", "/a2a/greeter/.well-known/agent-card.json"));
    await conforms("GET", "/a2a/{agent}/.well-known/agent-card.json", await api.call("GET", "/a2a/nobody/.well-known/agent-card.json"));
    await conforms("POST", "/a2a/{agent}/", await api.call("POST", "/a2a/greeter/", { jsonrpc: "2.0", id: 1, method: "GetTask", params: { id: "missing" } }));
    await conforms("POST", "/a2a/{agent}/", await viewer.call("POST", "/a2a/greeter/", { jsonrpc: "2.0", id: 2, method: "CancelTask", params: { id: "missing" } }));

    // Errors, each in the documented ErrorBody.
    await conforms("GET", "/v1/procs/{pid}", await api.call("GET", "/v1/procs/999999"));
    await conforms("GET", "/v1/procs/{pid}", await api.call("GET", "/v1/procs/abc"));
    await conforms("POST", "/v1/procs", await api.call("POST", "/v1/procs", { agent: "greeter", input: 7 }));
    await conforms("POST", "/v1/procs", await api.call("POST", "/v1/procs", "{not json", { "content-type": "application/json" }));
    await conforms("POST", "/v1/procs", await api.call("POST", "/v1/procs", { agent: "nobody", input: "x" }));
    await conforms("POST", "/v1/procs", await viewer.call("POST", "/v1/procs", { agent: "greeter", input: "x" }));
    await conforms("GET", "/v1/procs", await raw("/v1/procs"));
    await conforms("PUT", "/v1/agents/{name}", await api.call("PUT", "/v1/agents/bad", { model: "scripted" }));
    await conforms("GET", "/v1/tasks/{id}", await api.call("GET", "/v1/tasks/not-a-task"));
    await conforms("POST", "/v1/procs", await api.call("POST", "/v1/procs", { agent: "greeter", input: "x", metadata: { big: "x".repeat(20_000) } }));

    // The validator is not a rubber stamp: a process with a wrong field, or an unknown state, fails.
    const processSchema = { $defs: defs, $ref: "#/$defs/Process" };
    const good = await (await api.call("GET", `/v1/procs/${p.pid}`)).json<Record<string, unknown>>();
    expect(new Validator(processSchema, "2020-12").validate(good).valid).toBe(true);
    expect(new Validator(processSchema, "2020-12").validate({ ...good, pid: "1" }).valid).toBe(false);
    expect(new Validator(processSchema, "2020-12").validate({ ...good, state: "dancing" }).valid).toBe(false);

    expect(checked).toBeGreaterThanOrEqual(45);
    for (const status of ["400", "401", "403", "404", "409", "413", "422"]) expect([...seen].some((s) => s.endsWith(` ${status}`)), `an error ${status} was checked`).toBe(true);
  });
});
