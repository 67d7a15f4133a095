/**
 * The console (SPEC §13) in a real browser: Debian's Chromium driven by playwright-core against
 * `wrangler dev` serving the Worker and its static assets. A copilot's fan-out appears live in the
 * tree; an approval is decided (with edited arguments) from the inbox and the process goes on; a
 * question is answered from the inbox; a viewer's pause is refused with the API's message; kill from
 * the console stops a subtree; the audit view verifies the chain; after the server is killed and
 * restarted the tree catches up without a reload. Screenshots of each view, wide (1280×800) and
 * narrow (390×844), go to test-results/console/ (git-ignored).
 *
 *   node --test test/e2e/console.test.mjs          (part of npm run test:e2e)
 *   CHROMIUM=/path/to/chromium ...                 another Chromium than /usr/bin/chromium
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { DevServer, freePort, installCleanup, releaseScratchDir, scratchConfig, scratchDir } from "../../scripts/lib/dev-server.mjs";
import { mintToken, randomSecret } from "../../scripts/lib/jwt.mjs";
import { apiFor, sleep, until } from "./support/api.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = join(root, "test-results", "console");
/** Debian's package (the README's set-up and .ci/run install it), else a `chromium` on the PATH. */
const CHROMIUM = process.env.CHROMIUM ?? (existsSync("/usr/bin/chromium") ? "/usr/bin/chromium" : (process.env.PATH ?? "").split(":").map((d) => join(d, "chromium")).find((p) => existsSync(p)) ?? "/usr/bin/chromium");
/** This machine's network is closed: without these Chromium stalls on lookups and updates. */
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const WIDE = { width: 1280, height: 800 };
const NARROW = { width: 390, height: 844 };

installCleanup("e2e-console");

