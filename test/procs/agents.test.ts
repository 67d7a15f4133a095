import { describe, expect, it } from "vitest";
import type { AgentSpec, AuditEntry } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";

describe("the agent registry", () => {
  it("registers with the SPEC's defaults, lists, replaces and deletes; running processes keep the spec they started with", async () => {
    const api = client(freshTenant());
    const spec = (await register(api, "helper", { script: [{ text: "v1", delayMs: 300 }] })) as AgentSpec;
    expect(spec).toMatchObject({
      name: "helper",
      description: "",
      model: "scripted",
      mode: "task",
      tools: ["read_file", "write_file", "edit_file", "list_dir", "glob", "grep"],
      fs: [{ path: "/**", mode: "rw" }],
      maxTurns: 50,
      maxContextTokens: 128000,
      toolTimeoutMs: 30000,
      parallelToolCalls: true,
      budget: {},
      limits: {},
      singleton: false,
      metadata: {},
    });
    expect((await api.get("/v1/agents/helper")).body).toEqual(spec);
    const running = await spawn(api, "helper");
    await register(api, "helper", { description: "second version", script: [{ text: "v2" }] });
    expect((await api.get("/v1/agents")).body.agents.map((a: AgentSpec) => [a.name, a.description])).toEqual([["helper", "second version"]]);
    expect((await waitExit(api, running.pid)).result).toBe("v1");
    expect((await waitExit(api, (await spawn(api, "helper")).pid)).result).toBe("v2");

    expect((await api.del("/v1/agents/helper")).body).toEqual({ deleted: "helper" });
    expect((await api.get("/v1/agents/helper")).status).toBe(404);
    expect((await api.post("/v1/procs", { agent: "helper", input: "x" })).body.error.code).toBe("agent_not_found");
    const events = ((await api.get("/v1/audit?limit=100")).body.entries as AuditEntry[]).filter((e) => e.event.startsWith("agent_")).map((e) => e.event);
    expect(events).toEqual(["agent_registered", "agent_registered", "agent_deleted"]);
  });
});
