/**
 * `wrangler dev` servers for the benchmark: free ports, a fresh temp --persist-to directory each,
 * a private dev registry, no metrics; every server runs in its own process group and is killed on
 * any way out (normal end, error, Ctrl-C, SIGTERM, the parent npm going away).
 *
 * Also: finding the workerd processes under a server and sampling their resident memory.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sleep } from "./stats.mjs";

export const HOST = "127.0.0.1";

const liveGroups = new Set();
const scratchDirs = new Set();

/** Kills every server group still running and removes scratch directories. Synchronous. */
export function cleanUpAll() {
  for (const pgid of liveGroups) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  liveGroups.clear();
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
  scratchDirs.clear();
}

let installed = false;
/** Installs exit, signal and crash handlers that clean up (once per process). */
export function installCleanup() {
  if (installed) return;
  installed = true;
  process.once("exit", cleanUpAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      process.stderr.write(`\n[bench] ${signal}: stopping servers\n`);
      cleanUpAll();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
  process.on("uncaughtException", (err) => {
    process.stderr.write(`[bench] uncaught: ${err?.stack ?? err}\n`);
    cleanUpAll();
    process.exit(1);
  });
  process.on("unhandledRejection", (/** @type {any} */ err) => {
    process.stderr.write(`[bench] unhandled rejection: ${err?.stack ?? err}\n`);
    cleanUpAll();
    process.exit(1);
  });
  // `npm run bench` runs us under `sh -c`; if npm is killed, notice being orphaned and stop too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.emit("SIGTERM", "SIGTERM");
  }, 1000).unref();
}

export function scratchDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.add(dir);
  return dir;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = /** @type {import("node:net").AddressInfo} */ (probe.address());
      probe.close(() => resolve(port));
    });
  });
}

/**
 * Bundles the Worker of `config` once (`wrangler deploy --dry-run --outdir`, the same esbuild build
 * `wrangler dev` runs) and writes a copy of the config whose `main` is that bundle, with
 * `no_bundle = true`. A server started from it runs one fixed version of the code: edits made to src/
 * while the benchmark runs cannot reload the Worker (and reset its objects) halfway through.
 * Returns the copy's path, or null when the config cannot be rewritten (the caller then runs live).
 */
export function freezeWorker({ root, config = "wrangler.toml", label }) {
  const dir = scratchDir(`agent-kernel-bench-${label}-bundle-`);
  const source = join(root, config);
  const text = readFileSync(source, "utf8");
  if (!/^main\s*=.*$/m.test(text)) return null;
  const out = join(dir, "out");
  execFileSync(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", out, "--config", config], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    timeout: 120_000,
  });
  const entry = readdirSync(out).find((f) => /\.(m?js)$/.test(f));
  if (!entry) return null;
  const frozen = text.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(join(out, entry))}\nno_bundle = true`);
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, `# Frozen copy of ${source} for the benchmark: main is its bundle.\n${frozen}`);
  return path;
}

/** One `wrangler dev --local` server. */
export class DevServer {
  /**
   * @param {{ root: string, label: string, config?: string, vars?: Record<string, string>, logLevel?: string }} options
   */
  constructor({ root, label, config, vars = {}, logLevel = "warn" }) {
    this.root = root;
    this.label = label;
    this.config = config;
    this.vars = vars;
    this.logLevel = logLevel;
    this.output = [];
    this.exited = false;
    this.child = null;
  }

