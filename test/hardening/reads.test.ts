import { env, listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";

/** Process objects with storage on disk for this tenant's pids. */
async function processObjectsOf(tenant: string, pids: number[]): Promise<number[]> {
  const ids = new Set((await listDurableObjectIds(env.PROCESS)).map((id) => id.toString()));
  return pids.filter((pid) => ids.has(env.PROCESS.idFromName(`${tenant}/${pid}`).toString()));
}

describe("reads do not write (hardening part 6)", () => {
  it("a viewer's reads of unknown pids create no process object", async () => {
    const tenant = freshTenant();
    const viewer = client(tenant, "viewer");
    const operator = client(tenant, "operator");
    const unknown = [41, 42, 43, 44, 45];
    for (const pid of unknown) {
      for (const path of [`/v1/procs/${pid}`, `/v1/procs/${pid}/messages`, `/v1/procs/${pid}/events`, `/v1/procs/${pid}/wait`]) {
        const res = await viewer.get(path);
        expect(res.status, path).toBe(404);
        expect(res.body.error.code).toBe("process_not_found");
      }
      // operators' writes to unknown pids are refused before any object is touched, too
      for (const path of [`/v1/procs/${pid}/pause`, `/v1/procs/${pid}/resume`, `/v1/procs/${pid}/collect`]) {
        expect((await operator.post(path)).status, path).toBe(404);
      }
      expect((await operator.post(`/v1/procs/${pid}/messages`, { content: "hi" })).status).toBe(404);
      expect((await operator.post(`/v1/procs/${pid}/dispatch`, { tool: "list_dir", arguments: {} })).status).toBe(404);
    }
    expect(await processObjectsOf(tenant, unknown)).toEqual([]);
  });

  it("a viewer's wait reports the exit without reaping; an operator's reaps", async () => {
    const tenant = freshTenant();
    const admin = client(tenant, "admin");
    const viewer = client(tenant, "viewer");
    await register(admin, "quick", { script: [{ text: "bye" }] });
    const proc = await spawn(admin, "quick");
    const seen = await viewer.get(`/v1/procs/${proc.pid}/wait?timeoutMs=10000`);
    expect(seen.body).toMatchObject({ pid: proc.pid, exited: true, code: 0, result: "bye" });
    expect((await viewer.get(`/v1/procs/${proc.pid}`)).body.state).toBe("zombie");
    const audit = async () => ((await admin.get("/v1/audit?limit=1000")).body.entries as { event: string }[]).filter((e) => e.event === "reap");
    expect(await audit()).toEqual([]);
    await waitExit(admin, proc.pid);
    expect((await viewer.get(`/v1/procs/${proc.pid}`)).body.state).toBe("stopped");
    expect(await audit()).toHaveLength(1);
  });
});
