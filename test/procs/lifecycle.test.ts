import { describe, expect, it } from "vitest";
import type { Process } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit, type Client } from "../support/agents";

const sleeper = { mode: "interactive" as const, script: Array.from({ length: 20 }, (_, i) => ({ text: `reply ${i}` })) };
const stateOf = async (api: Client, pid: number) => (await api.get<Process>(`/v1/procs/${pid}`)).body;

describe("process lifecycle", () => {
  it("spawns a scripted agent that writes a file, exits 0 and is reaped by wait", async () => {
    const api = client(freshTenant());
    await register(api, "writer", {
      script: [
        { toolCalls: [{ name: "write_file", arguments: { path: "/out/hello.txt", content: "hello {{input}}" } }] },
        { text: "done: {{lastToolResult}}" },
      ],
    });
    const p = await spawn(api, "writer", "world");
    expect(p).toMatchObject({ pid: 1, agent: "writer", parentPid: null, taskId: null, mode: "task", depth: 0, exit: null, result: null });
    expect(p.tools).toEqual(["read_file", "write_file", "edit_file", "list_dir", "glob", "grep"]);
    const status = await waitExit(api, p.pid);
    expect(status).toMatchObject({ pid: 1, exited: true, code: 0, reason: "completed" });
    expect(status.result).toBe("done: wrote 11 bytes to /out/hello.txt");
    expect(await (await api.call("GET", "/v1/fs/out/hello.txt")).text()).toBe("hello world");
    expect(await stateOf(api, 1)).toMatchObject({ state: "stopped", turnCount: 1, exit: { code: 0 }, usage: { toolCalls: 1 } });
    expect(await waitExit(api, p.pid)).toEqual(status);
    const second = await spawn(api, "writer", "again");
    expect(second.pid).toBe(2);
  });

  it("answers exited:false with the state when the deadline passes first", async () => {
    const api = client(freshTenant());
    await register(api, "slow", { script: [{ text: "late", delayMs: 1500 }] });
    const p = await spawn(api, "slow");
    const early = await api.get(`/v1/procs/${p.pid}/wait?timeoutMs=50`);
    expect(early.body).toEqual({ pid: p.pid, exited: false, state: "running" });
    expect(await waitExit(api, p.pid)).toMatchObject({ exited: true, code: 0, result: "late" });
  });

  it("exits 1 when the script is exhausted", async () => {
    const api = client(freshTenant());
    await register(api, "short", { script: [{ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] }] });
    const p = await spawn(api, "short");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 1, reason: "model failed: script exhausted" });
  });

  it("exits 2 when turns would exceed maxTurns, without dispatching the extra turn", async () => {
    const api = client(freshTenant());
    const write = (n: number) => ({ toolCalls: [{ name: "write_file", arguments: { path: `/turn${n}`, content: "x" } }] });
    await register(api, "looper", { maxTurns: 2, script: [write(1), write(2), write(3), { text: "never" }] });
    const p = await spawn(api, "looper");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 2, reason: "max turns exceeded (2)" });
    const files = await api.get("/v1/fs?glob=/turn*");
    expect(files.body).toEqual(["/turn1", "/turn2"]);
    expect(await stateOf(api, p.pid)).toMatchObject({ turnCount: 3, usage: { toolCalls: 2 } });
  });

  it("retries 429 and 5xx model errors with backoff, then succeeds", async () => {
    const api = client(freshTenant());
    await register(api, "flaky", { script: [{ error: { status: 429, message: "slow down" } }, { error: { status: 503, message: "busy" } }, { text: "ok" }] });
    const p = await spawn(api, "flaky");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "ok" });
    const events = await (await api.call("GET", `/v1/procs/${p.pid}/events`)).text();
    expect(events.match(/event: model/g)).toHaveLength(3);
  });

  it("gives up after 3 retries with exit 1 and the provider's message", async () => {
    const api = client(freshTenant());
    const err = { error: { status: 500 as const, message: "upstream exploded" } };
    await register(api, "broken", { script: [err, err, err, err, { text: "unreachable" }] });
    const p = await spawn(api, "broken");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 1, reason: "model failed after 3 retries: upstream exploded" });
  });

  it("exits 3 after one last call without tools when the budget runs out", async () => {
    const api = client(freshTenant());
    const call = { toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] };
    await register(api, "spender", { budget: { toolCalls: 2 }, script: [call, call, { text: "best effort" }] });
    const p = await spawn(api, "spender");
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 3, reason: "budget exhausted", result: "best effort" });
    const final = await stateOf(api, p.pid);
    expect(final.usage.toolCalls).toBe(2);
    expect(final.budget).toMatchObject({ limit: { toolCalls: 2 }, used: { toolCalls: 2 } });
  });

  it("reports tool failures, unknown tools and timeouts as error tool results and goes on", async () => {
    const api = client(freshTenant());
    await register(api, "clumsy", {
      script: [
        {
          toolCalls: [
            { name: "read_file", arguments: { path: "/missing" } },
            { name: "teleport", arguments: {} },
            { name: "edit_file", arguments: { path: "/missing", oldText: "a", newText: "b" } },
            { name: "write_file", arguments: { path: 42 } },
          ],
        },
        { text: "{{lastToolResult}}" },
      ],
    });
    const p = await spawn(api, "clumsy");
    const status = await waitExit(api, p.pid);
    expect(status.code).toBe(0);
    const lines = (status.result as string).split("\n");
    expect(lines).toHaveLength(4);
    for (const line of lines) expect(line).toMatch(/^Error: /);
    expect(status.result).toContain("unknown tool teleport");
  });

  it("kills a running process with SIGTERM (-15) or SIGKILL (-9), abandoning its model call", async () => {
    const api = client(freshTenant());
    await register(api, "sleepy", { script: [{ text: "too late", delayMs: 60_000 }] });
    const a = await spawn(api, "sleepy");
    const b = await spawn(api, "sleepy");
    await until(() => stateOf(api, a.pid), (p) => p.state === "running");
    expect((await api.post(`/v1/procs/${a.pid}/kill`)).body).toEqual({ killed: [a.pid], alreadyExited: [] });
    expect((await api.post(`/v1/procs/${b.pid}/kill`, { signal: "SIGKILL", reason: "operator said so" })).body).toEqual({ killed: [b.pid], alreadyExited: [] });
    expect(await waitExit(api, a.pid)).toMatchObject({ code: -15, reason: "killed by SIGTERM", result: null });
    expect(await waitExit(api, b.pid)).toMatchObject({ code: -9, reason: "operator said so" });
    // killing an exited process is not an error
    expect((await api.post(`/v1/procs/${a.pid}/kill`)).body).toEqual({ killed: [], alreadyExited: [a.pid] });
    const events = await (await api.call("GET", `/v1/procs/${a.pid}/events`)).text();
    expect(events).toContain("event: exit");
    expect(events).not.toContain("too late");
  });

  it("cascades a kill to every live descendant unless cascade is false", async () => {
    const api = client(freshTenant());
    await register(api, "idle", sleeper);
    const root = await spawn(api, "idle");
    const child = await spawn(api, "idle", "c", { parentPid: root.pid });
    const grandchild = await spawn(api, "idle", "g", { parentPid: child.pid });
    const other = await spawn(api, "idle", "o", { parentPid: root.pid });
    expect(grandchild.depth).toBe(2);
    expect((await api.post(`/v1/procs/${other.pid}/kill`, { cascade: false })).body).toEqual({ killed: [other.pid], alreadyExited: [] });
    const killed = await api.post(`/v1/procs/${root.pid}/kill`);
    expect(killed.body).toEqual({ killed: [root.pid, child.pid, grandchild.pid], alreadyExited: [] });
    expect(await waitExit(api, grandchild.pid)).toMatchObject({ code: -15, reason: `killed by SIGTERM: ancestor ${root.pid} was killed` });
    const listed = await api.get(`/v1/procs?parentPid=${root.pid}`);
    expect(listed.body.processes.map((p: Process) => p.pid)).toEqual([child.pid, other.pid]);
  });

  it("terminates live children when their parent exits on its own", async () => {
    const api = client(freshTenant());
    await register(api, "idle", sleeper);
    await register(api, "quick", { script: [{ text: "bye", delayMs: 300 }] });
    const parent = await spawn(api, "quick");
    const child = await spawn(api, "idle", "c", { parentPid: parent.pid });
    expect(await waitExit(api, parent.pid)).toMatchObject({ code: 0 });
    expect(await waitExit(api, child.pid)).toMatchObject({ code: -15, reason: "parent exited" });
  });

  it("lists processes in pid order with filters, and rejects an invalid state filter", async () => {
    const api = client(freshTenant());
    await register(api, "idle", sleeper);
    await register(api, "quick", { script: [{ text: "bye" }] });
    const a = await spawn(api, "idle");
    const b = await spawn(api, "quick");
    await waitExit(api, b.pid);
    await until(() => stateOf(api, a.pid), (p) => p.state === "sleeping");
    const all = await api.get("/v1/procs");
    expect(all.body.processes.map((p: Process) => p.pid)).toEqual([a.pid, b.pid]);
    expect((await api.get("/v1/procs?state=sleeping")).body.processes.map((p: Process) => p.pid)).toEqual([a.pid]);
    expect((await api.get("/v1/procs?state=stopped&agent=quick")).body.processes.map((p: Process) => p.pid)).toEqual([b.pid]);
    const bad = await api.get("/v1/procs?state=dancing");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
    expect(bad.body.error.details[0].path).toEqual(["state"]);
  });
});

