#!/usr/bin/env node
/**
 * `npm run bench`: what an agent spawn, a step and a fan-out cost, against the platform's floor.
 *
 *   npm run bench                         full run (more repetitions, ~2-4 min)
 *   npm run bench -- --quick              the short run (< 3 min)
 *   npm run bench -- --quick --json bench/results/quick.json
 *   npm run bench -- --help
 *
 * Bundles the kernel (wrangler.toml) and the bench-only floor worker (bench/floor/wrangler.toml) once
 * and starts each with `wrangler dev --local` on workerd, on a free 127.0.0.1 port with a fresh temp
 * --persist-to directory, its own AUTH_SECRET through --var, WRANGLER_SEND_METRICS=false and
 * X_LOCAL_OBSERVABILITY=false (see bench/README.md). Drives the kernel over HTTP with the scripted
 * model at zero latency and prints a table; --json writes one object. Servers are killed on every
 * way out. Not part of `npm test`; it asserts nothing about timings.
 *
 * Why wrangler dev rather than the Miniflare API: it is what `npm start` and the e2e test run (same
 * build, same dev proxy, same persistence), needs no copy of the bindings in a second config, and
 * boots in ~2 s; the one cost it adds, its proxy hop (~1 ms a request), is measured and reported.
 *
 * Clocks: durations measured here use the monotonic clock (performance.now). Times that involve
 * the server (time to first model call, fan-out phase breakdowns) subtract this side's Date.now()
 * at request start from the event's `at` (the process object's Date, i.e. the same host's
 * wall clock, 1 ms resolution; workerd advances Date only across I/O, so an `at` can be a little
 * early, never late).
 */
import { execFileSync } from "node:child_process";
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mintToken, randomSecret } from "../scripts/lib/jwt.mjs";
import { createServer } from "node:http";
import { createClient, HttpError, parseSse } from "./lib/http.mjs";
import { attachProfiler, attribute, bundleLookup } from "./lib/profiler.mjs";
import { cleanUpAll, cpuSecondsOfGroups, DevServer, directPortOf, freezeWorker, installCleanup, machineBusySeconds, sampleMemory } from "./lib/server.mjs";
import { Deadline, DeadlineError, mean, median, mono, percentile, pool, round, sleep } from "./lib/stats.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// ---------------------------------------------------------------- options

const PARTS = ["components", "spawn", "turns", "fanout", "hooked", "memory", "observability", "profile", "kernelpath", "list", "audit"];
const USAGE = `usage: npm run bench -- [--quick] [--json <file>] [--verbose] [--only <parts>]

  --quick          short run (finishes within 3 minutes)
  --json <file>    also write the results as one JSON object to <file>
  --verbose        print progress details and the servers' log tails on failures
  --only <parts>   run only these parts, comma-separated: ${PARTS.join(", ")}
  --live           run wrangler dev on src/ directly (it rebuilds and reloads on edits) instead of
                   on a bundle made once at the start

  TMPDIR=/dev/shm npm run bench   keeps Durable Object storage in memory instead of on disk
  X_LOCAL_OBSERVABILITY=true ...  measures with wrangler's local trace store on (default off)

Exits 0 when every selected part ran (the fan-out reports a skip, not a failure, while delegation
is not available), 1 when a part failed or ran out of time; the table and JSON are written either way.`;

function parseArgs(argv) {
  const opts = { quick: false, json: null, verbose: false, only: null, live: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--quick") opts.quick = true;
    else if (a === "--verbose" || a === "-v") opts.verbose = true;
    else if (a === "--live") opts.live = true;
    else if (a === "--json" || a.startsWith("--json=")) {
      const v = a === "--json" ? argv[++i] : a.slice("--json=".length);
      if (!v || v.startsWith("--")) fail("--json needs a file name");
      opts.json = resolve(process.cwd(), v);
    } else if (a === "--only" || a.startsWith("--only=")) {
      const v = a === "--only" ? argv[++i] : a.slice("--only=".length);
      const parts = (v ?? "").split(",").filter(Boolean);
      const bad = parts.filter((p) => !PARTS.includes(p));
      if (!parts.length || bad.length) fail(`--only takes some of ${PARTS.join(", ")}${bad.length ? `; unknown: ${bad.join(", ")}` : ""}`);
      opts.only = new Set(parts);
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else fail(`unknown option ${a}`);
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

const opts = parseArgs(process.argv.slice(2));

/** Repetitions and budgets. Every loop below is bounded by one of these counts and a deadline. */
const PROFILE = opts.quick
  ? {
      name: "quick",
      totalMs: 290_000,
      watchdogGraceMs: 12_000,
      warmupSpawns: 20,
      spawns: 300,
      isolatedSpawns: 60,
      firstModelSamples: 100,
      componentReps: 100,
      listProcesses: 1000,
      listReps: 20,
      auditEntries: 10_000,
      verifyReps: 3,
      turns: 200,
      turnRuns: 1,
      fanoutReps: { 10: 5, 100: 5, 500: 2 },
      floorReps: { 10: 10, 100: 10, 500: 4 },
      sdkReps: { 10: 3, 100: 5, 500: 2 },
      fanout2000Reps: 1,
      hookedReps: 3,
      observabilityReps: 3,
      profileWorkers: 100,
      profileLoops: 4,
      kernelPathWorkers: 100,
      kernelPathReps: 15,
      kernelPathProfiled: 10,
      profileTurnsPerLoop: 50,
      profileRuns: 5,
      alarmChain: 50,
    }
  : {
      name: "full",
      totalMs: 900_000,
      watchdogGraceMs: 60_000,
      warmupSpawns: 50,
      spawns: 1000,
      isolatedSpawns: 300,
      firstModelSamples: 1000,
      componentReps: 500,
      listProcesses: 1000,
      listReps: 100,
      auditEntries: 10_000,
      verifyReps: 10,
      turns: 200,
      turnRuns: 3,
      fanoutReps: { 10: 10, 100: 7, 500: 3 },
      floorReps: { 10: 20, 100: 14, 500: 6 },
      sdkReps: { 10: 10, 100: 7, 500: 3 },
      fanout2000Reps: 3,
      hookedReps: 7,
      observabilityReps: 5,
      profileWorkers: 500,
      profileLoops: 4,
      kernelPathWorkers: 100,
      kernelPathReps: 15,
      kernelPathProfiled: 10,
      profileTurnsPerLoop: 200,
      profileRuns: 7,
      alarmChain: 200,
    };

/** Concurrency when creating many things at once (the machine has 2 cores; workerd runs one thread per server). */
const FILL_CONCURRENCY = 8;
/** The scripted model accepts at most 64 tool calls per step (src/contracts/agent.ts). */
const CALLS_PER_STEP = 64;
const WAIT_SLICE_MS = 60_000; // the wait route's maximum

const say = (line = "") => process.stdout.write(`${line}\n`);
const info = (line) => process.stderr.write(`[bench] ${line}\n`);
const debug = (line) => opts.verbose && info(line);

// ---------------------------------------------------------------- machine

function machineInfo() {
  const cpus = os.cpus();
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(join(root, "node_modules", pkg, "package.json"), "utf8")).version;
    } catch {
      return null;
    }
  };
  let commit = null;
  let dirty = null;
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "wrangler.toml"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() !== "";
  } catch {
    // not a git checkout
  }
  return {
    nproc: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model?.trim() ?? "unknown",
    memTotalMb: Math.round(os.totalmem() / 2 ** 20),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    wrangler: version("wrangler"),
    workerd: version("workerd") ?? version("wrangler/node_modules/workerd"),
    commit,
    srcDirty: dirty,
  };
}

// ---------------------------------------------------------------- results

const results = {};
const extra = {};
const skipped = {};
/** Parts that threw (an error or their deadline): the run then exits 1, after reporting the rest. */
const failures = [];
const targets = {
  spawnP50Ms: { max: 8 },
  spawnP99Ms: { max: 30 },
  fanout100Ms: { max: 1500 },
  fanoutVsFloor: { max: 10, aim: 3 },
  list1000P50Ms: { max: 50 },
  fanoutVsAgentsSdk100: { max: 0.8 },
  fanoutVsAgentsSdk500: { max: 0.8 },
  perWorkerGrowth: { max: 1.2 },
  rssPerWorkerGrowth: { max: 1.2 },
  kernelCpuMsPerWorker: { max: 0.7 },
  kernelCpuMsPerTurn: { max: 0.1 },
};

