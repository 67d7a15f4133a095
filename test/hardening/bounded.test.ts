import { describe, expect, it } from "vitest";
import type { AgentSpec, Process, ToolResult } from "../../src/contracts";
import { client, freshTenant, readStream } from "../support/http";
import { register, spawn, until, waitExit } from "../support/agents";
import { TASK_TOOLS } from "../support/tasks";

type Api = ReturnType<typeof client>;

/** Follows nextCursor to the end, checking each answer is a 200. */
async function walk<T>(api: Api, path: string, key: string): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let pages = 0;
  for (let cursor: string | null = null; ; ) {
    const sep = path.includes("?") ? "&" : "?";
    const res: { status: number; body: any } = await api.get(cursor ? `${path}${sep}cursor=${cursor}` : path);
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    items.push(...(res.body[key] as T[]));
    pages++;
    cursor = res.body.nextCursor;
    if (!cursor) return { items, pages };
  }
}

describe("everything that grows is bounded or paged (hardening part 5)", () => {
  it("caps metadata: 413 with nothing created", async () => {
    const api = client(freshTenant());
    await register(api, "idle", { mode: "interactive", tools: TASK_TOOLS, script: [{ text: "ready" }] });
    const big = { blob: "x".repeat(20_000) };
    const spawned = await api.post("/v1/procs", { agent: "idle", input: "go", metadata: big });
    expect(spawned.status).toBe(413);
    expect(spawned.body.error).toMatchObject({ code: "payload_too_large", details: [{ path: ["metadata"] }] });
    expect((await api.get("/v1/procs")).body.processes).toEqual([]);
    const spec = await api.put("/v1/agents/heavy", { model: "scripted", script: [{ text: "x" }], metadata: big });
    expect(spec.status).toBe(413);
    const hub = await spawn(api, "idle");
    await until(async () => (await api.get(`/v1/procs/${hub.pid}`)).body.state, (s) => s === "sleeping");
    const delegated = await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "idle", message: "m", metadata: big });
    expect(delegated.status).toBe(413);
    expect((await api.get(`/v1/tasks?copilotPid=${hub.pid}`)).body.tasks).toEqual([]);
  });

  it("pages processes and tasks by limit and cursor", async () => {
    const api = client(freshTenant());
    await register(api, "idle", { mode: "interactive", tools: TASK_TOOLS, script: Array.from({ length: 3 }, () => ({ text: "ready" })) });
    const hub = await spawn(api, "idle");
    await until(async () => (await api.get(`/v1/procs/${hub.pid}`)).body.state, (s) => s === "sleeping");
    for (let i = 0; i < 6; i++) {
      expect((await api.post(`/v1/procs/${hub.pid}/delegate`, { agent: "idle", message: `m${i}`, deliveryPolicy: "on_demand" })).status).toBe(201);
    }
    const procs = await walk<Process>(api, "/v1/procs?limit=2", "processes");
    expect(procs.pages).toBe(4);
    expect(procs.items.map((p) => p.pid)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const tasks = await walk<{ metadata: { workerPid: number } }>(api, `/v1/tasks?copilotPid=${hub.pid}&limit=4`, "tasks");
    expect(tasks.pages).toBe(2);
    expect(tasks.items.map((t) => t.metadata.workerPid)).toEqual([2, 3, 4, 5, 6, 7]);
    expect((await api.get("/v1/procs?cursor=abc")).status).toBe(400);
    expect((await api.get("/v1/procs?limit=0")).status).toBe(400);
    expect((await api.get("/v1/procs?limit=1001")).status).toBe(400);
  });

  it("agents whose specs together exceed an RPC answer are listed in pages", async () => {
    const api = client(freshTenant());
    // 34 specs of ~1 MB: together more than the 32 MiB an RPC may return
    const script = [{ text: "y".repeat(1_000_000) }];
    for (let i = 0; i < 34; i++) {
      const res = await api.put(`/v1/agents/big-${String(i).padStart(2, "0")}`, { model: "scripted", script });
      expect(res.status).toBe(200);
    }
    const agents = await walk<AgentSpec>(api, "/v1/agents", "agents");
    expect(agents.items.map((a) => a.name)).toEqual(Array.from({ length: 34 }, (_, i) => `big-${String(i).padStart(2, "0")}`));
    expect(agents.pages).toBeGreaterThan(1);
  }, 120_000);

  it("a conversation is capped: a message past it is refused, and it still pages, checkpoints and restores", async () => {
    const api = client(freshTenant());
    await register(api, "listener", { mode: "interactive", tools: [], script: Array.from({ length: 40 }, () => ({ text: "noted" })) });
    const p = await spawn(api, "listener");
    const idle = () => until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
    await idle();
    const chunk = "z".repeat(900_000);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await api.post(`/v1/procs/${p.pid}/messages`, { content: `${i}:${chunk}` });
      statuses.push(res.status);
      if (res.status !== 202) {
        expect(res.status).toBe(422);
        expect(res.body.error).toMatchObject({ code: "limit_exceeded", details: { limit: "conversation" } });
        break;
      }
      await idle();
    }
    expect(statuses.at(-1)).toBe(422);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(8);
    const conversation = await walk<{ role: string; content: string }>(api, `/v1/procs/${p.pid}/messages`, "messages");
    expect(conversation.pages).toBeGreaterThan(1);
    expect(conversation.items.filter((m) => m.role === "user").length).toBe(1 + statuses.filter((s) => s === 202).length);
    const cp = await api.post(`/v1/procs/${p.pid}/checkpoint`);
    expect(cp.status).toBe(200);
    const restored = await api.post<Process>("/v1/procs/restore", { checkpointId: cp.body.checkpointId });
    expect(restored.status).toBe(201);
    const copy = await walk<{ role: string }>(api, `/v1/procs/${restored.body.pid}/messages`, "messages");
    expect(copy.items.length).toBe(conversation.items.length);
  }, 120_000);

  it("a tool result too large to keep becomes an error result instead of wedging the process", async () => {
    const api = client(freshTenant());
    // 1 MiB of control characters: six times that once escaped as JSON, past SQLite's 2 MB value
    const res = await api.call("PUT", "/v1/fs/blob.bin", "\u0001".repeat(1024 * 1024), { "content-type": "text/plain" });
    expect(res.status).toBe(200);
    await register(api, "reader", { tools: ["read_file"], script: [{ toolCalls: [{ name: "read_file", arguments: { path: "/blob.bin" } }] }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "reader");
    const status = await waitExit(api, p.pid, 20_000);
    expect(status).toMatchObject({ exited: true, code: 0 });
    expect(status.result).toMatch(/^Error: the result of read_file is \d+ bytes as stored; one message is limited to/);
  });

  it("an event log longer than a page is replayed whole, in order, and resumes after Last-Event-ID", async () => {
    const api = client(freshTenant());
    await register(api, "busy", { mode: "interactive", tools: ["list_dir"], script: [{ text: "ready" }] });
    const p = await spawn(api, "busy");
    await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
    for (let i = 0; i < 160; i++) {
      expect((await api.post<ToolResult>(`/v1/procs/${p.pid}/dispatch`, { tool: "list_dir", arguments: {} })).status).toBe(200);
    }
    await api.post(`/v1/procs/${p.pid}/kill`);
    const text = await readStream(await api.call("GET", `/v1/procs/${p.pid}/events`), (t) => t.includes("event: exit"), 20_000);
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.length).toBeGreaterThan(320);
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i + 1));
    const resumed = await readStream(await api.call("GET", `/v1/procs/${p.pid}/events`, undefined, { "last-event-id": "300" }), (t) => t.includes("event: exit"), 20_000);
    const after = [...resumed.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(after[0]).toBe(301);
    expect(after.at(-1)).toBe(ids.at(-1));
  }, 60_000);

  it("pages the audit log and verifies it incrementally, still catching a rewritten entry", async () => {
    const api = client(freshTenant());
    for (let i = 0; i < 7; i++) await api.put(`/v1/agents/a${i}`, { model: "scripted", script: [{ text: "x" }] });
    const first = await api.get("/v1/audit?limit=3");
    expect(first.body.entries.map((e: { seq: number }) => e.seq)).toEqual([1, 2, 3]);
    expect(first.body.nextCursor).toBe("3");
    const rest = await api.get(`/v1/audit?limit=10&cursor=${first.body.nextCursor}`);
    expect(rest.body.entries.map((e: { seq: number }) => e.seq)).toEqual([4, 5, 6, 7]);
    expect(rest.body.nextCursor).toBeNull();
    const verified = (await api.get("/v1/audit/verify")).body;
    expect(verified).toMatchObject({ ok: true, entries: 7 });
    await api.put("/v1/agents/a7", { model: "scripted", script: [{ text: "x" }] });
    const again = (await api.get("/v1/audit/verify")).body;
    expect(again).toMatchObject({ ok: true, entries: 8 });
    expect((await api.get("/v1/audit/verify?full=true")).body).toEqual(again);
    expect((await api.get("/v1/audit/verify?full=maybe")).status).toBe(400);
  });
});