describe("interactive processes, pause and resume", () => {
  it("sleeps after an answer and wakes on a message", async () => {
    const api = client(freshTenant());
    await register(api, "chat", { mode: "interactive", script: [{ text: "hi, you said {{input}}" }, { text: "second answer" }] });
    const p = await spawn(api, "chat", "hello");
    await until(() => stateOf(api, p.pid), (s) => s.state === "sleeping");
    expect((await api.post(`/v1/procs/${p.pid}/messages`, { content: "more" })).status).toBe(202);
    await until(() => api.get(`/v1/procs/${p.pid}/messages`), (r) => r.body.messages.length === 4);
    const convo = await api.get(`/v1/procs/${p.pid}/messages`);
    expect(convo.body.messages).toEqual([
      { role: "user", content: "hello" },
      { role: "assistant", content: "hi, you said hello" },
      { role: "user", content: "more" },
      { role: "assistant", content: "second answer" },
    ]);
    await until(() => stateOf(api, p.pid), (s) => s.state === "sleeping");
    await api.post(`/v1/procs/${p.pid}/kill`);
    const late = await api.post(`/v1/procs/${p.pid}/messages`, { content: "anyone?" });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe("process_not_running");
  });

  it("pauses after the current step and resumes exactly where it stopped", async () => {
    const api = client(freshTenant());
    const write = (n: number) => ({ toolCalls: [{ name: "write_file", arguments: { path: `/p/${n}`, content: String(n) } }], delayMs: 150 });
    await register(api, "steps", { script: [write(1), write(2), write(3), { text: "finished" }] });
    const p = await spawn(api, "steps");
    await until(() => stateOf(api, p.pid), (s) => s.state === "running");
    expect((await api.post(`/v1/procs/${p.pid}/pause`)).body).toEqual({ state: "paused" });
    await new Promise((r) => setTimeout(r, 500));
    const paused = await stateOf(api, p.pid);
    expect(paused.state).toBe("paused");
    const turns = paused.turnCount;
    await new Promise((r) => setTimeout(r, 400));
    expect((await stateOf(api, p.pid)).turnCount).toBe(turns);
    expect((await api.post(`/v1/procs/${p.pid}/resume`)).body).toEqual({ state: "running" });
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 0, result: "finished" });
    expect((await api.get("/v1/fs?glob=/p/*")).body).toEqual(["/p/1", "/p/2", "/p/3"]);
  });
});