/** Runs one part; a failure or deadline is recorded and the run goes on to the next part. */
async function part(id, name, keys, fn) {
  if (opts.only && !opts.only.has(id)) {
    for (const k of keys) skipped[k] ??= `${name}: not selected (--only)`;
    return;
  }
  if (total.passed) {
    for (const k of keys) skipped[k] ??= `${name}: the run's deadline had passed`;
    info(`${name}: skipped, the run's deadline had passed`);
    return;
  }
  const t0 = mono();
  info(`${name} ...`);
  try {
    await fn();
    info(`${name} done in ${((mono() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    const reason = err instanceof DeadlineError || err instanceof HttpError ? err.message : (err?.stack ?? String(err));
    info(`${name} FAILED after ${((mono() - t0) / 1000).toFixed(1)} s: ${reason}`);
    failures.push(name);
    const line = reason.split("\n")[0];
    for (const k of keys) if (results[k] === undefined) skipped[k] ??= line.startsWith(name) ? line : `${name}: ${line}`;
    if (opts.verbose) info(`kernel log tail:\n${kernel?.log(30)}`);
  }
}

// ---------------------------------------------------------------- servers

installCleanup();
const runStarted = Date.now();
const total = new Deadline(PROFILE.totalMs, "benchmark");
const machine = machineInfo();
const secret = randomSecret();
const tenants = { kernel: "bench-kernel", list: "bench-list", turns: "bench-turns", probe: "bench-fanout-probe" };

info(`${PROFILE.name} run on ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}; bundling and starting servers`);
const FLOOR_CONFIG = join("bench", "floor", "wrangler.toml");
const SDK_CONFIG = join("bench", "agents-sdk", "wrangler.toml");
const KERNEL_PATH_CONFIG = join("bench", "kernel-path", "wrangler.toml");
let kernelConfig;
let floorConfig;
let sdkConfig;
let kernelPathConfig;
if (opts.live) {
  kernelConfig = undefined;
  floorConfig = FLOOR_CONFIG;
  sdkConfig = SDK_CONFIG;
  kernelPathConfig = KERNEL_PATH_CONFIG;
} else {
  try {
    kernelConfig = freezeWorker({ root, label: "kernel" }) ?? undefined;
    floorConfig = freezeWorker({ root, config: FLOOR_CONFIG, label: "floor" }) ?? FLOOR_CONFIG;
    sdkConfig = freezeWorker({ root, config: SDK_CONFIG, label: "agents-sdk" }) ?? SDK_CONFIG;
    kernelPathConfig = !opts.only || opts.only.has("kernelpath") ? (freezeWorker({ root, config: KERNEL_PATH_CONFIG, label: "kernel-path" }) ?? KERNEL_PATH_CONFIG) : KERNEL_PATH_CONFIG;
  } catch (err) {
    info(`bundling the Worker failed (does src/ build? try npm run typecheck):\n${String(err?.stderr ?? err?.message ?? err).slice(-2000)}`);
    cleanUpAll();
    process.exit(1);
  }
}
machine.frozenBundle = kernelConfig !== undefined;
// ALLOW_PRIVATE_HOSTS: the hooked fan-out's webhook is a server of this process on 127.0.0.1.
const KERNEL_VARS = { AUTH_SECRET: secret, MAX_LIVE_PROCESSES: "5000", ALLOW_PRIVATE_HOSTS: "127.0.0.1" };
const kernel = new DevServer({ root, label: "kernel", config: kernelConfig, vars: KERNEL_VARS });
const floor = new DevServer({ root, label: "floor", config: floorConfig });
const sdk = new DevServer({ root, label: "agents-sdk", config: sdkConfig });
await Promise.all([kernel.start(), floor.start(), sdk.start()]);
let api;
let floorApi;
let sdkApi;
try {
  const [kBoot, fBoot, sBoot] = await Promise.all([kernel.ready("/healthz"), floor.ready("/healthz"), sdk.ready("/healthz")]);
  extra.bootMs = { kernel: kBoot, floor: fBoot, agentsSdk: sBoot };
  info(`servers up: kernel ${kernel.url} (${kBoot} ms), floor ${floor.url} (${fBoot} ms), agents-sdk ${sdk.url} (${sBoot} ms)`);
  api = createClient(kernel.url, { maxSockets: 32 });
  floorApi = createClient(floor.url, { maxSockets: 32 });
  sdkApi = createClient(sdk.url, { maxSockets: 32 });
} catch (err) {
  info(err.message);
  cleanUpAll();
  process.exit(1);
}
const wholeRunMemory = sampleMemory(kernel, 100);
// How busy the machine was with other work during the run (2 cores are easily shared).
const groups = () => [kernel.child.pid, floor.child.pid, sdk.child.pid, ...extraServers.map((s) => s.child.pid)];
/** Servers started by a part (the observability row's); stopped at the end like the others. */
const extraServers = [];
const cpuAtStart = { machine: machineBusySeconds(), ours: cpuSecondsOfGroups(groups()), self: process.cpuUsage(), at: mono(), load: os.loadavg() };
// A hung request cannot hold the run past its budget: the watchdog reports what there is and stops.
let finishing = false;
const watchdog = setTimeout(() => {
  info("watchdog: the run overran its budget; reporting what was measured");
  void finish("stopped by the watchdog: the run overran its budget");
}, Math.max(5_000, total.left + PROFILE.watchdogGraceMs));
watchdog.unref();

const as = (tenant, role = "admin") => api.as(mintToken({ tenant, role, ttlSeconds: 24 * 3600, secret }));

async function register(client, name, spec) {
  await client.json(200, "PUT", `/v1/agents/${name}`, { model: "scripted", ...spec });
}

/** Holds on the wait route (in ≤ 60 s slices) until the process exits or the deadline passes; reaps it. */
async function waitExit(client, pid, deadline) {
  for (let i = 0; i < 1000; i++) {
    deadline.check();
    const slice = Math.max(1, Math.min(WAIT_SLICE_MS, deadline.left));
    const res = await client.json(200, "GET", `/v1/procs/${pid}/wait?timeoutMs=${slice}`, undefined, { timeoutMs: slice + 10_000 });
    if (res.json.exited) return res.json;
  }
  throw new DeadlineError(`process ${pid} did not exit`);
}

async function eventsOf(client, pid) {
  const res = await client.json(200, "GET", `/v1/procs/${pid}/events`, undefined, { timeoutMs: 15_000 });
  return parseSse(res.text);
}

const atOf = (e) => Date.parse(e.data?.at ?? "");

/**
 * What the disk under the servers' storage charges, timed from here: creating a file (a new object
 * creates its database, journal, WAL and shared-memory files) and an fsync of a 4 KiB write (each
 * commit ends with one). On some virtual machines creating a file costs hundreds of microseconds.
 */
function diskBaseline(reps) {
  const dir = mkdtempSync(join(os.tmpdir(), "agent-kernel-bench-disk-"));
  try {
    const create = [];
    const fsync = [];
    const page = Buffer.alloc(4096, 1);
    for (let i = 0; i < reps; i++) {
      const t0 = mono();
      const fd = openSync(join(dir, `f${i}`), "wx");
      create.push((mono() - t0) * 1000);
      writeSync(fd, page, 0, page.length, 0);
      const t1 = mono();
      fsyncSync(fd);
      fsync.push((mono() - t1) * 1000);
      closeSync(fd);
    }
    return { diskCreateFileP50Us: median(create), diskFsyncP50Us: median(fsync) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function sampleLatency(reps, fn, deadline) {
  const out = [];
  for (let i = 0; i < reps && !deadline.passed; i++) out.push(await fn(i));
  return out;
}

// ---------------------------------------------------------------- 0. components

await part("components", "components (attribution baselines)", [], async () => {
  const d = total.sub(25_000, "components");
  const n = PROFILE.componentReps;
  const k = as(tenants.kernel);
  const errors = {};
  /** One baseline: its p50 lands in extra[key]; a failure is noted and the others still run. */
  const measure = async (key, reps, fn) => {
    try {
      extra[key] = median(await sampleLatency(reps, fn, d));
    } catch (err) {
      errors[key] = err?.message ?? String(err);
    }
  };
  const get = (client, path) => async () => (await client.expectStatus(200, "GET", path)).ms;
  await measure("healthzP50Ms", n, get(api, "/healthz"));
  await measure("floorHealthzP50Ms", n, get(floorApi, "/healthz"));
  await measure("floorRpcP50Ms", n, get(floorApi, "/rpc"));
  await measure("floorWriteP50Ms", n, get(floorApi, "/write"));
  await measure("floorCreateP50Ms", n, get(floorApi, "/create"));
  try {
    Object.assign(extra, diskBaseline(n));
  } catch (err) {
    errors.disk = err?.message ?? String(err);
  }
  await register(k, "probe-agent", { script: [{ text: "x" }] });
  await measure("getAgentP50Ms", n, async () => (await k.json(200, "GET", "/v1/agents/probe-agent")).ms);
  await measure("putAgentP50Ms", Math.min(n, 100), async () => (await k.json(200, "PUT", "/v1/agents/probe-agent", { model: "scripted", script: [{ text: "x" }] })).ms);
  try {
    const { id } = (await floorApi.expectStatus(200, "GET", `/alarms?n=${PROFILE.alarmChain}`)).json;
    const chainDeadline = d.sub(10_000, "alarm chain");
    for (let i = 0; i < 1000; i++) {
      chainDeadline.check();
      const st = (await floorApi.expectStatus(200, "GET", `/alarms/status?id=${id}`)).json;
      if (st.done) {
        extra.floorAlarmStepMs = st.totalMs / PROFILE.alarmChain;
        break;
      }
      await sleep(20);
    }
  } catch (err) {
    errors.floorAlarmStepMs = err?.message ?? String(err);
  }
  // wrangler dev puts a proxy workerd in front of the Worker's own workerd; what that hop costs is
  // measured on GET /healthz against the Worker's own port (found from its sockets), best effort.
  const direct = await directPortOf(kernel);
  if (direct) {
    const directApi = createClient(`http://127.0.0.1:${direct}`, { maxSockets: 4 });
    const viaProxy = [];
    const straight = [];
    try {
      for (let i = 0; i < n && !d.passed; i++) {
        viaProxy.push((await api.expectStatus(200, "GET", "/healthz")).ms);
        straight.push((await directApi.expectStatus(200, "GET", "/healthz")).ms);
      }
      if (!straight.length) throw new DeadlineError("no time left");
      extra.healthzDirectP50Ms = median(straight);
      extra.proxyHopMs = median(viaProxy) - median(straight);
    } catch (err) {
      errors.proxyHopMs = err?.message ?? String(err);
    } finally {
      directApi.close();
    }
  } else errors.proxyHopMs = "the Worker's own port was not found";
  if (Object.keys(errors).length) {
    extra.componentErrors = errors;
    info(`some baselines failed: ${JSON.stringify(errors)}`);
  }
});