describe("the console in Chromium", { timeout: 240_000 }, () => {
  const scratch = scratchDir("agent-kernel-e2e-console-");
  const persistTo = join(scratch, "state");
  const registry = join(scratch, "registry");
  const config = scratchConfig(root, scratch);
  const secret = randomSecret();
  const tenant = "e2e-console";
  const admin = mintToken({ tenant, role: "admin", ttlSeconds: 900, secret });
  const viewer = mintToken({ tenant, role: "viewer", ttlSeconds: 900, secret });
  let port;
  let inspectorPort;
  let server = null;
  let browser = null;
  let page = null;
  const consoleErrors = [];

  async function boot() {
    server = await new DevServer({ root, label: "e2e-console", port, inspectorPort, config, persistTo, registry, vars: { AUTH_SECRET: secret }, env: { CLOUDFLARE_CF_FETCH_ENABLED: "false" } }).start();
    await server.ready("/healthz", 90_000);
  }

  const api = (method, path, body, token = admin) => apiFor(() => server, token).call(method, path, body, { timeoutMs: 20_000 });
  const expectApi = (status, method, path, body, token = admin) => apiFor(() => server, token).expect(status, method, path, body, { timeoutMs: 20_000 });

  async function shot(name, viewport = WIDE) {
    await page.setViewportSize(viewport);
    await sleep(150);
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: false });
  }

  async function signIn(p, token) {
    await p.goto(`${server.url}/console/`);
    await p.locator("#token").fill(token);
    await p.keyboard.press("Enter");
    await p.locator('#conn[data-status="live"]').waitFor({ timeout: 20_000 });
  }

  const withContext = (body) => async () => {
    try {
      await body();
    } catch (err) {
      if (page) await page.screenshot({ path: join(SHOTS, "failure.png") }).catch(() => {});
      if (err instanceof Error) err.message += `\n--- browser console errors ---\n${consoleErrors.join("\n") || "(none)"}\n--- wrangler's last output ---\n${server?.log(60) ?? "(none)"}`;
      throw err;
    }
  };

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (the README's set-up and .ci/run do)`);
    mkdirSync(SHOTS, { recursive: true });
    port = await freePort();
    inspectorPort = await freePort();
    await boot();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const context = await browser.newContext({ viewport: WIDE });
    page = await context.newPage();
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    page.on("pageerror", (e) => consoleErrors.push(`pageerror: ${e.message}`));

    await expectApi(200, "PUT", "/v1/agents/worker", { model: "scripted", tools: [], script: [{ text: "worked on {{input}}", delayMs: 1500, usage: { inputTokens: 120, outputTokens: 30 } }] });
    await expectApi(200, "PUT", "/v1/agents/lead", {
      model: "scripted",
      tools: ["delegate", "collect"],
      budget: { tokens: 100000, toolCalls: 50 },
      script: [
        { toolCalls: ["alpha", "beta", "gamma"].map((m) => ({ name: "delegate", arguments: { agent: "worker", message: m } })), usage: { inputTokens: 200, outputTokens: 40 } },
        { toolCalls: [{ name: "collect", arguments: { timeoutMs: 60000 } }] },
        { text: "all done: {{lastToolResult}}" },
      ],
    });
    await expectApi(200, "PUT", "/v1/agents/sleeper", { model: "scripted", tools: [], script: [{ text: "never", delayMs: 120000 }] });
    await expectApi(200, "PUT", "/v1/agents/boss", {
      model: "scripted",
      tools: ["delegate", "collect"],
      script: [
        { toolCalls: [{ name: "delegate", arguments: { agent: "sleeper", message: "one" } }, { name: "delegate", arguments: { agent: "sleeper", message: "two" } }] },
        { toolCalls: [{ name: "collect", arguments: { timeoutMs: 120000 } }] },
        { text: "unreachable" },
      ],
    });
    // Its first model call takes a while, so a pause lands before the tool turn: then Step runs one step at a time.
    await expectApi(200, "PUT", "/v1/agents/stepper", { model: "scripted", tools: ["list_dir"], script: [{ toolCalls: [{ name: "list_dir", arguments: { path: "/" } }], delayMs: 2500 }, { text: "stepped through" }] });
    await expectApi(200, "PUT", "/v1/agents/clerk", {
      model: "scripted",
      tools: ["write_file"],
      script: [{ toolCalls: [{ name: "write_file", arguments: { path: "/notes/clerk.txt", content: "written by the model" } }] }, { text: "clerk: {{lastToolResult}}" }],
    });
    await expectApi(200, "PUT", "/v1/agents/greeter", { model: "scripted", tools: ["request_input"], script: [{ toolCalls: [{ name: "request_input", arguments: { question: "What is your name?" } }] }, { text: "hello {{lastToolResult}}" }] });
    await expectApi(200, "PUT", "/v1/hooks/notes-gate", { kind: "policy", rules: [{ event: "pre_dispatch", match: { tool: "write_file" }, action: "ask", reason: "notes need a person" }] });
  });

  after(async () => {
    try {
      await browser?.close();
    } finally {
      try {
        if (server) await server.crash();
      } finally {
        releaseScratchDir(scratch);
      }
    }
  });

  test("served by the Worker: /console redirects to /console/, the page and its bundle load, nothing from elsewhere", withContext(async () => {
    const redirect = await fetch(`${server.url}/console`, { redirect: "manual" });
    assert.ok([301, 302, 307, 308].includes(redirect.status), `GET /console → ${redirect.status}`);
    assert.match(redirect.headers.get("location") ?? "", /\/console\/$/);
    const html = await fetch(`${server.url}/console/`);
    assert.equal(html.status, 200);
    assert.match(html.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await html.text(), /<script type="module" src="\/console\/console.js">/);
    const js = await fetch(`${server.url}/console/console.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    // The API is still the Worker's: no token, the SPEC's error.
    const unauth = await fetch(`${server.url}/v1/procs`);
    assert.equal(unauth.status, 401);

    const foreign = [];
    page.on("request", (r) => {
      if (!r.url().startsWith(server.url)) foreign.push(r.url());
    });
    // A bad token is refused with the API's message; nothing is stored.
    await page.goto(`${server.url}/console/`);
    await page.locator("#token").fill("not-a-token");
    await page.locator("#login-form button[type=submit]").click();
    await page.locator("#login-error").getByText(/refused/).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    await shot("login");
    await signIn(page, admin);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("agent-kernel.console.token")), admin);
    // A reload keeps the session (sessionStorage), no second paste.
    await page.reload();
    await page.locator('#conn[data-status="live"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.locator("#login").isHidden(), true);
    assert.deepEqual(foreign, []);
  }));

  test("a copilot's fan-out appears live in the tree, with roll-ups, and the process view streams its timeline", withContext(async () => {
    await page.goto(`${server.url}/console/#/procs`);
    await page.locator("table.tree").waitFor();
    const lead = await expectApi(201, "POST", "/v1/procs", { agent: "lead", input: "fan out" });
    // Without a reload: the copilot and then its three workers appear under it.
    await page.locator(`tr[data-pid="${lead.pid}"]`).waitFor({ timeout: 20_000 });
    const workers = page.locator('tr[aria-level="2"]');
    await until(() => workers.count(), (n) => n === 3, 20_000, "three workers in the tree");
    await shot("tree-live");
    const tasks = await until(() => expectApi(200, "GET", `/v1/tasks?copilotPid=${lead.pid}`), (r) => r.tasks.length === 3, 20_000, "three tasks");
    for (const t of tasks.tasks) assert.equal(await page.locator(`tr[data-pid="${t.metadata.workerPid}"]`).getAttribute("aria-level"), "2");

    // It finishes; the tree follows: every row exited (the copilot reaped by the wait: stopped), four in the roll-up.
    await expectApi(200, "GET", `/v1/procs/${lead.pid}/wait?timeoutMs=30000`);
    const leadRow = page.locator(`tr[data-pid="${lead.pid}"]`);
    await leadRow.locator(".state-stopped").waitFor({ timeout: 20_000 });
    await until(() => page.locator("tr[aria-level] .state-zombie").count(), (n) => n === 3, 20_000, "three zombie workers");
    const cells = await leadRow.locator("td").allInnerTexts();
    assert.match(cells[7], /^4 · 0 live$/);
    // Tokens and tool calls: its own, then the subtree's (as the API reports each process).
    const all = await Promise.all([lead.pid, ...tasks.tasks.map((t) => t.metadata.workerPid)].map((pid) => expectApi(200, "GET", `/v1/procs/${pid}`)));
    const tokens = (p) => p.usage.inputTokens + p.usage.outputTokens;
    const fmt = (n) => n.toLocaleString("en-US");
    assert.equal(cells[3], `${fmt(tokens(all[0]))} · Σ ${fmt(all.reduce((s, p) => s + tokens(p), 0))}`);
    assert.equal(cells[4], `${all[0].usage.toolCalls} · Σ ${all.reduce((s, p) => s + p.usage.toolCalls, 0)}`);
    assert.ok(all.slice(1).every((p) => tokens(p) === 150), "each worker's scripted usage");

    // Filters: by agent, then by state.
    await page.selectOption("#f-agent", "worker");
    assert.equal(await page.locator("tr.context").count(), 1, "the copilot stays as context above its matching workers");
    await page.selectOption("#f-agent", "");
    await page.selectOption("#f-state", "running");
    await until(() => page.locator("table.tree tbody tr").count(), (n) => n === 0, 5_000, "no running process");
    await page.selectOption("#f-state", "");

    // Keyboard: the first row is in the tab order, arrows move, Enter opens the process.
    await page.locator(`tr[data-pid="${lead.pid}"]`).focus();
    await page.keyboard.press("ArrowDown");
    const focused = await page.evaluate(() => document.activeElement?.getAttribute("data-pid"));
    assert.equal(Number(focused), tasks.tasks.map((t) => t.metadata.workerPid).sort((a, b) => a - b)[0]);
    assert.equal(await page.locator('table.tree tbody tr[tabindex="0"]').count(), 1, "one row in the tab order");
    await shot("tree-keyboard");
    await page.keyboard.press("ArrowUp");
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`#/procs/${lead.pid}$`));
    // Timeline, conversation, tasks with results, tools.
    await page.locator(".timeline li[data-type=exit]").waitFor({ timeout: 10_000 });
    await page.locator(".messages li[data-role=assistant]").first().waitFor();
    await until(() => page.locator("table.tasks tbody tr[data-task]").count(), (n) => n === 3, 10_000, "three tasks in the view");
    assert.match(await page.locator("table.tasks").innerText(), /worked on alpha/);
    assert.match(await page.locator('ul[aria-label="Effective tools"]').innerText(), /delegate/);
    await shot("process-done");

    // A live one: the timeline grows while the worker runs (its model text arrives without a reload).
    const solo = await expectApi(201, "POST", "/v1/procs", { agent: "worker", input: "live text" });
    await page.goto(`${server.url}/console/#/procs/${solo.pid}`);
    await page.locator(".timeline li[data-type=state]").first().waitFor({ timeout: 10_000 });
    await page.locator(".timeline li[data-type=model]", { hasText: "worked on live text" }).waitFor({ timeout: 15_000 });
    await page.locator(".timeline li[data-type=exit]").waitFor({ timeout: 10_000 });
    await shot("process-narrow", NARROW);
    await page.setViewportSize(WIDE);
  }));

  test("the inbox: an approval decided with edited arguments lets the process go on; a question is answered", withContext(async () => {
    await page.goto(`${server.url}/console/#/approvals`);
    await page.locator("#ap-title").waitFor();
    const clerk = await expectApi(201, "POST", "/v1/procs", { agent: "clerk", input: "go" });
    const greeter = await expectApi(201, "POST", "/v1/procs", { agent: "greeter", input: "hi" });
    const card = page.locator("article[data-approval]");
    await card.waitFor({ timeout: 20_000 });
    assert.match(await card.locator("h4").innerText(), new RegExp(`write_file by #${clerk.pid} clerk`));
    assert.match(await page.locator(`section.group[data-root="${clerk.pid}"] h3`).innerText(), new RegExp(`Tree #${clerk.pid} clerk · 1 waiting`));
    const question = page.locator(`form[data-question="proc:${greeter.pid}"]`);
    await question.waitFor({ timeout: 20_000 });
    assert.match(await page.locator("#inbox-count").innerText(), /^2$/);
    await shot("inbox");
    await shot("inbox-narrow", NARROW);
    await page.setViewportSize(WIDE);

    // Broken JSON is caught in the page, before any request.
    const args = card.locator("textarea");
    await args.fill("{ not json");
    await card.locator('button[data-action="approve"]').click();
    await card.locator(".error").getByText(/not valid JSON/).waitFor();
    await args.fill(JSON.stringify({ path: "/notes/clerk.txt", content: "edited by a person" }));
    await card.locator("input").fill("with my wording");
    await card.locator('button[data-action="approve"]').click();
    await card.waitFor({ state: "detached", timeout: 15_000 });
    const done = await expectApi(200, "GET", `/v1/procs/${clerk.pid}/wait?timeoutMs=30000`);
    assert.equal(done.exited && done.code, 0, JSON.stringify(done));
    assert.equal((await api("GET", "/v1/fs/notes/clerk.txt")).text, "edited by a person");
    const [approval] = (await expectApi(200, "GET", `/v1/approvals?pid=${clerk.pid}`)).approvals;
    assert.equal(approval.state, "approved");
    assert.equal(approval.message, "with my wording");
    assert.deepEqual(approval.originalArguments, { path: "/notes/clerk.txt", content: "written by the model" });

    await question.locator("input").fill("Ada");
    await question.locator("button[type=submit]").click();
    const greeted = await expectApi(200, "GET", `/v1/procs/${greeter.pid}/wait?timeoutMs=30000`);
    assert.equal(greeted.result, "hello Ada");
    await page.locator("#approvals .empty").waitFor();
    await page.locator("#questions .empty").waitFor({ timeout: 10_000 });
    await until(() => page.locator("#inbox-count").innerText(), (t) => t === "0", 10_000, "an empty inbox");

    // A second approval, rejected with a message: the model sees the rejection.
    const second = await expectApi(201, "POST", "/v1/procs", { agent: "clerk", input: "again" });
    await page.locator("article[data-approval]").waitFor({ timeout: 20_000 });
    await page.locator("article[data-approval] input").fill("not today");
    await page.locator('article[data-approval] button[data-action="reject"]').click();
    const rejected = await expectApi(200, "GET", `/v1/procs/${second.pid}/wait?timeoutMs=30000`);
    assert.match(rejected.result, /rejected by .*not today/);
  }));

  test("a viewer's controls are refused with the API's message", withContext(async () => {
    const context = await browser.newContext({ viewport: WIDE });
    try {
      const p = await context.newPage();
      await signIn(p, viewer);
      const anyPid = (await expectApi(200, "GET", "/v1/procs?limit=1")).processes[0].pid;
      await p.goto(`${server.url}/console/#/procs/${anyPid}`);
      await p.locator('button[data-action="pause"]').click();
      const alert = p.locator("#view .error[role=alert]").first();
      await alert.getByText(/Pause refused: .*operator.*\(403 forbidden\)/).waitFor({ timeout: 10_000 });
    } finally {
      await context.close();
    }
  }));

  test("pause, step, resume and checkpoint from the process view; a refused step shows the API's message", withContext(async () => {
    const stepper = await expectApi(201, "POST", "/v1/procs", { agent: "stepper", input: "x" });
    await page.goto(`${server.url}/console/#/procs/${stepper.pid}`);
    const status = page.locator('#view .status-line[role="status"]');
    const alert = page.locator("#view .error[role=alert]").first();
    await page.locator('button[data-action="pause"]').click();
    await status.getByText("Paused").waitFor({ timeout: 10_000 });
    await until(() => expectApi(200, "GET", `/v1/procs/${stepper.pid}`), (p) => p.state === "paused", 15_000, "paused");
    // The model call in flight when the pause landed completes first (a step meanwhile is refused: one runs).
    // (Had the pause landed before it, there is none: the steps below run it.)
    await page.locator(".timeline li[data-type=model]:not(.streaming)").first().waitFor({ timeout: 10_000 }).catch(() => {});
    // Step by step until its tool turn has run: each step leaves it paused.
    const toolResult = page.locator(".timeline li[data-type=tool_result]");
    for (let i = 0; i < 3 && !(await toolResult.count()); i++) {
      await page.locator('button[data-action="step"]').click();
      await status.getByText(/^Stepped: turn \d+, state paused\.$/).waitFor({ timeout: 15_000 });
      await sleep(300);
    }
    await toolResult.waitFor({ timeout: 10_000 });
    assert.equal((await expectApi(200, "GET", `/v1/procs/${stepper.pid}`)).state, "paused");
    await page.locator('button[data-action="checkpoint"]').click();
    await status.getByText(/^Checkpoint [0-9a-f]+ saved\.$/).waitFor({ timeout: 10_000 });
    await page.locator('button[data-action="resume"]').click();
    await status.getByText("Resumed").waitFor({ timeout: 10_000 });
    const done = await expectApi(200, "GET", `/v1/procs/${stepper.pid}/wait?timeoutMs=20000`);
    assert.equal(done.result, "stepped through");
    await page.locator(".timeline li[data-type=exit]").waitFor({ timeout: 10_000 });
    // Exited: a step is refused, and the page says why.
    await page.locator('button[data-action="step"]').click();
    await alert.getByText(/^Step refused: .*\(409 process_not_running\)$/).waitFor({ timeout: 10_000 });
    await shot("process-refused");
  }));

  test("kill from the console stops a subtree", withContext(async () => {
    const boss = await expectApi(201, "POST", "/v1/procs", { agent: "boss", input: "x" });
    const tasks = await until(() => expectApi(200, "GET", `/v1/tasks?copilotPid=${boss.pid}`), (r) => r.tasks.length === 2 && r.tasks.every((t) => t.status.state === "working"), 20_000, "two working sleepers");
    const pids = [boss.pid, ...tasks.tasks.map((t) => t.metadata.workerPid)];

    await page.goto(`${server.url}/console/#/procs/${boss.pid}`);
    await page.locator('button[data-action="kill"]').click();
    await page.getByText(`Kill #${boss.pid} and 2 descendants?`).waitFor();
    await shot("process-kill-confirm");
    await page.locator('button[data-action="confirm kill"]').click();
    await page.locator('#view .status-line[role="status"]').getByText(/^Killed /).waitFor({ timeout: 15_000 });
    for (const pid of pids) {
      const p = await until(() => expectApi(200, "GET", `/v1/procs/${pid}`), (x) => x.state === "zombie" || x.state === "stopped", 20_000, `#${pid} stopped`);
      assert.ok(p.exit.code < 0, `#${pid} killed: ${JSON.stringify(p.exit)}`);
    }
    await page.goto(`${server.url}/console/#/procs`);
    for (const pid of pids) await page.locator(`tr[data-pid="${pid}"] .state-zombie`).waitFor({ timeout: 15_000 });
    await shot("tree-after-kill");
    await shot("tree-narrow", NARROW);
    await page.setViewportSize(WIDE);
  }));

  test("the audit view pages the log, verifies the chain and shows the head hash", withContext(async () => {
    await page.goto(`${server.url}/console/#/audit`);
    await page.locator(".verdict-ok").getByText(/Chain verified: \d+ entries/).waitFor({ timeout: 15_000 });
    const verify = await expectApi(200, "GET", "/v1/audit/verify");
    assert.ok(verify.ok);
    const head = await page.locator("p.head").innerText();
    assert.match(head, /^[0-9a-f]{64}$/);
    await page.locator("table.audit tbody tr").first().waitFor();
    assert.equal(await page.locator("table.audit tbody tr").count(), 50, "a full first page");
    assert.equal(await page.locator("table.audit tbody tr").first().getAttribute("data-seq"), "1");
    await page.getByRole("button", { name: "Later →" }).click();
    await until(() => page.locator("table.audit tbody tr").first().getAttribute("data-seq"), (s) => s === "51", 10_000, "the second page");
    await page.getByRole("button", { name: "Verify the whole chain" }).click();
    await page.locator(".verdict-ok").getByText(/whole chain/).waitFor({ timeout: 15_000 });
    await shot("audit");
    await shot("audit-narrow", NARROW);
    await page.setViewportSize(WIDE);
  }));

  test("after the server is killed and restarted, the feed reconnects with Last-Event-ID and the tree catches up without a reload", withContext(async () => {
    await page.goto(`${server.url}/console/#/procs`);
    await page.locator('#conn[data-status="live"]').waitFor();
    const before = Number(/event (\d+)/.exec(await page.locator("#conn-text").innerText())?.[1] ?? 0);
    assert.ok(before > 0, "the feed has delivered events");
    await server.crash();
    await page.locator('#conn[data-status="reconnecting"]').waitFor({ timeout: 15_000 });
    await boot();
    const fresh = await expectApi(201, "POST", "/v1/procs", { agent: "worker", input: "after the restart" });
    await page.locator(`tr[data-pid="${fresh.pid}"]`).waitFor({ timeout: 30_000 });
    await page.locator(`tr[data-pid="${fresh.pid}"] .state-zombie`).waitFor({ timeout: 30_000 });
    const after = Number(/event (\d+)/.exec(await page.locator("#conn-text").innerText())?.[1] ?? 0);
    assert.ok(after > before, `the feed resumed after ${before}, now at ${after}`);
    // The only errors the page logged are the refused requests this test provoked (a bad token, the viewer, the dead server).
    assert.deepEqual(consoleErrors.filter((e) => !/Failed to load resource|ERR_CONNECTION_REFUSED|net::/.test(e)), []);
  }));
});
