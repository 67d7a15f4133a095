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
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mintToken, randomSecret } from "../scripts/lib/jwt.mjs";
import { createClient } from "./lib/http.mjs";
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

// ---------------------------------------------------------------- source map (VLQ) lookup

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Per generated line: sorted [generatedColumn, sourceIndex] pairs. */
function parseSourceMap(map) {
  const lines = [];
  let source = 0;
  let srcLine = 0;
  let srcCol = 0;
  for (const lineText of map.mappings.split(";")) {
    const segs = [];
    let col = 0;
    for (const seg of lineText.split(",")) {
      if (!seg) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = B64.get(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      col += values[0];
      if (values.length >= 4) {
        source += values[1];
        srcLine += values[2];
        srcCol += values[3];
        segs.push([col, source]);
      }
    }
    lines.push(segs);
  }
  return (line, column) => {
    const segs = lines[line];
    if (!segs || segs.length === 0) return null;
    let lo = 0;
    let hi = segs.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segs[mid][0] <= column) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best >= 0 ? map.sources[segs[best][1]] : null;
  };
}

// ---------------------------------------------------------------- inspector

class Inspector {
  constructor(url) {
    // wrangler's inspector proxy accepts the devtools origin only; Node's WebSocket (undici) takes headers.
    this.ws = new WebSocket(url, /** @type {any} */ ({ headers: { Origin: "https://devtools.devprod.cloudflare.dev" } }));
    this.next = 1;
    this.pending = new Map();
    this.ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data));
      const p = msg.id !== undefined ? this.pending.get(msg.id) : null;
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(`${msg.error.message} (${msg.error.code})`));
      else p.resolve(msg.result);
    });
  }
  open() {
    return new Promise((res, rej) => {
      this.ws.addEventListener("open", res, { once: true });
      this.ws.addEventListener("error", () => rej(new Error("inspector connection failed")), { once: true });
    });
  }
  send(method, params = {}, timeoutMs = 30_000) {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }
  close() {
    this.ws.close();
  }
}

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
  const inspectorPort = server.child.spawnargs[server.child.spawnargs.indexOf("--inspector-port") + 1];
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const inspector = new Inspector(targets[0].webSocketDebuggerUrl);
  await inspector.open();
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: 200 });
  await inspector.send("Profiler.start");
  const t0 = performance.now();
  const what = await SCENARIOS[scenario](k);
  const wallMs = performance.now() - t0;
  const { profile } = await inspector.send("Profiler.stop", {}, 120_000);
  inspector.close();
  api.close();

  // Self time per node: samples × mean interval.
  const total = profile.endTime - profile.startTime; // µs
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const perSample = total / profile.samples.length / 1000; // ms
  const bundleFile = JSON.parse(readFileSync(config, "utf8").match(/^main = (".*")$/m)[1]);
  let lookup = null;
  try {
    lookup = parseSourceMap(JSON.parse(readFileSync(`${bundleFile}.map`, "utf8")));
  } catch {
    info("no source map: files are shown as the bundle");
  }
  const byFile = new Map();
  const byFn = new Map();
  const byCaller = new Map();
  const parentOf = new Map();
  const nodeById = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  for (const nd of profile.nodes) for (const c of nd.children ?? []) parentOf.set(c, nd.id);
  const fileOf = (f) => {
    const src = lookup && f.url.endsWith(".js") ? lookup(f.lineNumber, f.columnNumber) : null;
    return src ? src.replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, "node_modules/") : f.url.replace(/^.*\//, "");
  };
  let idle = 0;
  for (const node of profile.nodes) {
    const ms = (hits.get(node.id) ?? 0) * perSample;
    if (!ms) continue;
    const f = node.callFrame;
    let file;
    if (f.functionName === "(idle)") {
      idle += ms;
      file = "(idle)";
    } else if (["(program)", "(garbage collector)", "(root)"].includes(f.functionName)) file = f.functionName;
    else if (!f.url) file = "(native)";
    else file = fileOf(f);
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    const fnKey = `${f.functionName || "(anonymous)"}  ${file}`;
    byFn.set(fnKey, (byFn.get(fnKey) ?? 0) + ms);
    if (file === "(native)") {
      // Native work (SQLite statements, storage, RPC dispatch) charged to the JS function that called it.
      let at = parentOf.get(node.id);
      for (let guard = 0; at !== undefined && guard < 200 && !nodeById.get(at).callFrame.url; guard++) at = parentOf.get(at);
      const caller = at !== undefined ? nodeById.get(at).callFrame : null;
      const key = `${f.functionName || "(anonymous)"} ← ${caller ? `${caller.functionName || "(anonymous)"}  ${fileOf(caller)}` : "?"}`;
      byCaller.set(key, (byCaller.get(key) ?? 0) + ms);
    }
  }
  const busy = total / 1000 - idle;
  const rows = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  const pct = (ms) => `${((ms / (total / 1000)) * 100).toFixed(1)}%`.padStart(6);
  const line = (ms, label) => `${ms.toFixed(1).padStart(9)} ms ${pct(ms)}  ${label}`;
  const out = [];
  out.push(`scenario: ${what}; wall ${wallMs.toFixed(0)} ms, profiled ${(total / 1000).toFixed(0)} ms, isolate busy ${busy.toFixed(0)} ms (${((busy / (total / 1000)) * 100).toFixed(0)}%)`);
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
    writeFileSync(jsonOut, `${JSON.stringify({ scenario, n, wallMs, profiledMs: total / 1000, busyMs: busy, byFile: Object.fromEntries(rows(byFile)), byFunction: Object.fromEntries(rows(byFn).slice(0, 200)), nativeByCaller: Object.fromEntries(rows(byCaller).slice(0, 200)) }, null, 2)}\n`);
    info(`wrote ${relative(process.cwd(), jsonOut)}`);
  }
} finally {
  await server.stop();
  cleanUpAll();
}
process.exit(0);