// ---------------------------------------------------------------- 1. spawn latency

/** Every process the spawn part made (kept for debugging; the list part uses a tenant of its own). */
const kernelPids = [];
await part("spawn", "spawn latency", ["spawnP50Ms", "spawnP99Ms", "firstModelCallP50Ms"], async () => {
  const d = total.sub(60_000, "spawn latency");
  const k = as(tenants.kernel);
  await register(k, "quick", { script: [{ text: "done" }] });
  for (let i = 0; i < PROFILE.warmupSpawns; i++) {
    d.check();
    kernelPids.push((await k.json(201, "POST", "/v1/procs", { agent: "quick", input: `warm ${i}` })).json.pid);
  }
  const samples = [];
  for (let i = 0; i < PROFILE.spawns; i++) {
    d.check();
    const wallStart = Date.now();
    const res = await k.json(201, "POST", "/v1/procs", { agent: "quick", input: `spawn ${i}` });
    samples.push({ pid: res.json.pid, ms: res.ms, wallStart });
    kernelPids.push(res.json.pid);
  }
  // The same spawn with the machine otherwise idle: a pause after each lets the previous process
  // finish its step and exit first, so the spawn does not share the Worker's thread with it.
  const isolated = [];
  for (let i = 0; i < PROFILE.isolatedSpawns; i++) {
    d.check();
    await sleep(40);
    const res = await k.json(201, "POST", "/v1/procs", { agent: "quick", input: `isolated ${i}` });
    isolated.push(res.ms);
    kernelPids.push(res.json.pid);
  }
  extra.spawnIsolatedP50Ms = median(isolated);
  extra.spawnIsolatedP99Ms = percentile(isolated, 99);
  const ms = samples.map((s) => s.ms);
  results.spawnP50Ms = median(ms);
  results.spawnP99Ms = percentile(ms, 99);
  extra.spawnSamples = ms.length;
  extra.spawnMaxMs = Math.max(...ms);
  extra.spawnMeanMs = mean(ms);

  // A read of one row through the same path (auth, one kernel RPC, one SELECT) for attribution.
  const getProc = await sampleLatency(PROFILE.componentReps, async (i) => (await k.json(200, "GET", `/v1/procs/${samples[i % samples.length].pid}`)).ms, d);
  extra.getProcessP50Ms = median(getProc);

  // Time to first model call: each process's first persisted `model` event, read after it exited
  // (over every k-th spawn when the profile samples fewer than all).
  const every = Math.max(1, Math.ceil(samples.length / PROFILE.firstModelSamples));
  const picked = samples.filter((_, i) => i % every === 0);
  const firsts = await pool(
    picked.length,
    4,
    async (i) => {
      const s = picked[i];
      const status = await waitExit(k, s.pid, d);
      if (status.code !== 0) throw new Error(`process ${s.pid} exited ${status.code}: ${status.reason}`);
      const events = await eventsOf(k, s.pid);
      const model = events.find((e) => e.event === "model");
      const exit = events.find((e) => e.event === "exit");
      return { first: model ? atOf(model) - s.wallStart : null, exit: exit ? atOf(exit) - s.wallStart : null };
    },
    d,
  );
  const first = firsts.map((f) => f.first).filter((v) => v !== null);
  results.firstModelCallP50Ms = median(first);
  extra.firstModelCallSamples = first.length;
  extra.firstModelCallP99Ms = percentile(first, 99);
  extra.spawnToExitP50Ms = median(firsts.map((f) => f.exit).filter((v) => v !== null));
});

// ---------------------------------------------------------------- 2. step throughput

await part("turns", "step throughput", ["turnsPerSecond"], async () => {
  const d = total.sub(45_000, "step throughput");
  const t = as(tenants.turns);
  const turns = PROFILE.turns;
  const step = { toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] };
  await register(t, "looper", { maxTurns: turns + 10, script: [...Array.from({ length: turns }, () => step), { text: "done" }] });
  const runs = [];
  for (let r = 0; r < PROFILE.turnRuns && !d.passed; r++) {
    const t0 = mono();
    const wallStart = Date.now();
    const { json: p } = await t.json(201, "POST", "/v1/procs", { agent: "looper", input: "loop" });
    const status = await waitExit(t, p.pid, d);
    const wallMs = mono() - t0;
    if (status.code !== 0) throw new Error(`looper exited ${status.code}: ${status.reason}`);
    const events = await eventsOf(t, p.pid);
    const proc = (await t.json(200, "GET", `/v1/procs/${p.pid}`)).json;
    if (proc.turnCount !== turns) throw new Error(`looper ran ${proc.turnCount} turns, expected ${turns}`);
    runs.push({ wallMs, wallStart, events });
  }
  const best = runs.map((r) => r.wallMs);
  results.turnsPerSecond = turns / (median(best) / 1000);
  extra.turnLoopMs = median(best);
  // Where a turn's time goes, from the process's own events (server clock): per turn k,
  //   model(k) → tool_call: from the persisted model response to the tools step starting,
  //   tool_call → tool_result: dispatch (kernel pre-dispatch RPC + workspace RPC),
  //   tool_result → model(k+1): from the persisted result to the next model response.
  const ev = runs.at(-1).events;
  const models = ev.filter((e) => e.event === "model").map(atOf);
  const calls = ev.filter((e) => e.event === "tool_call").map(atOf);
  const toolResults = ev.filter((e) => e.event === "tool_result").map(atOf);
  const gaps = { modelToToolsMs: [], dispatchMs: [], resultToNextModelMs: [], turnMs: [] };
  for (let k = 0; k < turns && k + 1 < models.length; k++) {
    gaps.modelToToolsMs.push(calls[k] - models[k]);
    gaps.dispatchMs.push(toolResults[k] - calls[k]);
    gaps.resultToNextModelMs.push(models[k + 1] - toolResults[k]);
    gaps.turnMs.push(models[k + 1] - models[k]);
  }
  extra.turnBreakdownP50Ms = Object.fromEntries(Object.entries(gaps).map(([k, v]) => [k, median(v)]));
  extra.turnMsFirst20 = mean(gaps.turnMs.slice(0, 20));
  extra.turnMsLast20 = mean(gaps.turnMs.slice(-20));
  extra.firstModelCallInLoopMs = models.length ? models[0] - runs.at(-1).wallStart : null;
});

// ---------------------------------------------------------------- 3. fan-out

/**
 * Whether the kernel can delegate yet: a copilot granted `delegate`, one delegation over HTTP, one
 * collect. Returns null when it works, else the reason.
 */
async function delegationProblem(d) {
  const c = as(tenants.probe);
  await register(c, "bench-worker", { script: [{ text: "done: {{input}}" }] });
  await register(c, "bench-probe", { mode: "interactive", tools: ["delegate", "collect"], limits: { maxChildren: 4 }, script: [{ text: "ready" }] });
  const { json: p } = await c.json(201, "POST", "/v1/procs", { agent: "bench-probe", input: "probe" });
  try {
    const missing = ["delegate", "collect"].filter((t) => !p.tools.includes(t));
    if (missing.length) return `the kernel grants no ${missing.join("/")} tool (effective tools: ${p.tools.join(", ") || "none"})`;
    const del = await c.request("POST", `/v1/procs/${p.pid}/delegate`, { agent: "bench-worker", message: "probe", deliveryPolicy: "on_demand" });
    if (del.status >= 300 || !del.json?.taskId) {
      return `POST /v1/procs/:pid/delegate → ${del.status}${del.json?.error ? ` ${del.json.error.code}: ${del.json.error.message}` : ""}`;
    }
    const col = await c.request("POST", `/v1/procs/${p.pid}/collect`, { mode: "all", timeoutMs: Math.min(20_000, d.left) }, { timeoutMs: 30_000 });
    const done = col.json?.completed;
    if (col.status !== 200 || !Array.isArray(done) || done.length !== 1) {
      return `POST /v1/procs/:pid/collect → ${col.status} ${col.text.slice(0, 160)}`;
    }
    return null;
  } finally {
    await c.request("POST", `/v1/procs/${p.pid}/kill`, {}).catch(() => {});
  }
}

/** The copilot's script for N workers: delegate in steps of ≤ 64 calls, one collect {mode: all}, a final text. */
function copilotScript(n) {
  const steps = [];
  for (let i = 0; i < n; i += CALLS_PER_STEP) {
    steps.push({
      toolCalls: Array.from({ length: Math.min(CALLS_PER_STEP, n - i) }, (_, j) => ({
        name: "delegate",
        arguments: { agent: "bench-worker", message: `task ${i + j}`, deliveryPolicy: "on_demand" },
      })),
    });
  }
  steps.push({ toolCalls: [{ name: "collect", arguments: { mode: "all", timeoutMs: 120_000 } }] });
  steps.push({ text: "{{lastToolResult}}" });
  return steps;
}