describe("checkpoint and restore", () => {
  it("checkpoints a process (paused) and restores it as a new pid that continues the conversation", async () => {
    const api = client(freshTenant());
    await register(api, "chat", { mode: "interactive", script: [{ text: "first" }, { text: "second: {{input}}" }] });
    const p = await spawn(api, "chat", "remember me");
    await until(() => stateOf(api, p.pid), (s) => s.state === "sleeping");
    const cp = await api.post(`/v1/procs/${p.pid}/checkpoint`);
    expect(cp.status).toBe(200);
    expect(cp.body.checkpointId).toMatch(/^[0-9a-f]{64}$/);
    expect((await stateOf(api, p.pid)).state).toBe("paused");
    // the same saved state hashes to the same id
    expect((await api.post(`/v1/procs/${p.pid}/checkpoint`)).body.checkpointId).toBe(cp.body.checkpointId);

    const restored = await api.post("/v1/procs/restore", { checkpointId: cp.body.checkpointId });
    expect(restored.status).toBe(201);
    expect(restored.body.pid).not.toBe(p.pid);
    expect(restored.body).toMatchObject({ agent: "chat", metadata: { restoredFrom: cp.body.checkpointId } });
    const q = restored.body.pid as number;
    await until(() => stateOf(api, q), (s) => s.state === "sleeping");
    await api.post(`/v1/procs/${q}/messages`, { content: "continue" });
    await until(() => api.get(`/v1/procs/${q}/messages`), (r) => r.body.messages.length === 4);
    const convo = (await api.get(`/v1/procs/${q}/messages`)).body.messages;
    expect(convo.map((m: { content: string }) => m.content)).toEqual(["remember me", "first", "continue", "second: remember me"]);

    const unknown = await api.post("/v1/procs/restore", { checkpointId: "0".repeat(64) });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
  });
});

