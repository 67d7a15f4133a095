import { describe, expect, it } from "vitest";
import type { Process } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until } from "../support/agents";

const write = (path: string) => ({ toolCalls: [{ name: "write_file", arguments: { path, content: path } }] });

describe("POST /v1/procs/:pid/step", () => {
  it("runs exactly one step of a paused process at a time, and it stays paused", async () => {
    const api = client(freshTenant());
    await register(api, "stepper", { tools: ["write_file"], script: [{ ...write("/a"), delayMs: 400 }, write("/b"), { text: "done" }] });
    const p = await spawn(api, "stepper");
    expect((await api.post(`/v1/procs/${p.pid}/pause`)).status).toBe(200);
    // A model call already in flight completes and is persisted (its tools then wait for a step);
    // if none had started, the first step is that model call.
    await new Promise((r) => setTimeout(r, 700));
    const messages = async () => ((await api.get(`/v1/procs/${p.pid}/messages`)).body.messages as unknown[]).length;
    const exists = async (path: string) => (await api.call("GET", `/v1/fs${path}`)).status === 200;
    if ((await messages()) === 1) {
      const model = await api.post<Process>(`/v1/procs/${p.pid}/step`);
      expect(model.body).toMatchObject({ state: "paused", turnCount: 1 });
    }
    expect(await messages()).toBe(2);
    expect(await exists("/a")).toBe(false);

    const one = await api.post<Process>(`/v1/procs/${p.pid}/step`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ pid: p.pid, state: "paused", turnCount: 1 });
    expect(await exists("/a")).toBe(true);
    expect(await exists("/b")).toBe(false);

    const two = await api.post<Process>(`/v1/procs/${p.pid}/step`); // the model asks for /b
    expect(two.body).toMatchObject({ state: "paused", turnCount: 2 });
    expect(await exists("/b")).toBe(false);
    const three = await api.post<Process>(`/v1/procs/${p.pid}/step`); // the turn writes it
    expect(three.body.state).toBe("paused");
    expect(await exists("/b")).toBe(true);
    // nothing ran between the steps: the process is still paused after a while
    await new Promise((r) => setTimeout(r, 200));
    expect((await api.get(`/v1/procs/${p.pid}`)).body.state).toBe("paused");

    const last = await api.post<Process>(`/v1/procs/${p.pid}/step`); // the final answer: a task-mode process exits
    expect(last.body).toMatchObject({ state: "zombie", result: "done", exit: { code: 0 } });
    const after = await api.post(`/v1/procs/${p.pid}/step`);
    expect(after.status).toBe(409);
    expect(after.body.error.code).toBe("process_not_running");
  });

  it("refuses a process that is not paused, one that waits for a message, a viewer and an unknown pid", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "chat", { mode: "interactive", script: [{ text: "hi" }, { text: "again" }] });
    const p = await spawn(api, "chat");
    await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
    const running = await api.post(`/v1/procs/${p.pid}/step`);
    expect(running.status).toBe(409);
    expect(running.body.error).toMatchObject({ code: "conflict", message: expect.stringMatching(/paused/) });
    await api.post(`/v1/procs/${p.pid}/pause`);
    const idle = await api.post(`/v1/procs/${p.pid}/step`);
    expect(idle.status).toBe(409);
    expect(idle.body.error.message).toMatch(/waits for a message/);
    expect((await client(tenant, "viewer").post(`/v1/procs/${p.pid}/step`)).status).toBe(403);
    expect((await api.post(`/v1/procs/999/step`)).status).toBe(404);
  });
});