/** Every task of a copilot, page after page (a page holds at most 1,000). */
async function tasksOf(c, pid) {
  const tasks = [];
  let cursor = null;
  do {
    const res = await c.json(200, "GET", `/v1/tasks?copilotPid=${pid}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, undefined, { timeoutMs: 30_000 });
    tasks.push(...res.json.tasks);
    cursor = res.json.nextCursor;
  } while (cursor);
  return tasks;
}

/** Counts completed tasks from the copilot's final answer (the collect result), else from the tasks route. */
async function completedTasks(c, pid, result) {
  try {
    const parsed = JSON.parse(result);
    if (Array.isArray(parsed?.completed)) return { completed: parsed.completed.length, pending: parsed.pending?.length ?? 0, source: "collect result" };
  } catch {
    // not JSON: ask the tasks route
  }
  const tasks = await tasksOf(c, pid);
  return { completed: tasks.filter((t) => t.status?.state === "completed").length, pending: tasks.filter((t) => !["completed", "failed", "canceled", "rejected"].includes(t.status?.state)).length, source: "GET /v1/tasks" };
}

/**
 * One fan-out of N on a fresh tenant: its agents registered, then the copilot spawned and waited for
 * (`around.start` / `around.stop` bracket exactly that, for a profile), then its tasks and events read
 * to check the result and time the phases.
 */
async function fanoutOnce(n, rep, d, memory, { prefix = "bench-fan", client = api, server = kernel, setup = null, around = null } = {}) {
  const tenant = `${prefix}${n}-r${rep}`;
  const c = client.as(mintToken({ tenant, role: "admin", ttlSeconds: 24 * 3600, secret }));
  if (setup) await setup(c);
  await register(c, "bench-worker", { script: [{ text: "done: {{input}}" }] });
  const script = copilotScript(n);
  await register(c, "bench-copilot", { tools: ["delegate", "collect"], maxTurns: script.length + 5, limits: { maxChildren: n, maxDepth: 2 }, script });
  const sampler = memory ? sampleMemory(server, 25) : null;
  const wallStart = Date.now();
  const t0 = mono();
  let status;
  let pid;
  if (around) await around.start();
  try {
    pid = (await c.json(201, "POST", "/v1/procs", { agent: "bench-copilot", input: `fan out ${n}` })).json.pid;
    status = await waitExit(c, pid, d);
  } finally {
    if (around) await around.stop();
    const mem = sampler?.stop();
    if (mem) {
      memory.peakWorkerRssMb = Math.max(memory.peakWorkerRssMb ?? 0, mem.peakWorkerRssMb);
      memory.peakAllWorkerdRssMb = Math.max(memory.peakAllWorkerdRssMb ?? 0, mem.peakAllWorkerdRssMb);
      memory.addedMb = mem.peakWorkerRssMb - mem.startWorkerRssMb;
    }
  }
  const ms = mono() - t0;
  if (status.code !== 0) throw new Error(`fan-out ${n}: the copilot exited ${status.code}: ${status.reason}`);
  const tally = await completedTasks(c, pid, status.result ?? "");
  if (tally.completed !== n) throw new Error(`fan-out ${n}: ${tally.completed} of ${n} tasks completed (${tally.source}), ${tally.pending} pending`);
  // Phases from the copilot's events (server clock, relative to the spawn request).
  const ev = await eventsOf(c, pid);
  const rel = (e) => (e ? atOf(e) - wallStart : null);
  const delegates = ev.filter((e) => e.event === "tool_result" && e.data?.name === "delegate");
  // The workers' own exits, from their tasks' terminal status timestamps.
  const ends = (await tasksOf(c, pid)).map((t) => Date.parse(t.status?.timestamp ?? "")).filter(Number.isFinite);
  const phases = {
    firstModelMs: rel(ev.find((e) => e.event === "model")),
    delegatedMs: rel(delegates.at(-1)),
    lastWorkerExitMs: ends.length ? Math.max(...ends) - wallStart : null,
    collectedMs: rel(ev.find((e) => e.event === "tool_result" && e.data?.name === "collect")),
    exitMs: rel(ev.find((e) => e.event === "exit")),
  };
  return { ms, phases };
}

/** One floor fan-out: client wall time of GET /fanout?n=N on the floor worker. */
async function floorOnce(n, store = false) {
  return (await floorApi.expectStatus(200, "GET", `/fanout?n=${n}${store ? "&store=1" : ""}`, undefined, { timeoutMs: 60_000 })).ms;
}

/** One Agents SDK fan-out (bench/agents-sdk): client wall time of GET /fanout?n=N. */
async function sdkOnce(n, client = sdkApi) {
  return (await client.expectStatus(200, "GET", `/fanout?n=${n}`, undefined, { timeoutMs: 120_000 })).ms;
}

const FANOUT_KEYS = ["fanout10Ms", "fanout100Ms", "fanout500Ms", "fanoutVsFloor", "peakRssMb", "fanout2000Ms", "perWorkerGrowth", "fanoutVsAgentsSdk100", "fanoutVsAgentsSdk500"];
const SDK_KEYS = ["agentsSdkFanout100Ms", "agentsSdkFanout500Ms"];
await part("fanout", "fan-out, ours, the Agents SDK's and the floor, interleaved", [...FANOUT_KEYS, ...SDK_KEYS, "floorFanout100Ms"], async () => {
  const d = total.sub(200_000, "fan-out");
  for (const n of [10, 100]) await floorOnce(n); // warm-up
  for (const n of [10, 100]) await sdkOnce(n);
  const problem = await delegationProblem(d);
  if (problem) {
    const reason = `fan-out: delegation not available yet (${problem})`;
    info(reason);
    for (const k of FANOUT_KEYS) skipped[k] = reason;
    extra.fanoutSkipped = reason;
  }
  let broken = problem; // once one of ours fails, the rest of the part measures only the floor
  const memory = {};
  const floorMs = {};
  const sdkMs = {};
  // Ours, the Agents SDK's and the floor alternate, so all see the same machine (other work on it comes and goes).
  for (const [nText, reps] of Object.entries(PROFILE.fanoutReps)) {
    const n = Number(nText);
    const floorReps = PROFILE.floorReps[n];
    const sdkReps = PROFILE.sdkReps[n];
    const perRound = Math.max(1, Math.ceil(floorReps / reps));
    const runs = [];
    floorMs[n] = [];
    sdkMs[n] = [];
    for (let r = 0; r < Math.max(reps, floorReps) && !d.passed; r++) {
      for (let f = 0; f < perRound && floorMs[n].length < floorReps; f++) floorMs[n].push(await floorOnce(n));
      if (sdkMs[n].length < sdkReps) sdkMs[n].push(await sdkOnce(n));
      if (!broken && r < reps) {
        try {
          runs.push(await fanoutOnce(n, r, d, n === 500 ? memory : null));
        } catch (err) {
          if (err instanceof DeadlineError) throw err;
          broken = err instanceof HttpError ? err.message : String(err?.message ?? err);
          failures.push(`fan-out ${n}`);
          info(`fan-out ${n} failed: ${broken}`);
          skipped[`fanout${n}Ms`] = `fan-out ${n} failed: ${broken}`;
        }
      }
      if (broken && floorMs[n].length >= floorReps) break;
    }
    if (n === 100) results.floorFanout100Ms = median(floorMs[n]);
    else extra[`floorFanout${n}Ms`] = median(floorMs[n]);
    if (n === 10) extra.agentsSdkFanout10Ms = median(sdkMs[n]);
    else results[`agentsSdkFanout${n}Ms`] = median(sdkMs[n]);
    extra[`agentsSdkFanout${n}Samples`] = sdkMs[n].map((v) => round(v, 0));
    if (!runs.length) {
      if (!broken) throw new DeadlineError(`fan-out ${n}: no time left`);
      skipped[`fanout${n}Ms`] ??= broken === problem ? skipped.fanout10Ms : `not run: ${broken}`;
      continue;
    }
    const ms = runs.map((x) => x.ms);
    results[`fanout${n}Ms`] = median(ms);
    extra[`fanout${n}Phases`] = runs[ms.indexOf(percentile(ms, 50))].phases;
    extra[`fanout${n}Samples`] = ms.map((v) => round(v, 0));
    debug(`fan-out ${n}: ${ms.map((v) => v.toFixed(0)).join(", ")} ms; floor ${floorMs[n].map((v) => v.toFixed(0)).join(", ")} ms; agents sdk ${sdkMs[n].map((v) => v.toFixed(0)).join(", ")} ms`);
  }
  // The big one: linear to 2,000 workers? (ours only: each rep takes tens of seconds)
  if (!broken) {
    const runs2000 = [];
    const memory2000 = {};
    for (let r = 0; r < PROFILE.fanout2000Reps && !d.passed; r++) runs2000.push(await fanoutOnce(2000, r, d, memory2000));
    extra.peakRss2000Mb = memory2000.peakWorkerRssMb ?? null;
    if (runs2000.length) {
      const ms = runs2000.map((x) => x.ms);
      results.fanout2000Ms = median(ms);
      extra.fanout2000Phases = runs2000[ms.indexOf(percentile(ms, 50))].phases;
      extra.fanout2000Samples = ms.map((v) => round(v, 0));
    }
  }
  for (const n of [100, 500]) {
    if (results[`fanout${n}Ms`] && results[`agentsSdkFanout${n}Ms`]) results[`fanoutVsAgentsSdk${n}`] = results[`fanout${n}Ms`] / results[`agentsSdkFanout${n}Ms`];
  }
  if (results.fanout2000Ms && results.fanout500Ms && results.fanout100Ms && results.fanout10Ms) {
    extra.marginalMsPerWorker10to100 = (results.fanout100Ms - results.fanout10Ms) / 90;
    extra.marginalMsPerWorker500to2000 = (results.fanout2000Ms - results.fanout500Ms) / 1500;
    results.perWorkerGrowth = extra.marginalMsPerWorker500to2000 / extra.marginalMsPerWorker10to100;
  }
  const store = [];
  for (let i = 0; i < PROFILE.floorReps[100] && !d.passed; i++) store.push(await floorOnce(100, true));
  extra.floorFanout100WithWriteMs = median(store);
  if (extra.floorFanout500Ms && extra.floorFanout10Ms) extra.floorPerWorkerMs = (extra.floorFanout500Ms - extra.floorFanout10Ms) / 490;
  if (results.fanout100Ms && results.floorFanout100Ms) results.fanoutVsFloor = results.fanout100Ms / results.floorFanout100Ms;
  if (memory.peakWorkerRssMb && results.fanout500Ms) {
    results.peakRssMb = memory.peakWorkerRssMb;
    extra.peakRssAllWorkerdMb = memory.peakAllWorkerdRssMb;
  }
  if (results.fanout500Ms && results.fanout10Ms) extra.perWorkerOverheadMs = (results.fanout500Ms - results.fanout10Ms) / 490;
  for (const k of FANOUT_KEYS) if (results[k] === undefined) skipped[k] ??= broken ?? "not measured";
});

// ---------------------------------------------------------------- 3b. fan-out with hooks

/**
 * The same fan-out of 100 with a tenant hook chain as a user would run it: a policy (pre_spawn and
 * pre_dispatch rules) and a webhook on pre_spawn and post_terminate, served by this process on
 * 127.0.0.1 (it answers allow at once). Alternates with the Agents SDK's fan-out of 100.
 */
await part("hooked", "fan-out 100 with a policy hook and a local webhook", [], async () => {
  const d = total.sub(40_000, "hooked fan-out");
  let calls = 0;
  const hookServer = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      calls++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"allow":true}');
    });
  });
  await new Promise((r) => hookServer.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${hookServer.address().port}/hook`;
  const setup = async (c) => {
    await c.json(200, "PUT", "/v1/hooks/bench-policy", {
      kind: "policy",
      rules: [
        { event: "pre_spawn", match: { agent: "bench-*" }, action: "allow" },
        { event: "pre_dispatch", match: { tool: "delete_file" }, action: "deny", reason: "no deletes" },
      ],
    });
    await c.json(200, "PUT", "/v1/hooks/bench-webhook", { kind: "webhook", url: hookUrl, events: ["pre_spawn", "post_terminate"], secret: "bench-secret", failMode: "closed" });
  };
  try {
    const ms = [];
    const sdkMs = [];
    for (let r = 0; r < PROFILE.hookedReps && !d.passed; r++) {
      sdkMs.push(await sdkOnce(100));
      ms.push((await fanoutOnce(100, r, d, null, { prefix: "bench-hooked", setup })).ms);
    }
    extra.fanoutHooked100Ms = median(ms);
    extra.fanoutHooked100Samples = ms.map((v) => round(v, 0));
    extra.agentsSdkFanout100BesideHookedMs = median(sdkMs);
    extra.fanoutHookedVsAgentsSdk100 = median(ms) / median(sdkMs);
    extra.webhookCalls = calls;
  } finally {
    hookServer.close();
  }
});

// ---------------------------------------------------------------- 3c. memory per worker, on fresh servers

/**
 * Peak RSS flat in N per worker? A fan-out of 500 and one of 2,000, each on a fresh kernel server (one
 * fan-out of 10 first, to load the code), so neither finds pages freed by earlier runs to reuse: per worker,
 * (the Worker workerd's peak VmRSS during the fan-out − its VmRSS as it began) / N.
 */
await part("memory", "peak RSS per worker at 500 and 2,000 workers, fresh servers", ["rssPerWorkerGrowth"], async () => {
  const d = total.sub(90_000, "memory");
  const perWorker = {};
  for (const n of [500, 2000]) {
    const server = new DevServer({ root, label: `kernel-mem-${n}`, config: kernelConfig, vars: KERNEL_VARS });
    extraServers.push(server);
    await server.start();
    await server.ready("/healthz");
    const client = createClient(server.url, { maxSockets: 32 });
    try {
      await fanoutOnce(10, 0, d, null, { prefix: "bench-mem-warm", client });
      const memory = {};
      await fanoutOnce(n, 0, d, memory, { prefix: "bench-mem", client, server });
      perWorker[n] = memory.addedMb / n;
      extra[`rssMbPerWorker${n}`] = round(perWorker[n], 3);
      extra[`rssMbAdded${n}`] = round(memory.addedMb, 1);
    } finally {
      client.close();
      await server.stop();
    }
  }
  results.rssPerWorkerGrowth = perWorker[2000] / perWorker[500];
});

// ---------------------------------------------------------------- 3c. one row with local observability on

await part("observability", "fan-out 100 with wrangler's local observability on", [], async () => {
  const d = total.sub(40_000, "observability");
  const kOn = new DevServer({ root, label: "kernel-obs", config: kernelConfig, vars: KERNEL_VARS, observability: true });
  const sOn = new DevServer({ root, label: "agents-sdk-obs", config: sdkConfig, observability: true });
  extraServers.push(kOn, sOn);
  await Promise.all([kOn.start(), sOn.start()]);
  await Promise.all([kOn.ready("/healthz"), sOn.ready("/healthz")]);
  const kApi = createClient(kOn.url, { maxSockets: 32 });
  const sApi = createClient(sOn.url, { maxSockets: 32 });
  try {
    await sdkOnce(10, sApi);
    const ms = [];
    const sdkMs = [];
    for (let r = 0; r < PROFILE.observabilityReps && !d.passed; r++) {
      sdkMs.push(await sdkOnce(100, sApi));
      ms.push((await fanoutOnce(100, r, d, null, { prefix: "bench-obs", client: kApi })).ms);
    }
    extra.observabilityOn = { fanout100Ms: median(ms), agentsSdkFanout100Ms: median(sdkMs), fanoutVsAgentsSdk100: median(ms) / median(sdkMs) };
  } finally {
    kApi.close();
    sApi.close();
    await Promise.all([kOn.stop(), sOn.stop()]);
  }
});

// ---------------------------------------------------------------- 3d. the kernel's CPU, from a profile

/**
 * The kernel object's CPU per delegated worker and per turn: the V8 profiler of the Worker's isolate
 * (bench/lib/profiler.mjs) during a fan-out, then during concurrent tool loops, each three times (the median run); the time of samples
 * whose stack runs the kernel object's code (src/objects/kernel.ts, src/kernel/*), divided by the
 * workers or the turns. The profiler slows the isolate a little; the ratio is what matters.
 */
await part("profile", "kernel CPU per worker and per turn (CPU profile)", ["kernelCpuMsPerWorker", "kernelCpuMsPerTurn"], async () => {
  const d = total.sub(60_000, "profile");
  const lookup = kernelConfig ? bundleLookup(kernelConfig) : null;
  if (!lookup) throw new Error("no source map of the bundle (--live runs cannot attribute the profile)");
  const profiler = await attachProfiler(kernel);
  const top = (a) => a.byFile.filter(([f]) => f !== "(idle)").slice(0, 10).map(([f, ms]) => [f, round(ms, 1)]);
  try {
    // Each is profiled `profileRuns` times and the median run is kept (one run moves ±20% on a shared machine; 5 runs in --quick, 7 in the full run).
    const medianRun = (runs, per) => runs.sort((a, b) => per(a) - per(b))[Math.floor(runs.length / 2)];
    const n = PROFILE.profileWorkers;
    // Earlier parts' objects finish their last alarms first: the profile covers the whole isolate.
    await sleep(2000);
    const fans = [];
    for (let run = 0; run < PROFILE.profileRuns; run++) {
      // The fan-out only, from the copilot's spawn to its exit: not the agents' registration before, nor the reads that check it after.
      let profile;
      const around = { start: () => profiler.start(), stop: async () => void (profile = await profiler.stop()) };
      await fanoutOnce(n, 0, d, null, { prefix: `bench-prof-fan-${run}`, around });
      fans.push(attribute(profile, lookup));
      await sleep(500);
    }
    const fan = medianRun(fans, (a) => a.kernelMs);
    results.kernelCpuMsPerWorker = fan.kernelMs / n;
    extra.profileFanout = { workers: n, runs: fans.map((a) => round(a.kernelMs / n, 3)), kernelMs: fan.kernelMs, rpcOutMs: fan.rpcOutMs, busyMs: fan.busyMs, profiledMs: fan.profiledMs, topFiles: top(fan) };

    const t = as("bench-prof-turns");
    const loops = PROFILE.profileLoops;
    const turns = PROFILE.profileTurnsPerLoop;
    const step = { toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] };
    await register(t, "looper", { maxTurns: turns + 10, script: [...Array.from({ length: turns }, () => step), { text: "done" }] });
    await sleep(1000);
    const loopRuns = [];
    for (let run = 0; run < PROFILE.profileRuns; run++) {
      await profiler.start();
      await Promise.all(
        Array.from({ length: loops }, async (_, i) => {
          const { json: p } = await t.json(201, "POST", "/v1/procs", { agent: "looper", input: `loop ${i}` });
          const st = await waitExit(t, p.pid, d);
          if (st.code !== 0) throw new Error(`looper exited ${st.code}: ${st.reason}`);
        }),
      );
      loopRuns.push(attribute(await profiler.stop(), lookup));
      await sleep(500);
    }
    const loop = medianRun(loopRuns, (a) => a.kernelMs);
    results.kernelCpuMsPerTurn = loop.kernelMs / (loops * turns);
    extra.profileTurns = { loops, turnsPerLoop: turns, runs: loopRuns.map((a) => round(a.kernelMs / (loops * turns), 4)), kernelMs: loop.kernelMs, rpcOutMs: loop.rpcOutMs, busyMs: loop.busyMs, profiledMs: loop.profiledMs, topFiles: top(loop) };
  } finally {
    profiler.close();
  }
});

