import { describe, expect, it } from "vitest";
import type { AuditEntry, ToolResult } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, until, waitExit } from "../support/agents";

type Api = ReturnType<typeof client>;

async function setup(api: Api) {
  await api.call("PUT", "/v1/fs/secret/keys.txt", "API_KEY=hunter2");
  await api.call("PUT", "/v1/fs/secret/public/readme.md", "hunter2 is not here");
  await api.call("PUT", "/v1/fs/docs/notes.md", "hunter2 mentioned in docs");
  await api.put("/v1/hooks/guard", {
    kind: "policy",
    rules: [
      { event: "pre_dispatch", match: { path: "/secret/public/**" }, action: "allow" },
      { event: "pre_dispatch", match: { path: "/secret/**" }, action: "deny", reason: "secrets stay secret" },
    ],
  });
  await register(api, "snoop", { mode: "interactive", tools: ["read_file", "list_dir", "glob", "grep"], script: [{ text: "ready" }] });
  const p = await spawn(api, "snoop");
  await until(async () => (await api.get(`/v1/procs/${p.pid}`)).body.state, (s) => s === "sleeping");
  return p.pid;
}

const dispatch = async (api: Api, pid: number, tool: string, args: Record<string, unknown>) =>
  (await api.post<ToolResult>(`/v1/procs/${pid}/dispatch`, { tool, arguments: args })).body;

describe("policies see every path a call touches (hardening part 2)", () => {
  it("a search without a path does not reveal what a path rule denies", async () => {
    const api = client(freshTenant());
    const pid = await setup(api);
    // named directly: denied, as before
    expect(await dispatch(api, pid, "read_file", { path: "/secret/keys.txt" })).toMatchObject({ success: false, error: "vetoed by hook guard: secrets stay secret" });

    const grep = await dispatch(api, pid, "grep", { pattern: "hunter2" });
    expect(grep.success).toBe(true);
    expect(grep.output).not.toContain("API_KEY");
    expect(grep.output).not.toContain("/secret/keys.txt");
    expect(grep.output).toContain("/docs/notes.md:1:");
    // the rule that allows /secret/public/** comes first: that file is still found
    expect(grep.output).toContain("/secret/public/readme.md:1:");

    const glob = await dispatch(api, pid, "glob", { pattern: "**/*" });
    expect(glob.output.split("\n").sort()).toEqual(["/docs/notes.md", "/secret/public/readme.md"]);
    const listed = await dispatch(api, pid, "list_dir", { path: "/", recursive: true });
    expect(listed.output).not.toContain("keys.txt");
    expect(listed.output).toContain("public/readme.md");
    const inside = await dispatch(api, pid, "list_dir", { path: "/secret" });
    expect(inside).toMatchObject({ success: false, error: "vetoed by hook guard: secrets stay secret" });
    const grepInside = await dispatch(api, pid, "grep", { pattern: ".", path: "/secret" });
    expect(grepInside.success).toBe(false);
  });

  it("hooks are told the path a search resolves to", async () => {
    const api = client(freshTenant());
    await api.put("/v1/hooks/no-root-search", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "grep", path: "/" }, action: "deny", reason: "narrow your search" }] });
    await register(api, "searcher", { tools: ["grep"], script: [{ toolCalls: [{ name: "grep", arguments: { pattern: "x" } }] }, { text: "{{lastToolResult}}" }] });
    const p = await spawn(api, "searcher");
    expect((await waitExit(api, p.pid)).result).toBe("Error: vetoed by hook no-root-search: narrow your search");
    const audit = (await api.get("/v1/audit?limit=1000")).body.entries as AuditEntry[];
    expect(audit.find((e) => e.event === "dispatch_vetoed")?.data).toMatchObject({ tool: "grep", paths: ["/"] });
  });
});
