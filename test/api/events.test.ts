import { describe, expect, it } from "vitest";
import { client, freshTenant, readStream } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";
import { collect, delegate, registerCopilot } from "../support/tasks";

type FeedEvent = { id: number; type: string; data: any };

/** The complete events of a stream read so far (a last, partial one is left out). */
function parse(text: string): FeedEvent[] {
  return text
    .split("\n\n")
    .slice(0, -1)
    .filter((block) => block.includes("data: "))
    .map((block) => {
      const id = Number(/^id: (\d+)$/m.exec(block)?.[1]);
      const type = /^event: (.+)$/m.exec(block)?.[1] ?? "";
      return { id, type, data: JSON.parse(/^data: (.+)$/m.exec(block)![1]!) };
    });
}

describe("GET /v1/events: the tenant's feed", () => {
  it("announces process, task and audit changes in commit order, and resumes after Last-Event-ID", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    const viewer = client(tenant, "viewer");
    const live = await viewer.call("GET", "/v1/events");
    expect(live.status).toBe(200);
    expect(live.headers.get("content-type")).toMatch(/text\/event-stream/);

    await register(api, "worker", { script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/w.txt", content: "w" } }] }, { text: "worked" }] });
    await registerCopilot(api, "lead", [{ toolCalls: [delegate("worker", "go")] }, { toolCalls: [collect()] }, { text: "{{lastToolResult}}" }]);
    const lead = await spawn(api, "lead");
    await waitExit(api, lead.pid);

    const text = await readStream(live, (t) => parse(t).some((e) => e.type === "audit" && e.data.entry.event === "reap"), 15_000);
    const events = parse(text);
    const ids = events.map((e) => e.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);

    const procs = events.filter((e) => e.type === "proc");
    const states = (pid: number) => procs.filter((e) => e.data.process.pid === pid).map((e) => e.data.process.state);
    expect(states(lead.pid)).toContain("zombie");
    const workerPid = procs.find((e) => e.data.process.parentPid === lead.pid)!.data.process.pid;
    expect(states(workerPid)).toContain("zombie");
    const tasks = events.filter((e) => e.type === "task").map((e) => e.data.task.status.state);
    expect(tasks).toContain("completed");
    const audit = events.filter((e) => e.type === "audit").map((e) => e.data.entry.event);
    expect(audit).toEqual(expect.arrayContaining(["agent_registered", "spawn", "delegate", "task_state", "terminate", "reap"]));
    for (const e of events) expect(e.data).toMatchObject({ seq: e.id, at: expect.any(String) });

    // a reconnect resumes after the last id it saw
    const middle = ids[Math.floor(ids.length / 2)]!;
    const resumed = parse(await readStream(await viewer.call("GET", "/v1/events", undefined, { "last-event-id": String(middle) }), (t) => parse(t).some((e) => e.id === ids.at(-1)), 10_000));
    expect(resumed[0]!.id).toBe(middle + 1);
    expect(resumed.map((e) => e.id)).toEqual(ids.filter((id) => id > middle));
  });

  it("announces nothing that was not committed, and nothing of another tenant", async () => {
    const tenant = freshTenant();
    const api = client(tenant);
    await register(api, "quiet", { script: [{ text: "x" }] });
    await api.put("/v1/hooks/no", { kind: "policy", rules: [{ event: "pre_spawn", match: { agent: "quiet" }, action: "deny", reason: "not today" }] });
    const other = client(freshTenant());
    await register(other, "loud", { script: [{ text: "y" }] });
    const feed = await api.call("GET", "/v1/events");
    expect((await api.post("/v1/procs", { agent: "quiet", input: "go" })).status).toBe(403);
    await waitExit(other, (await spawn(other, "loud")).pid);
    const events = parse(await readStream(feed, (t) => t.includes("spawn_vetoed"), 10_000));
    // the vetoed spawn wrote no process row: only its audit entry is announced
    expect(events.filter((e) => e.type === "proc")).toEqual([]);
    expect(events.filter((e) => e.type === "audit").map((e) => e.data.entry.event)).toEqual(["agent_registered", "hook_changed", "spawn_vetoed"]);
    expect(JSON.stringify(events)).not.toContain("loud");
  });

  it("needs a token", async () => {
    const { exports } = await import("cloudflare:workers");
    const res = await exports.default.fetch(new Request("http://kernel.test/v1/events"));
    expect(res.status).toBe(401);
  });
});