// ---------------------------------------------------------------- 3e. the kernel's own path, alone

/**
 * The kernel's code per delegated worker, without the profiler's noise: bench/kernel-path runs the
 * kernel's services over one object's storage, with stand-ins for the process objects, for fan-outs of
 * `kernelPathWorkers` inside one RPC call each (delegations in one batch, their starts, then exits in
 * batches of 8, each followed by the drain and the alarm's). The call's wall time less an empty call's is the kernel's time
 * for the fan-out, its commits included; the median of `kernelPathReps` calls, after warm-up calls.
 */
await part("kernelpath", "the kernel's own path per worker, alone", [], async () => {
  const d = total.sub(60_000, "kernelpath");
  const server = new DevServer({ root, label: "kernel-path", config: kernelPathConfig });
  extraServers.push(server);
  await server.start();
  await server.ready("/healthz");
  const c = createClient(server.url, { maxSockets: 4 });
  try {
    const n = PROFILE.kernelPathWorkers;
    await c.expectStatus(200, "GET", "/setup");
    for (let i = 0; i < 3; i++) await c.expectStatus(200, "GET", `/fanout?n=${n}`);
    const empty = [];
    const fan = [];
    let statements = 0;
    for (let r = 0; r < PROFILE.kernelPathReps && !d.passed; r++) {
      empty.push((await c.expectStatus(200, "GET", "/empty")).ms);
      const res = await c.expectStatus(200, "GET", `/fanout?n=${n}`, undefined, { timeoutMs: 60_000 });
      fan.push(res.ms);
      statements = res.json.statements;
    }
    const perWorker = ((median(fan) - median(empty)) * 1000) / n;
    extra.kernelPath = { workers: n, reps: fan.length, usPerWorker: round(perWorker, 1), statementsPerWorker: statements / n, fanoutMs: fan.map((ms) => round(ms, 2)).sort((a, b) => a - b), emptyCallP50Ms: round(median(empty), 2) };
    // Top-level spawns, one after the other, each with its own transactions (no batch to share them).
    await c.expectStatus(200, "GET", `/spawns?n=${n}`, undefined, { timeoutMs: 60_000 });
    const spawnCalls = [];
    let spawnStatements = 0;
    for (let r = 0; r < PROFILE.kernelPathReps && !d.passed; r++) {
      const res = await c.expectStatus(200, "GET", `/spawns?n=${n}`, undefined, { timeoutMs: 60_000 });
      spawnCalls.push(res.ms);
      spawnStatements = res.json.statements;
    }
    if (spawnCalls.length) extra.kernelPath.spawns = { n, usPerSpawn: round(((median(spawnCalls) - median(empty)) * 1000) / n, 1), statementsPerSpawn: spawnStatements / n };
    // The same calls under the profiler, attributed as kernelCpuMsPerWorker is: a check of the profile
    // against a wall time that holds nothing but the kernel's code and its commits.
    const lookup = bundleLookup(kernelPathConfig);
    if (lookup && !d.passed) {
      const profiler = await attachProfiler(server);
      try {
        await profiler.start();
        let wall = 0;
        for (let r = 0; r < PROFILE.kernelPathProfiled; r++) wall += (await c.expectStatus(200, "GET", `/fanout?n=${n}`, undefined, { timeoutMs: 60_000 })).ms - median(empty);
        const a = attribute(await profiler.stop(), lookup);
        const calls = n * PROFILE.kernelPathProfiled;
        Object.assign(extra.kernelPath, { profiledCalls: PROFILE.kernelPathProfiled, profiledWallUsPerWorker: round((wall * 1000) / calls, 1), profileKernelUsPerWorker: round((a.kernelMs * 1000) / calls, 1) });
      } finally {
        profiler.close();
      }
    }
  } finally {
    c.close();
    await server.stop();
  }
});

