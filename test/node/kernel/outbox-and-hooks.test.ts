import { describe, expect, it } from "vitest";
import { LIVE_STATES } from "../../../src/contracts";
import type { Fetcher } from "../../../src/kernel/hook-chain";
import { redeliveryDelay, type OutboxMessage } from "../../../src/kernel/outbox";
import { LIVE_SQL } from "../../../src/kernel/rows";
import { harness } from "./harness";

describe("the outbox", () => {
  it("keeps typed messages: kind in its column, payload as JSON, read back as they were written", () => {
    const k = harness();
    const messages: OutboxMessage[] = [
      { kind: "terminate", payload: { code: -15, reason: "killed by SIGTERM", at: "2026-01-01T00:00:00.000Z" } },
      { kind: "post_terminate", payload: { event: "post_terminate", tenant: "acme", pid: 1, parentPid: null, agent: "a", exit: { code: 0, reason: "completed" } } },
      { kind: "deliver", payload: { task: { taskId: "t", pid: 2, agent: "w", state: "completed", result: "x", reason: null, usage: { inputTokens: 1, outputTokens: 2, toolCalls: 0 } }, delivery: "deferred" } },
    ];
    messages.forEach((m, i) => k.outbox.add(i + 1, m));
    expect(k.outbox.due({ fromAlarm: false }).map(({ kind, payload, pid }) => ({ kind, payload, pid }))).toEqual(messages.map((m, i) => ({ ...m, pid: i + 1 })));
    expect(k.rows<{ kind: string; payload: string }>("SELECT kind, payload FROM outbox ORDER BY id")).toEqual(messages.map((m) => ({ kind: m.kind, payload: JSON.stringify(m.payload) })));
  });

  it("holds queued starts, keeps via-alarm entries for the alarm, and backs off a failed delivery", () => {
    const k = harness();
    k.outbox.add(1, { kind: "terminate", payload: { code: -15, reason: "r", at: "t" } }, { held: true });
    k.outbox.add(2, { kind: "terminate", payload: { code: -15, reason: "r", at: "t" } }, { viaAlarm: true });
    k.outbox.add(3, { kind: "terminate", payload: { code: -15, reason: "r", at: "t" } });
    expect(k.outbox.due({ fromAlarm: false }).map((e) => e.pid)).toEqual([3]);
    expect(k.outbox.due({ fromAlarm: true }).map((e) => e.pid)).toEqual([2, 3]);
    expect(k.outbox.due({ fromAlarm: true, onlyPids: [2] }).map((e) => e.pid)).toEqual([2]);
    expect(k.outbox.due({ fromAlarm: true, onlyPids: [2, 3] }).map((e) => e.pid)).toEqual([2, 3]);
    const entry = k.outbox.due({ fromAlarm: false })[0]!;
    const before = Date.now();
    k.outbox.retryLater(entry);
    expect(k.outbox.due({ fromAlarm: false })).toEqual([]);
    expect(k.outbox.nextDue()! - before).toBeLessThanOrEqual(redeliveryDelay(1) + 5);
    k.outbox.delivered([entry.id]);
    expect(k.rows("SELECT pid FROM outbox ORDER BY pid")).toEqual([{ pid: 1 }, { pid: 2 }]);
  });
});

