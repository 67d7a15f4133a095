/**
 * agent-kernel/testing (testing/): kernels booted in programmatic Miniflare, imported through the
 * package export as users do. Isolation (storage, secret, port), persistence on request, `delayMs`
 * honoured, the start time after the first build, and that `dispose()` leaves no workerd process and
 * no temporary directory behind.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createTestKernel, ensureBuilt, eventsOf, registerAndSpawn, script, waitForExit } from "agent-kernel/testing";

// Miniflare puts its temporary directory under os.tmpdir(): give this process its own, so the
// check below sees only this file's kernels (node --test runs files in parallel).
const ownTmp = mkdtempSync(join(tmpdir(), "ak-testing-kit-"));
process.env.TMPDIR = ownTmp;
after(() => rmSync(ownTmp, { recursive: true, force: true }));

/** This process's child processes (workerd is started by Miniflare as one). */
function children() {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(process.pid)], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !/\bps -o\b/.test(l));
  } catch {
    return []; // ps exits 1 when there is none
  }
}
const workerds = () => children().filter((l) => /workerd/.test(l));

before(async () => {
  const b = await ensureBuilt();
  console.log(`worker bundle: ${b.built ? `built in ${Math.round(b.ms)} ms` : `cached (checked in ${Math.round(b.ms)} ms)`}`);
});

test("a warm createTestKernel() answers /healthz in well under a second", async (t) => {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    const kernel = await createTestKernel();
    const res = await kernel.fetch("/healthz");
    times.push(Math.round(performance.now() - t0));
    assert.equal(res.status, 200);
    await kernel.dispose();
  }
  t.diagnostic(`createTestKernel() -> first /healthz: ${times.join(", ")} ms`);
  // The claim is "well under a second"; the bound leaves room for a loaded CI machine.
  assert.ok(Math.min(...times) < 1500, `start took ${times.join(", ")} ms`);
});

test("two kernels at once are independent: storage, secret and port; dispose leaves nothing behind", async () => {
  const before = readdirSync(ownTmp);
  const [a, b] = await Promise.all([createTestKernel(), createTestKernel()]);
  try {
    assert.notEqual(a.url, b.url);
    assert.notEqual(a.authSecret, b.authSecret);
    assert.equal(workerds().length, 2, `workerd children: ${JSON.stringify(children())}`);
    assert.equal(readdirSync(ownTmp).filter((d) => d.startsWith("miniflare-")).length, 2);

    const inA = a.client("acme");
    const inB = b.client("acme");
    await inA.agents.put("solo", { model: "scripted", tools: [], script: script().text("hi") });
    await inA.fs.write("/only-in-a.txt", "a");
    assert.equal((await inA.agents.get("solo")).name, "solo");
    await assert.rejects(inB.agents.get("solo"), { status: 404 });
    await assert.rejects(inB.fs.read("/only-in-a.txt"), { status: 404 });
    assert.deepEqual(await inB.fs.list(), []);

    // A token of one kernel is refused by the other.
    const res = await b.fetch("/v1/agents", { headers: { authorization: `Bearer ${a.token("acme")}` } });
    assert.equal(res.status, 401);
    assert.equal((await a.fetch("/v1/agents", { headers: { authorization: `Bearer ${a.token("acme")}` } })).status, 200);
  } finally {
    await Promise.all([a.dispose(), b.dispose()]);
  }
  assert.deepEqual(workerds(), []);
  assert.deepEqual(readdirSync(ownTmp), before);
  await a.dispose(); // idempotent
  await assert.rejects(fetch(`${a.url}/healthz`));
});

test("persistDir keeps a tenant's data across dispose and a new kernel", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ak-persist-"));
  try {
    const first = await createTestKernel({ persistDir: dir });
    const c1 = first.client("acme");
    const p = await registerAndSpawn(c1, "greeter", { model: "scripted", script: script().toolCall("write_file", { path: "/hello.txt", content: "Hello, {{input}}!" }).text("done") }, "world");
    assert.equal((await waitForExit(c1, p.pid)).code, 0);
    await first.dispose();

    const second = await createTestKernel({ persistDir: dir });
    try {
      const c2 = second.client("acme");
      assert.equal(await c2.fs.read("/hello.txt"), "Hello, world!");
      assert.equal((await c2.procs.get(p.pid)).state, "stopped");
      assert.equal((await c2.audit.verify()).ok, true);
    } finally {
      await second.dispose();
    }
    // Without persistDir a new kernel starts empty.
    const third = await createTestKernel();
    try {
      await assert.rejects(third.client("acme").fs.read("/hello.txt"), { status: 404 });
    } finally {
      await third.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(workerds(), []);
});

test("delayMs steps are honoured, and the helpers report events and exits", async () => {
  const kernel = await createTestKernel({ bindings: { MAX_LIVE_PROCESSES: "5" } });
  try {
    const ak = kernel.client("acme");
    const steps = script()
      .toolCall("write_file", { path: "/slow.txt", content: "{{input}}" }, { delayMs: 400, usage: { inputTokens: 10, outputTokens: 5 } })
      .text("done after {{lastToolResult}}", { delayMs: 300 });
    assert.deepEqual(JSON.parse(JSON.stringify(steps)), [
      { toolCalls: [{ name: "write_file", arguments: { path: "/slow.txt", content: "{{input}}" } }], delayMs: 400, usage: { inputTokens: 10, outputTokens: 5 } },
      { text: "done after {{lastToolResult}}", delayMs: 300 },
    ]);
    const t0 = Date.now();
    const p = await registerAndSpawn(ak, "slow", { model: "scripted", script: steps }, "x");
    const events = await eventsOf(ak, p.pid);
    const exit = await waitForExit(ak, p.pid);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 700, `two steps of 400 and 300 ms took ${elapsed} ms`);
    assert.equal(exit.result, "done after wrote 1 bytes to /slow.txt");
    assert.equal(events.at(-1)?.event, "exit");
    assert.ok(events.some((e) => e.event === "tool_result" && e.data.name === "write_file"));
    const usage = (await ak.procs.get(p.pid)).usage;
    assert.equal(usage.inputTokens >= 10, true);

    // A setting passed through as a binding: the tenant cap.
    const sleeper = { model: "scripted", mode: "interactive", tools: [], script: script().text("a") };
    await ak.agents.put("sleeper", sleeper);
    for (let i = 0; i < 5; i++) await ak.procs.spawn({ agent: "sleeper", input: "x" });
    await assert.rejects(ak.procs.spawn({ agent: "sleeper", input: "x" }), (err) => err.status === 429 || err.status === 422);
  } finally {
    await kernel.dispose();
  }
});

test("the example in docs/testing.md runs as written", async () => {
  const root = join(import.meta.dirname, "..", "..");
  const page = readFileSync(join(root, "docs", "testing.md"), "utf8");
  const code = /```js\n([\s\S]*?)```/.exec(page)?.[1];
  assert.ok(code, "docs/testing.md has a ```js block");
  // Run from the repository (cwd), so "agent-kernel/testing" resolves through the package's own exports.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // else the child would report to this runner, not print its summary
  const child = spawnSync(process.execPath, ["--input-type=module", "-e", code], { cwd: root, encoding: "utf8", timeout: 60_000, env });
  assert.equal(child.status, 0, `${child.stdout}\n${child.stderr}`);
  assert.match(child.stdout, /# pass 2/);
  assert.match(child.stdout, /# fail 0/);
});