// ---------------------------------------------------------------- 5. kernel: list

await part("list", "list 1000 processes", ["list1000P50Ms"], async () => {
  const d = total.sub(60_000, "list");
  // A tenant of its own, so the table holds exactly listProcesses rows whatever the spawn part did.
  const k = as(tenants.list);
  await register(k, "quick", { script: [{ text: "done" }] });
  const need = PROFILE.listProcesses;
  const t0 = mono();
  const fill = await pool(need, FILL_CONCURRENCY, async (i) => (await k.json(201, "POST", "/v1/procs", { agent: "quick", input: `fill ${i}` })).ms, d);
  // Filling the table doubles as a throughput measure: spawns with FILL_CONCURRENCY in flight.
  extra.spawnConcurrentP50Ms = median(fill);
  extra.spawnConcurrentP99Ms = percentile(fill, 99);
  extra.spawnsPerSecond = need / ((mono() - t0) / 1000);
  extra.spawnConcurrency = FILL_CONCURRENCY;
  // Let every process finish before measuring, so background steps do not run during the reads.
  let rows = [];
  for (let i = 0; i < 600; i++) {
    d.check();
    rows = (await k.json(200, "GET", "/v1/procs", undefined, { timeoutMs: 30_000 })).json.processes;
    if (rows.every((p) => !["created", "running", "sleeping", "paused"].includes(p.state))) break;
    await sleep(200);
  }
  if (rows.length !== PROFILE.listProcesses) throw new Error(`${rows.length} processes in the table, expected ${PROFILE.listProcesses}`);
  let bytes = 0;
  const ms = await sampleLatency(
    PROFILE.listReps,
    async () => {
      const res = await k.json(200, "GET", "/v1/procs", undefined, { timeoutMs: 30_000 });
      if (res.json.processes.length !== rows.length) throw new Error(`list returned ${res.json.processes.length} rows, expected ${rows.length}`);
      bytes = res.text.length;
      return res.ms;
    },
    d,
  );
  results.list1000P50Ms = median(ms);
  extra.list1000P99Ms = percentile(ms, 99);
  extra.listRows = rows.length;
  extra.listBytes = bytes;
  const filtered = await sampleLatency(PROFILE.listReps, async () => (await k.json(200, "GET", "/v1/procs?state=running")).ms, d);
  extra.listFilteredEmptyP50Ms = median(filtered);
});

// ---------------------------------------------------------------- 5. kernel: audit verify

await part("audit", "audit verify over 10,000 entries", ["auditVerify10kMs"], async () => {
  const d = total.sub(60_000, "audit");
  const k = as(tenants.kernel);
  let entries = (await k.json(200, "GET", "/v1/audit/verify", undefined, { timeoutMs: 60_000 })).json.entries;
  const need = Math.max(0, PROFILE.auditEntries - entries);
  // Each PUT /v1/agents writes one audit entry (agent_registered).
  const t0 = mono();
  const puts = await pool(need, FILL_CONCURRENCY, async (i) => (await k.json(200, "PUT", `/v1/agents/filler-${i % 64}`, { model: "scripted", script: [{ text: "x" }] })).ms, d);
  if (need) extra.auditFillPerSecond = need / ((mono() - t0) / 1000);
  extra.putAgentConcurrentP50Ms = need ? median(puts) : null;
  const ms = await sampleLatency(
    PROFILE.verifyReps,
    async () => {
      const res = await k.json(200, "GET", "/v1/audit/verify", undefined, { timeoutMs: 60_000 });
      if (!res.json.ok) throw new Error(`the audit chain does not verify: ${res.text.slice(0, 200)}`);
      entries = res.json.entries;
      return res.ms;
    },
    d,
  );
  if (entries < PROFILE.auditEntries) throw new Error(`only ${entries} audit entries`);
  results.auditVerify10kMs = median(ms);
  extra.auditEntries = entries;
  extra.auditVerifyUsPerEntry = (median(ms) * 1000) / entries;
});

// ---------------------------------------------------------------- report

await finish(null);

