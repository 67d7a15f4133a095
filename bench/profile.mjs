#!/usr/bin/env node
/**
 * Where the Worker's time goes: runs one benchmark scenario against a local kernel (the same frozen
 * bundle and wrangler dev setup as bench/run.mjs) with the V8 CPU profiler of its isolate attached
 * through wrangler's inspector port, then prints self time by source file (mapped through the
 * bundle's source map) and by function.
 *
 *   node bench/profile.mjs spawn [count=200]
 *   node bench/profile.mjs fanout [workers=100]
 *   node bench/profile.mjs turns [turns=200]
 *   node bench/profile.mjs fanout 100 --top 40 --json out.json
 *
 * All Durable Objects of the Worker share one isolate, so the profile covers the kernel, the
 * process objects and the workspace together. "(idle)" is the isolate waiting (storage I/O,
 * alarms, the network); "(program)" is native work V8 cannot attribute to a JS frame.
 */
import { writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mintToken, randomSecret } from "../scripts/lib/jwt.mjs";
import { createClient } from "./lib/http.mjs";
import { attachProfiler, attribute, bundleLookup } from "./lib/profiler.mjs";
import { cleanUpAll, DevServer, freezeWorker, installCleanup } from "./lib/server.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const USAGE = "usage: node bench/profile.mjs spawn|fanout|turns [n] [--top N] [--json file]";