describe("events", () => {
  it("streams events with sequence ids and resumes after Last-Event-ID", async () => {
    const api = client(freshTenant());
    await register(api, "writer", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/e", content: "1" } }] }, { text: "done" }] });
    const p = await spawn(api, "writer");
    // Opened while the process runs: the stream ends with the exit event.
    const res = await api.call("GET", `/v1/procs/${p.pid}/events`);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const text = await res.text();
    const events = [...text.matchAll(/id: (\d+)\nevent: (\w+)\n/g)].map((m) => ({ id: Number(m[1]), type: m[2] }));
    expect(events.map((e) => e.type)).toEqual(["state", "model", "turn", "tool_call", "tool_result", "model", "state", "exit"]);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
    const resumed = await (await api.call("GET", `/v1/procs/${p.pid}/events`, undefined, { "last-event-id": "5" })).text();
    expect([...resumed.matchAll(/id: (\d+)/g)].map((m) => Number(m[1]))).toEqual([6, 7, 8]);
  });
});

describe("budgets within one process", () => {
  it("never runs more tool calls in a turn than the toolCalls budget leaves", async () => {
    const api = client(freshTenant());
    const writes = ["/b1", "/b2", "/b3", "/b4"].map((path) => ({ name: "write_file", arguments: { path, content: "x" } }));
    await register(api, "greedy", { budget: { toolCalls: 2 }, script: [{ toolCalls: writes }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "greedy");
    const status = await waitExit(api, p.pid);
    expect(status).toMatchObject({ code: 3, reason: "budget exhausted" });
    expect((status.result as string).split("\n").slice(2)).toEqual([
      "Error: budget exhausted: no tool calls remain in this process's budget",
      "Error: budget exhausted: no tool calls remain in this process's budget",
    ]);
    expect((await api.get("/v1/fs?glob=/b*")).body).toEqual(["/b1", "/b2"]);
    expect((await api.get(`/v1/procs/${p.pid}`)).body.usage.toolCalls).toBe(2);
  });

  it("does not let a message wake an interactive process into a full call once its budget is spent", async () => {
    const api = client(freshTenant());
    await register(api, "chatty", { mode: "interactive", budget: { tokens: 10 }, script: [{ text: "a long first answer", usage: { inputTokens: 8, outputTokens: 8 } }, { text: "final words" }] });
    const p = await spawn(api, "chatty");
    await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
    await api.post(`/v1/procs/${p.pid}/messages`, { content: "more please" });
    expect(await waitExit(api, p.pid)).toMatchObject({ code: 3, result: "final words" });
  });

  it("limits children to the parent's effective maxDepth", async () => {
    const api = client(freshTenant());
    await register(api, "shallow", { mode: "interactive", limits: { maxDepth: 1 }, script: [{ text: "hi" }] });
    await register(api, "deep", { mode: "interactive", script: [{ text: "hi" }] });
    const root = await spawn(api, "shallow");
    const child = await spawn(api, "deep", "c", { parentPid: root.pid });
    const grandchild = await api.post("/v1/procs", { agent: "deep", input: "g", parentPid: child.pid });
    expect(grandchild.status).toBe(422);
    expect(grandchild.body.error).toMatchObject({ code: "limit_exceeded", details: { limit: "maxDepth", maxDepth: 1 } });
  });
});