/** Stops the servers, prints the table and writes the JSON. Runs once (normal end or watchdog). */
async function finish(abortNote) {
  if (finishing) return;
  finishing = true;
  clearTimeout(watchdog);
  if (abortNote) skipped.run = abortNote;
{
  const elapsedS = (mono() - cpuAtStart.at) / 1000;
  const machineBusy = machineBusySeconds();
  const ours = cpuSecondsOfGroups(groups()) - cpuAtStart.ours;
  const self = process.cpuUsage(cpuAtStart.self);
  const selfS = (self.user + self.system) / 1e6;
  if (machineBusy !== null && cpuAtStart.machine !== null) {
    const busy = machineBusy - cpuAtStart.machine;
    // Cores' worth of CPU that processes other than the benchmark and its servers used meanwhile.
    extra.otherCpuCores = Math.max(0, (busy - ours - selfS) / elapsedS);
    extra.benchCpuCores = (ours + selfS) / elapsedS;
  }
  extra.loadAvgStart = cpuAtStart.load.map((v) => round(v, 2));
  extra.loadAvgEnd = os.loadavg().map((v) => round(v, 2));
}
const whole = wholeRunMemory.stop();
extra.peakRssWholeRunMb = whole.peakWorkerRssMb;
extra.workerHwmMb = whole.workerHwmMb;
if (abortNote) cleanUpAll();
else await Promise.all([kernel.stop(), floor.stop(), sdk.stop(), ...extraServers.map((s) => s.stop())]);
api.close();
floorApi.close();
sdkApi.close();
cleanUpAll();

const REQUIRED = [
  "spawnP50Ms",
  "spawnP99Ms",
  "firstModelCallP50Ms",
  "turnsPerSecond",
  "fanout10Ms",
  "fanout100Ms",
  "fanout500Ms",
  "floorFanout100Ms",
  "fanoutVsFloor",
  "list1000P50Ms",
  "auditVerify10kMs",
  "peakRssMb",
  "agentsSdkFanout100Ms",
  "agentsSdkFanout500Ms",
  "fanoutVsAgentsSdk100",
  "fanoutVsAgentsSdk500",
  "fanout2000Ms",
  "perWorkerGrowth",
  "rssPerWorkerGrowth",
  "kernelCpuMsPerWorker",
  "kernelCpuMsPerTurn",
];
const FINE = new Set(["fanoutVsFloor", "fanoutVsAgentsSdk100", "fanoutVsAgentsSdk500", "perWorkerGrowth", "rssPerWorkerGrowth", "kernelCpuMsPerWorker", "kernelCpuMsPerTurn"]);
const out = {};
for (const k of REQUIRED) out[k] = round(results[k] ?? null, FINE.has(k) ? 3 : 1);
const durationS = round((Date.now() - runStarted) / 1000, 1);
const json = {
  ...out,
  perWorkerOverheadMs: round(extra.perWorkerOverheadMs ?? null, 2),
  skipped,
  extra: Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, typeof v === "number" ? round(v, 2) : v && typeof v === "object" && !Array.isArray(v) ? roundAll(v) : v])),
  definitions: {
    spawn: "POST /v1/procs → 201, client wall time (monotonic), sequential requests over one keep-alive socket, after warm-up spawns; each spawned process runs one text step and exits in the background",
    firstModelCall: "the first persisted `model` event's `at` (process object's Date) minus this side's Date.now() just before the spawn request; same host clock",
    turnsPerSecond: "turns / wall time from the spawn request to the wait route reporting exit, one process running N list_dir turns then a text",
    spawnIsolated: "the same spawn with a 40 ms pause before each, so no earlier process is still running its step",
    fanout: "wall time from POST /v1/procs of the copilot to the wait route reporting its exit; copilot script = delegate steps of ≤ 64 calls (on_demand), one collect {mode: all}, a final text; each worker one text step; runs alternate with the floor's",
    fanoutPhases: "from the copilot's events and its tasks' status timestamps (server clock), relative to the spawn request",
    proxyHopMs: "GET /healthz through wrangler dev's port minus GET /healthz on the Worker's own workerd port (p50s)",
    otherCpuCores: "CPU used by processes other than this benchmark and its servers during the run, in cores (/proc/stat)",
    perWorkerOverheadMs: "(fanout500Ms − fanout10Ms) / 490",
    floor: "GET /fanout?n=N on bench/floor (its own wrangler dev, same runtime and persistence): a fresh Durable Object calls N fresh Durable Objects over RPC (no storage) and awaits them all; client wall time",
    fanoutVsFloor: "fanout100Ms / floorFanout100Ms",
    agentsSdk: "GET /fanout?n=N on bench/agents-sdk (its own wrangler dev, same runtime, persistence and observability setting): a fresh Coordinator Agent gets N fresh WorkerAgents with getAgentByName and awaits an RPC on each; each writes one SQLite row; client wall time; runs alternate with ours",
    fanoutVsAgentsSdk: "fanoutNMs / agentsSdkFanoutNMs (N = 100, 500), medians of the same part of the run",
    fanout2000: "the fan-out above with N = 2000 (ours only)",
    perWorkerGrowth: "((fanout2000Ms − fanout500Ms) / 1500) / ((fanout100Ms − fanout10Ms) / 90): marginal ms per worker at 500→2000 over the marginal at 10→100; 1 = linear",
    rssPerWorkerGrowth: "on a fresh kernel server each (after one fan-out of 10): (peak VmRSS of the Worker's workerd during a fan-out of N − its VmRSS as the fan-out began) / N, at N = 2000 over N = 500; 1 = flat in N per worker",
    kernelCpu: "V8 CPU profile of the Worker's isolate (bench/lib/profiler.mjs); samples whose stack runs src/objects/kernel.ts or src/kernel/* (and no process or workspace object code), including the library and native calls they make; kernelCpuMsPerWorker = over a fan-out / its workers; kernelCpuMsPerTurn = over concurrent list_dir tool loops / their turns; each the median of its profiled runs (5 in --quick, 7 in the full run; the runs are listed sorted)",
    kernelPath: "bench/kernel-path: the kernel's services over one object's storage, with stand-ins for the process objects, one fan-out of kernelPathWorkers (100) per RPC call (delegations in one batch, their starts, exits in batches of 8 each followed by the drain and the alarm's); usPerWorker = (median call − median empty call) / workers, commits included; the median of 15 calls after 3 warm-up calls; then 10 more calls under the profiler: profileKernelUsPerWorker is what the profile charges the kernel for them (attributed as kernelCpuMsPerWorker), profiledWallUsPerWorker their wall time less an empty call's",
    fanoutHooked100: "fan-out 100 on a tenant with a policy hook (pre_spawn allow, pre_dispatch deny rules) and a webhook (pre_spawn, post_terminate) served on 127.0.0.1 by the bench",
    observabilityOn: "fan-out 100, ours and the Agents SDK's, on a second pair of servers with X_LOCAL_OBSERVABILITY=true",
    list1000: "GET /v1/procs with 1000 rows (all exited), client wall time",
    auditVerify10k: "GET /v1/audit/verify over ≥ 10,000 entries, client wall time",
    peakRssMb: "peak VmRSS of the workerd process that runs the Worker (not wrangler's proxy workerd), sampled every 25 ms during the N = 500 fan-out",
    percentiles: "nearest rank over the samples of this run",
  },
  machine,
  setup: { persistDir: os.tmpdir(), localObservability: process.env.X_LOCAL_OBSERVABILITY ?? "false", frozenBundle: machine.frozenBundle, maxLiveProcesses: 5000 },
  date: new Date(runStarted).toISOString(),
  profile: PROFILE.name,
  durationS,
};

function roundAll(o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === "number" ? round(v, 2) : v]));
}

// ---------- table