const args = process.argv.slice(2);
let top = 25;
let jsonOut = null;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--top") top = Number(args[++i]);
  else if (args[i] === "--json") jsonOut = resolve(process.cwd(), args[++i] ?? "");
  else if (args[i] === "-h" || args[i] === "--help") {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  } else positional.push(args[i]);
}
const [scenario = "fanout", nText] = positional;
const DEFAULTS = { spawn: 200, fanout: 100, turns: 200 };
if (!(scenario in DEFAULTS) || !Number.isInteger(top) || top < 1) {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const n = nText ? Number(nText) : DEFAULTS[scenario];
if (!Number.isInteger(n) || n < 1 || n > 2000) {
  process.stderr.write(`n must be an integer in 1..2000\n${USAGE}\n`);
  process.exit(2);
}
const info = (line) => process.stderr.write(`[profile] ${line}\n`);

// ---------------------------------------------------------------- scenarios

async function waitExit(k, pid) {
  for (let i = 0; i < 20; i++) {
    const res = await k.json(200, "GET", `/v1/procs/${pid}/wait?timeoutMs=30000`, undefined, { timeoutMs: 40_000 });
    if (res.json.exited) return res.json;
  }
  throw new Error(`process ${pid} did not exit`);
}

async function prepare(k) {
  await k.json(200, "PUT", "/v1/agents/quick", { model: "scripted", script: [{ text: "done" }] });
  await k.json(200, "PUT", "/v1/agents/bench-worker", { model: "scripted", script: [{ text: "done: {{input}}" }] });
  const steps = [];
  for (let i = 0; i < n; i += 64) {
    steps.push({ toolCalls: Array.from({ length: Math.min(64, n - i) }, (_, j) => ({ name: "delegate", arguments: { agent: "bench-worker", message: `task ${i + j}`, deliveryPolicy: "on_demand" } })) });
  }
  steps.push({ toolCalls: [{ name: "collect", arguments: { mode: "all", timeoutMs: 120_000 } }] }, { text: "{{lastToolResult}}" });
  await k.json(200, "PUT", "/v1/agents/copilot", { model: "scripted", tools: ["delegate", "collect"], maxTurns: steps.length + 5, limits: { maxChildren: n, maxDepth: 2 }, script: steps });
  const loop = { toolCalls: [{ name: "list_dir", arguments: { path: "/" } }] };
  await k.json(200, "PUT", "/v1/agents/looper", { model: "scripted", maxTurns: n + 10, script: [...Array.from({ length: n }, () => loop), { text: "done" }] });
  // warm the code paths once
  const w = (await k.json(201, "POST", "/v1/procs", { agent: "quick", input: "warm" })).json;
  await waitExit(k, w.pid);
}

const SCENARIOS = {
  async spawn(k) {
    const pids = [];
    for (let i = 0; i < n; i++) pids.push((await k.json(201, "POST", "/v1/procs", { agent: "quick", input: `p${i}` })).json.pid);
    for (const pid of pids.slice(-5)) await waitExit(k, pid);
    return `${n} sequential spawns (each process runs one text step and exits)`;
  },
  async fanout(k) {
    const p = (await k.json(201, "POST", "/v1/procs", { agent: "copilot", input: "go" })).json;
    const st = await waitExit(k, p.pid);
    if (st.code !== 0) throw new Error(`copilot exited ${st.code}: ${st.reason}`);
    return `one copilot delegating ${n} workers and collecting them`;
  },
  async turns(k) {
    const p = (await k.json(201, "POST", "/v1/procs", { agent: "looper", input: "go" })).json;
    const st = await waitExit(k, p.pid);
    if (st.code !== 0) throw new Error(`looper exited ${st.code}: ${st.reason}`);
    return `one process running ${n} list_dir turns`;
  },
};

// ---------------------------------------------------------------- run

installCleanup();
const secret = randomSecret();
const config = freezeWorker({ root, label: "profile" });
if (!config) throw new Error("could not bundle the Worker");
const server = await new DevServer({ root, label: "profile", config, vars: { AUTH_SECRET: secret, MAX_LIVE_PROCESSES: "5000" } }).start();
try {
  await server.ready();
  const api = createClient(server.url);
  const k = api.as(mintToken({ tenant: "profile", role: "admin", secret }));
  await prepare(k);
  const profiler = await attachProfiler(server);
  await profiler.start();
  const t0 = performance.now();
  const what = await SCENARIOS[scenario](k);
  const wallMs = performance.now() - t0;
  const profile = await profiler.stop();
  profiler.close();
  if (process.env.PROFILE_RAW) writeFileSync(process.env.PROFILE_RAW, JSON.stringify(profile));
  api.close();

  const lookup = bundleLookup(config);
  if (!lookup) info("no source map: files are shown as the bundle");
  const a = attribute(profile, lookup);
  const total = a.profiledMs * 1000;
  const busy = a.busyMs;
  const rows = (m) => m;
  const byFile = a.byFile;
  const byFn = a.byFn;
  const byCaller = a.byCaller;
  const pct = (ms) => `${((ms / (total / 1000)) * 100).toFixed(1)}%`.padStart(6);
  const line = (ms, label) => `${ms.toFixed(1).padStart(9)} ms ${pct(ms)}  ${label}`;
  const out = [];
  out.push(`scenario: ${what}; wall ${wallMs.toFixed(0)} ms, profiled ${(total / 1000).toFixed(0)} ms, isolate busy ${busy.toFixed(0)} ms (${((busy / (total / 1000)) * 100).toFixed(0)}%)`);
  out.push(`kernel object's share (stacks through src/objects/kernel.ts or src/kernel/*): ${a.kernelMs.toFixed(1)} ms, ${(a.kernelMs / n).toFixed(3)} ms per ${scenario === "fanout" ? "worker" : scenario === "turns" ? "turn" : "spawn"}; its calls creating process objects (platform, see bench/lib/profiler.mjs): ${a.rpcOutMs.toFixed(1)} ms`);
  out.push("");
  out.push("the kernel's share by the innermost kernel function on the stack (what it ran, libraries and native calls included):");
  for (const [fn, ms] of a.kernelByFn.slice(0, top)) out.push(line(ms, fn));
  out.push("");
  out.push("self time by source file:");
  for (const [file, ms] of rows(byFile).slice(0, top)) out.push(line(ms, file));
  out.push("");
  out.push("self time by function:");
  for (const [fn, ms] of rows(byFn).filter(([k]) => !k.startsWith("(idle)")).slice(0, top)) out.push(line(ms, fn));
  out.push("");
  out.push("native self time by calling JS function:");
  for (const [fn, ms] of rows(byCaller).slice(0, top)) out.push(line(ms, fn));
  process.stdout.write(`${out.join("\n")}\n`);
  if (jsonOut) {
    writeFileSync(jsonOut, `${JSON.stringify({ scenario, n, wallMs, profiledMs: total / 1000, busyMs: busy, kernelMs: a.kernelMs, byFile: Object.fromEntries(rows(byFile)), byFunction: Object.fromEntries(rows(byFn).slice(0, 200)), nativeByCaller: Object.fromEntries(rows(byCaller).slice(0, 200)) }, null, 2)}\n`);
    info(`wrote ${relative(process.cwd(), jsonOut)}`);
  }
} finally {
  await server.stop();
  cleanUpAll();
}
process.exit(0);
