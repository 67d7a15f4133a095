// @ts-check
/**
 * Tests of the team in ./agents.mjs on a kernel booted by agent-kernel/testing (Miniflare: no
 * `wrangler dev`, no network, about a second per kernel). Run with `node --test`; the project's
 * `npm test` runs it too (`npm run test:e2e`), through the package export as a user would.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { collectTree, createTestKernel, eventsOf, registerAndSpawn, script, waitForExit } from "agent-kernel/testing";
import { agents, install } from "./agents.mjs";

/** @type {import("agent-kernel/testing").TestKernel} */
let kernel;
before(async () => {
  kernel = await createTestKernel();
});
after(() => kernel?.dispose());

test("the lead delegates to both workers, collects their results and writes the report", async () => {
  const ak = kernel.client("team");
  await install(ak);
  const lead = await ak.procs.spawn({ agent: "lead", input: "otters" });

  const exit = await waitForExit(ak, lead.pid);
  assert.equal(exit.code, 0);
  assert.equal(exit.result, "report on otters written");

  const tree = await collectTree(ak, lead.pid);
  assert.equal(tree.tasks.length, 2);
  assert.deepEqual(tree.workers.map((w) => w.agent).sort(), ["researcher", "writer"]);
  const byAgent = Object.fromEntries(tree.results.map((r) => [r.agent, r]));
  assert.equal(byAgent.researcher?.state, "completed");
  assert.equal(byAgent.researcher?.result, "3 facts about otters");
  assert.equal(byAgent.writer?.result, "a draft about otters");

  // The report is what collect answered: both results are in it.
  const report = JSON.parse(await ak.fs.read("/report.md"));
  assert.equal(report.satisfied, true);
  assert.equal(report.completed.length, 2);
  assert.equal(await ak.fs.read("/notes/otters.md"), "notes on otters");
});

test("the policy keeps the writer out of /secrets, and the model is told why", async () => {
  const ak = kernel.client("policy");
  await install(ak);
  const writer = await ak.procs.spawn({ agent: "writer", input: "owls" });
  const events = await eventsOf(ak, writer.pid);

  const results = events.filter((e) => e.event === "tool_result").map((e) => e.data);
  assert.equal(results.length, 2);
  assert.equal(results[0]?.success, false);
  assert.match(String(results[0]?.output), /^Error: vetoed by hook no-secrets: secrets are off limits/);
  assert.equal(results[1]?.success, true);
  assert.equal(events.at(-1)?.event, "exit");

  await assert.rejects(ak.fs.read("/secrets/draft.md"), { status: 404 });
  assert.equal(await ak.fs.read("/drafts/owls.md"), "draft on owls");
  // The veto is in the tenant's hash-chained audit log, and the chain verifies.
  assert.equal((await ak.audit.verify()).ok, true);
});

test("a worker that cannot finish fails its task, and the lead still reports", async () => {
  const ak = kernel.client("failing");
  await install(ak);
  // Replace the researcher with one whose model keeps failing (after 3 retries the process exits 1).
  await ak.agents.put("researcher", { ...agents.researcher, script: script().error(503, "busy").error(503, "busy").error(503, "busy").error(503, "busy") });
  const lead = await ak.procs.spawn({ agent: "lead", input: "bats" });
  assert.equal((await waitForExit(ak, lead.pid)).code, 0);

  const tree = await collectTree(ak, lead.pid);
  const researcher = tree.results.find((r) => r.agent === "researcher");
  assert.equal(researcher?.state, "failed");
  assert.match(String(researcher?.reason), /model failed after 3 retries: busy/);
  assert.equal(tree.results.find((r) => r.agent === "writer")?.state, "completed");
});

test("a viewer may look but not spawn", async () => {
  const admin = kernel.client("roles");
  await registerAndSpawn(admin, "hello", { model: "scripted", tools: [], script: script().text("hi") }, "x");
  const viewer = kernel.client("roles", "viewer");
  assert.equal((await viewer.agents.get("hello")).name, "hello");
  await assert.rejects(viewer.procs.spawn({ agent: "hello", input: "x" }), { status: 403 });
});