const fmt = (v, unit = "ms", digits = 1) => (v === null || v === undefined ? "—" : `${round(v, digits)} ${unit}`.trim());
/** The skip reason of a fan-out measure, for its row (only the first row of a shared reason says it in full). */
const why = (key) => {
  if (results[key] !== undefined || !skipped[key]) return "";
  return key === "fanout10Ms" || skipped[key] !== skipped.fanout10Ms ? skipped[key] : "(same)";
};
const status = (key) => {
  const t = targets[key];
  const v = results[key];
  if (!t || v === undefined || v === null) return "";
  return v <= t.max ? "ok" : "MISSED";
};
const rows = [
  // A spawn makes one new object: the floor's new object with one write is the platform's part of it, in this run.
  ["spawn p50", fmt(results.spawnP50Ms), "≤ 8 ms", [status("spawnP50Ms"), extra.floorCreateP50Ms ? `a new object alone (floor): ${fmt(extra.floorCreateP50Ms, "ms", 2)}` : ""].filter(Boolean).join("; ")],
  ["spawn p99", fmt(results.spawnP99Ms), "≤ 30 ms", status("spawnP99Ms")],
  ["spawn, isolated (40 ms apart): p50 / p99", extra.spawnIsolatedP50Ms ? `${fmt(extra.spawnIsolatedP50Ms)} / ${fmt(extra.spawnIsolatedP99Ms)}` : "—", "", "no other process running meanwhile"],
  ["spawn → first model call p50", fmt(results.firstModelCallP50Ms), "", "server `at` of the first model event"],
  ["spawn, 8 concurrent: p50 / p99", extra.spawnConcurrentP50Ms ? `${fmt(extra.spawnConcurrentP50Ms)} / ${fmt(extra.spawnConcurrentP99Ms)}` : "—", "", extra.spawnsPerSecond ? `${round(extra.spawnsPerSecond, 0)} spawns/s` : ""],
  [`step throughput (${PROFILE.turns}-turn tool loop)`, fmt(results.turnsPerSecond, "turns/s"), "", extra.turnLoopMs ? `${fmt(extra.turnLoopMs)} total` : ""],
  ["fan-out 10", fmt(results.fanout10Ms), "", why("fanout10Ms")],
  ["fan-out 100", fmt(results.fanout100Ms), "≤ 1500 ms", status("fanout100Ms") || why("fanout100Ms")],
  ["fan-out 500", fmt(results.fanout500Ms), "", why("fanout500Ms")],
  ["per-worker overhead", fmt(extra.perWorkerOverheadMs, "ms", 2), "", "(fan-out 500 − fan-out 10) / 490"],
  ["floor: bare DO RPC fan-out 10 / 100 / 500", `${fmt(extra.floorFanout10Ms)} / ${fmt(results.floorFanout100Ms)} / ${fmt(extra.floorFanout500Ms)}`, "", extra.floorFanout100WithWriteMs ? `100 with a write each: ${fmt(extra.floorFanout100WithWriteMs)}` : ""],
  ["fan-out 100 / floor", results.fanoutVsFloor ? `${round(results.fanoutVsFloor, 2)}×` : "—", "≤ 10× (aim 3×)", status("fanoutVsFloor")],
  ["fan-out 2000", fmt(results.fanout2000Ms), "", extra.peakRss2000Mb ? `peak RSS ${fmt(extra.peakRss2000Mb, "MiB", 0)}` : why("fanout2000Ms")],
  ["per-worker growth (500→2000 vs 10→100)", results.perWorkerGrowth ? `${round(results.perWorkerGrowth, 2)}×` : "—", "≤ 1.2", status("perWorkerGrowth")],
  ["peak RSS per worker, 2000 vs 500 (fresh servers)", results.rssPerWorkerGrowth ? `${round(results.rssPerWorkerGrowth, 2)}×` : "—", "≤ 1.2", extra.rssMbPerWorker500 ? `${status("rssPerWorkerGrowth")} ${fmt(extra.rssMbPerWorker2000, "MiB", 2)} vs ${fmt(extra.rssMbPerWorker500, "MiB", 2)} a worker`.trim() : why("rssPerWorkerGrowth")],
  ["Agents SDK fan-out 10 / 100 / 500", `${fmt(extra.agentsSdkFanout10Ms)} / ${fmt(results.agentsSdkFanout100Ms)} / ${fmt(results.agentsSdkFanout500Ms)}`, "", ""],
  ["fan-out 100 / Agents SDK", results.fanoutVsAgentsSdk100 ? `${round(results.fanoutVsAgentsSdk100, 2)}×` : "—", "≤ 0.8", status("fanoutVsAgentsSdk100")],
  ["fan-out 500 / Agents SDK", results.fanoutVsAgentsSdk500 ? `${round(results.fanoutVsAgentsSdk500, 2)}×` : "—", "≤ 0.8", status("fanoutVsAgentsSdk500")],
  ["fan-out 100, policy hook + webhook", fmt(extra.fanoutHooked100Ms), "", extra.fanoutHookedVsAgentsSdk100 ? `${round(extra.fanoutHookedVsAgentsSdk100, 2)}× the Agents SDK beside it` : ""],
  ["fan-out 100, local observability ON", extra.observabilityOn ? `${fmt(extra.observabilityOn.fanout100Ms)} (SDK ${fmt(extra.observabilityOn.agentsSdkFanout100Ms)})` : "—", "", extra.observabilityOn ? `${round(extra.observabilityOn.fanoutVsAgentsSdk100, 2)}×` : ""],
  ["kernel CPU per worker (profile)", fmt(results.kernelCpuMsPerWorker, "ms", 3), "≤ 0.7 ms", status("kernelCpuMsPerWorker")],
  ["kernel CPU per turn (profile)", fmt(results.kernelCpuMsPerTurn, "ms", 3), "≤ 0.1 ms", status("kernelCpuMsPerTurn")],
  ["kernel's own path per worker, alone", extra.kernelPath ? `${extra.kernelPath.usPerWorker} µs` : "—", "", extra.kernelPath ? `${round(extra.kernelPath.statementsPerWorker, 2)} statements a worker, commits included${extra.kernelPath.profileKernelUsPerWorker ? `; profiled: ${extra.kernelPath.profileKernelUsPerWorker} µs charged for ${extra.kernelPath.profiledWallUsPerWorker} µs of wall` : ""}` : ""],
  ["kernel's own path per top-level spawn, alone", extra.kernelPath?.spawns ? `${extra.kernelPath.spawns.usPerSpawn} µs` : "—", "", extra.kernelPath?.spawns ? `its start and its exit too; ${round(extra.kernelPath.spawns.statementsPerSpawn, 2)} statements a spawn, commits included` : ""],
  ["GET /v1/procs, 1000 rows, p50", fmt(results.list1000P50Ms), "≤ 50 ms", status("list1000P50Ms")],
  [`GET /v1/audit/verify, ${extra.auditEntries ?? "10,000"} entries`, fmt(results.auditVerify10kMs), "", ""],
  ["peak RSS, workerd, fan-out 500", fmt(results.peakRssMb, "MiB", 0), "", extra.peakRssWholeRunMb ? `whole run: ${fmt(extra.peakRssWholeRunMb, "MiB", 0)}` : ""],
];
const baselines = [
  ["GET /healthz (no auth, no object)", fmt(extra.healthzP50Ms, "ms", 2)],
  ["  of which wrangler's dev proxy hop", fmt(extra.proxyHopMs, "ms", 2)],
  ["GET /v1/procs/:pid (auth + 1 kernel RPC)", fmt(extra.getProcessP50Ms, "ms", 2)],
  ["PUT /v1/agents/:name (auth + 1 kernel RPC + write)", fmt(extra.putAgentP50Ms, "ms", 2)],
  ["floor: GET /healthz", fmt(extra.floorHealthzP50Ms, "ms", 2)],
  ["floor: one DO RPC", fmt(extra.floorRpcP50Ms, "ms", 2)],
  ["floor: one DO RPC + SQLite write", fmt(extra.floorWriteP50Ms, "ms", 2)],
  ["floor: one DO RPC to a new object + SQLite write", fmt(extra.floorCreateP50Ms, "ms", 2)],
  [`disk under ${os.tmpdir()}: create a file / fsync a 4 KiB write`, `${fmt(extra.diskCreateFileP50Us, "", 0)} / ${fmt(extra.diskFsyncP50Us, "µs", 0)}`],
  ["floor: one alarm → next alarm", fmt(extra.floorAlarmStepMs, "ms", 2)],
];
for (const n of [10, 100, 500]) {
  const ph = extra[`fanout${n}Phases`];
  if (ph) baselines.push([`fan-out ${n}: all delegated / last worker exit / collected / exit`, `${fmt(ph.delegatedMs, "")} / ${fmt(ph.lastWorkerExitMs, "")} / ${fmt(ph.collectedMs, "")} / ${fmt(ph.exitMs, "ms")}`]);
}
if (extra.turnBreakdownP50Ms) {
  const b = extra.turnBreakdownP50Ms;
  baselines.push(["turn p50: model → tools step / dispatch / result → next model", `${fmt(b.modelToToolsMs)} / ${fmt(b.dispatchMs)} / ${fmt(b.resultToNextModelMs)}`]);
  baselines.push(["turn mean: first 20 / last 20 turns", `${fmt(extra.turnMsFirst20, "ms", 2)} / ${fmt(extra.turnMsLast20, "ms", 2)}`]);
}

function table(header, body) {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => String(r[i] ?? "").length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c ?? "").padEnd(widths[i])).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...body.map(line)].join("\n");
}

say("");
say(`Agent Kernel benchmark (${PROFILE.name}) — ${json.date}`);
say(`machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalMb} MiB, ${machine.platform}; node ${machine.node}, wrangler ${machine.wrangler}, workerd ${machine.workerd}; commit ${machine.commit ?? "?"}${machine.srcDirty ? " (+ uncommitted src changes)" : ""}`);
say(`local workerd via wrangler dev${machine.frozenBundle ? " (on a bundle of src/ made at the start)" : " (live on src/)"}, through its proxy workerd; storage persisted under ${os.tmpdir()}; wrangler's local observability ${process.env.X_LOCAL_OBSERVABILITY ?? "false"}; scripted model at zero latency`);
say(`medians unless noted; percentiles by nearest rank; run took ${durationS} s`);
if (extra.otherCpuCores !== undefined) {
  say(`other work on the machine during the run: ${round(extra.otherCpuCores, 2)} of ${machine.nproc} cores busy (the benchmark and its servers: ${round(extra.benchCpuCores, 2)}); load average ${extra.loadAvgStart.join(" ")} → ${extra.loadAvgEnd.join(" ")}`);
  if (extra.otherCpuCores > 0.25) say("  (the machine was shared: numbers are pessimistic; rerun on a quiet machine for clean figures)");
}
say("");
say(table(["measure", "result", "target", "note"], rows));
say("");
say(table(["baseline (p50)", "result"], baselines));
const skippedLines = [...new Set(Object.values(skipped))];
if (skippedLines.length) {
  say("");
  for (const s of skippedLines) say(`skipped: ${s}`);
}
if (opts.json) {
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(opts.json, `${JSON.stringify(json, null, 2)}\n`);
  say("");
  say(`wrote ${opts.json}`);
}
process.exit(abortNote || failures.length ? 1 : 0);
}