describe("the hook registry and runner", () => {
  it("keeps the chain in order behind the built-in audit hook, and never shows secrets", () => {
    const k = harness();
    k.hookRegistry.put("p", { kind: "policy", rules: [] }, "api:admin");
    k.hookRegistry.put("w", { kind: "webhook", url: "https://user:pw@hooks.example.com/x", events: ["post_spawn"], secret: "s3cret", timeoutMs: 2000, failMode: "open" }, "api:admin");
    k.hookRegistry.put("p", { kind: "policy", rules: [{ event: "pre_spawn", match: {}, action: "deny", reason: "no" }] }, "api:admin");
    const views = k.hookRegistry.views();
    expect(views.map((v) => [v.name, v.position])).toEqual([
      ["audit", 0],
      ["p", 1],
      ["w", 2],
    ]);
    expect(JSON.stringify(views)).not.toContain("s3cret");
    expect(JSON.stringify(views)).not.toContain("user:pw");
    expect(k.audit.page(0, 10).map((e) => e.data.change)).toEqual(["added", "added", "replaced"]);
    expect(k.hookRegistry.put("audit", { kind: "policy", rules: [] }, "api:admin")).toMatchObject({ ok: false, error: { status: 409 } });
    expect(k.hookRegistry.remove("audit", "api:admin")).toMatchObject({ ok: false, error: { status: 409 } });
    expect(k.hookRegistry.remove("p", "api:admin")).toEqual({ ok: true, value: { deleted: "p" } });
    expect(k.hookRegistry.remove("p", "api:admin")).toMatchObject({ ok: false, error: { status: 404 } });
    expect(k.hookRegistry.list().map((h) => h.name)).toEqual(["w"]);
  });

  it("caches the chain until it changes, or until told the table changed", () => {
    const k = harness();
    expect(k.hookRegistry.listens("pre_spawn")).toBe(false);
    k.store.sql.exec("INSERT INTO hooks (name, position, spec) VALUES ('x', 1, ?)", JSON.stringify({ kind: "policy", name: "x", rules: [{ event: "pre_spawn", match: {}, action: "deny", reason: "r" }] }));
    expect(k.hookRegistry.listens("pre_spawn")).toBe(false);
    k.hookRegistry.invalidate();
    expect(k.hookRegistry.listens("pre_spawn")).toBe(true);
  });

  it("runs webhooks through the fetcher it was given: post_spawn warnings, post_terminate events", async () => {
    const calls: string[] = [];
    const fetcher: Fetcher = async (_url, init) => {
      calls.push(JSON.parse(String(init.body)).event);
      return new Response("nope", { status: 500 });
    };
    const k = harness({ fetch: fetcher });
    k.register("a");
    k.hookRegistry.put("w", { kind: "webhook", url: "https://hooks.example.com/x", events: ["post_spawn", "post_terminate"], secret: "s", timeoutMs: 2000, failMode: "open" }, "api:admin");
    const p = await k.spawn("a");
    expect(p.warnings).toEqual([expect.objectContaining({ component: "w", severity: "degraded" })]);
    expect(JSON.parse(k.table.get(p.pid)!.warnings)).toHaveLength(1);
    k.exit(p.pid);
    const order = k.outbox.due({ fromAlarm: true }).find((e) => e.kind === "post_terminate")!;
    expect(order.kind === "post_terminate" && (await k.hooks.postTerminate(order.payload))).toHaveLength(1);
    expect(calls).toEqual(["post_spawn", "post_terminate"]);
  });

  it("pre_dispatch: a veto is audited; searches get the policies' path filters", async () => {
    const k = harness();
    k.hookRegistry.put(
      "guard",
      {
        kind: "policy",
        rules: [
          { event: "pre_dispatch", match: { tool: "delete_file" }, action: "deny", reason: "never" },
          { event: "pre_dispatch", match: { path: "/secret/**" }, action: "deny", reason: "private" },
        ],
      },
      "api:admin",
    );
    const out = await k.hooks.beforeDispatch(7, () => ({ parent_pid: null, agent: "a" }), [
      { id: "c1", name: "delete_file", arguments: { path: "/a" }, paths: ["/a"] },
      { id: "c2", name: "grep", arguments: { pattern: "x" }, paths: ["/"] },
    ]);
    expect(out.vetoes).toEqual({ c1: { hook: "guard", reason: "never" } });
    expect(Object.keys(out.hidden)).toEqual(["c2"]);
    expect(out.postHooks).toBe(false);
    expect(k.audit.page(0, 10).filter((e) => e.event === "dispatch_vetoed").map((e) => e.data.tool)).toEqual(["delete_file"]);
  });
});

describe("rows", () => {
  it("builds its SQL list of live states from the contract", () => {
    expect(LIVE_SQL).toBe(`(${LIVE_STATES.map((s) => `'${s}'`).join(",")})`);
  });
});