  async start() {
    const [port, inspectorPort] = [await freePort(), await freePort()];
    const scratch = scratchDir(`agent-kernel-bench-${this.label}-`);
    this.url = `http://${HOST}:${port}`;
    this.port = port;
    const wranglerJs = join(this.root, "node_modules", "wrangler", "bin", "wrangler.js");
    const args = [
      wranglerJs,
      "dev",
      ...(this.config ? ["--config", this.config] : []),
      "--local",
      "--ip", HOST,
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", join(scratch, "state"),
      ...Object.entries(this.vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      "--show-interactive-dev-session=false",
      "--log-level", this.logLevel,
    ];
    this.child = spawn(process.execPath, args, {
      cwd: this.root,
      detached: true, // own process group: one kill reaches wrangler's node processes and workerd
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        WRANGLER_REGISTRY_PATH: join(scratch, "registry"),
        // wrangler dev records a trace of every invocation (request, RPC, alarm) into a local SQLite
        // store for its dashboard, fsync included, and attaches streaming tail workers: a dev-only
        // cost of several ms per call that is not the runtime's. Off unless asked for.
        X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false",
        NO_COLOR: "1",
        FORCE_COLOR: "0",
        CI: "1",
      },
    });
    liveGroups.add(this.child.pid);
    const keep = (chunk) => {
      this.output.push(String(chunk));
      if (this.output.length > 400) this.output.splice(0, this.output.length - 400);
    };
    this.child.stdout.on("data", keep);
    this.child.stderr.on("data", keep);
    this.exitPromise = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => {
        this.exited = true;
        resolve({ code, signal });
      });
      this.child.once("error", (err) => {
        this.output.push(`spawn failed: ${err.message}\n`);
        this.exited = true;
        resolve({ code: null, signal: null });
      });
    });
    return this;
  }

  log(lines = 40) {
    return this.output.join("").split("\n").slice(-lines).join("\n");
  }

  async healthy(path) {
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** Waits until `path` answers 2xx; returns the boot time in ms. */
  async ready(path = "/healthz", timeoutMs = 90_000) {
    const t0 = Date.now();
    while (!(await this.healthy(path))) {
      if (this.exited) throw new Error(`${this.label}: wrangler dev exited before it was ready:\n${this.log()}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`${this.label}: not ready within ${timeoutMs} ms:\n${this.log()}`);
      await sleep(100);
    }
    return Date.now() - t0;
  }

  /** SIGTERM to the group, SIGKILL after a grace period. */
  async stop(graceMs = 3_000) {
    if (!this.child || this.exited) {
      if (this.child) liveGroups.delete(this.child.pid);
      return;
    }
    const pgid = this.child.pid;
    try {
      process.kill(-pgid, "SIGTERM");
    } catch {
      // gone
    }
    const done = await Promise.race([this.exitPromise.then(() => true), sleep(graceMs).then(() => false)]);
    try {
      process.kill(-pgid, "SIGKILL"); // workerd children may outlive wrangler's exit
    } catch {
      // gone
    }
    if (!done) await Promise.race([this.exitPromise, sleep(1_000)]);
    liveGroups.delete(pgid);
  }

  /**
   * The workerd processes under this server. wrangler dev runs two: a proxy in front
   * (`--socket-addr=entry=127.0.0.1:<port>`, the port we talk to) and the one that runs the
   * Worker and its Durable Objects (the entry socket on port 0, with an inspector).
   * @returns {{ pid: number, role: "proxy" | "worker" }[]}
   */
  workerdProcesses() {
    if (!this.child) return [];
    const children = new Map();
    const comm = new Map();
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        const close = stat.lastIndexOf(")");
        const fields = stat.slice(close + 2).split(" ");
        const ppid = Number(fields[1]);
        comm.set(Number(name), stat.slice(stat.indexOf("(") + 1, close));
        if (!children.has(ppid)) children.set(ppid, []);
        children.get(ppid).push(Number(name));
      } catch {
        // raced with an exit
      }
    }
    const out = [];
    const stack = [this.child.pid];
    for (let guard = 0; stack.length && guard < 10_000; guard++) {
      const pid = stack.pop();
      for (const c of children.get(pid) ?? []) {
        stack.push(c);
        if ((comm.get(c) ?? "").startsWith("workerd")) {
          let cmd = "";
          try {
            cmd = readFileSync(`/proc/${c}/cmdline`, "utf8").replaceAll("\0", " ");
          } catch {
            // gone
          }
          // The proxy listens on our port; the Worker's own workerd has the inspector.
          const proxy = cmd.includes(`entry=${HOST}:${this.port}`) && !cmd.includes("--inspector-addr");
          out.push({ pid: c, role: proxy ? "proxy" : "worker" });
        }
      }
    }
    // A layout without a separate proxy: everything counts as the Worker's.
    if (!out.some((p) => p.role === "worker")) for (const p of out) p.role = "worker";
    return out;
  }
}

/** VmRSS and VmHWM of a process in MiB, or null when it is gone. */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
    const rss = kb("VmRSS");
    if (!Number.isFinite(rss)) return null; // a zombie has no memory lines
    return { rssMb: rss / 1024, hwmMb: (Number.isFinite(kb("VmHWM")) ? kb("VmHWM") : rss) / 1024 };
  } catch {
    return null;
  }
}

/**
 * Samples the resident memory of the server's workerd processes every `intervalMs` until stopped
 * (re-finding them every second, in case wrangler restarts one). `stop()` returns the peak RSS seen
 * of the Worker's workerd, of all workerd processes together, and the kernel-reported high-water mark
 * (VmHWM, the peak since the process started) at the end.
 */
export function sampleMemory(server, intervalMs = 25) {
  let procs = server.workerdProcesses();
  let found = Date.now();
  let peakWorker = 0;
  let peakAll = 0;
  let samples = 0;
  const tick = () => {
    if (Date.now() - found > 1000) {
      procs = server.workerdProcesses();
      found = Date.now();
    }
    let all = 0;
    let w = 0;
    for (const p of procs) {
      const m = memoryOf(p.pid);
      if (!m) continue;
      all += m.rssMb;
      if (p.role === "worker") w += m.rssMb;
    }
    peakAll = Math.max(peakAll, all);
    peakWorker = Math.max(peakWorker, w);
    samples++;
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      const hwm = procs.filter((p) => p.role === "worker").reduce((s, p) => s + (memoryOf(p.pid)?.hwmMb ?? 0), 0);
      return { peakWorkerRssMb: peakWorker, peakAllWorkerdRssMb: peakAll, workerHwmMb: hwm, samples, processes: procs };
    },
  };
}

/** CPU seconds (user + system) used so far by the processes of the given process groups. */
export function cpuSecondsOfGroups(pgids) {
  const want = new Set(pgids);
  const tick = 100; // USER_HZ on Linux
  let total = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields[0] is state (field 3); pgrp is field 5, utime 14, stime 15
      if (!want.has(Number(fields[2]))) continue;
      total += (Number(fields[11]) + Number(fields[12])) / tick;
    } catch {
      // raced with an exit
    }
  }
  return total;
}

/** Busy CPU seconds of the whole machine so far (all cores), from /proc/stat. */
export function machineBusySeconds() {
  try {
    const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu;
    return (user + nice + system + irq + softirq + steal) / 100;
  } catch {
    return null;
  }
}

/**
 * The TCP port the Worker's own workerd serves on, behind wrangler's proxy, or null. Found from the
 * process's listening sockets and confirmed with GET `probePath`: used only to measure what the
 * proxy hop costs, never to drive the benchmark. (Probing its capnp debug port this way makes workerd
 * log a harmless "RPC connection broken" warning for that one connection.)
 */
export async function directPortOf(server, probePath = "/healthz") {
  const worker = server.workerdProcesses().find((p) => p.role === "worker");
  if (!worker) return null;
  try {
    const inodes = new Set();
    for (const fd of readdirSync(`/proc/${worker.pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${worker.pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
    const ports = [];
    for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === "0A" && inodes.has(f[9])) ports.push(Number.parseInt(f[1].split(":")[1], 16));
    }
    for (const port of ports) {
      try {
        const res = await fetch(`http://${HOST}:${port}${probePath}`, { signal: AbortSignal.timeout(1000) });
        const text = await res.text();
        if (res.ok && text.includes('"ok":true')) return port;
      } catch {
        // not this one
      }
    }
  } catch {
    // no /proc access
  }
  return null;
}
