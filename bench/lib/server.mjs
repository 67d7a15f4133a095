/**
 * The benchmark's servers: the shared `wrangler dev` harness (scripts/lib/dev-server.mjs) plus a
 * Worker frozen into one bundle, finding the workerd processes under a server, and sampling their
 * memory and CPU.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { absoluteAssets, DevServer as BaseDevServer, HOST, installCleanup as installServerCleanup, scratchDir } from "../../scripts/lib/dev-server.mjs";

export { cleanUpAll, freePort, HOST, scratchDir } from "../../scripts/lib/dev-server.mjs";

/** Exit, signal and crash handlers that stop every server (once per process). */
export const installCleanup = () => installServerCleanup("bench");

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
  absoluteAssets("", root); // builds the console: the dry run checks the assets directory exists
  execFileSync(process.execPath, [join(root, "node_modules", "wrangler", "bin", "wrangler.js"), "deploy", "--dry-run", "--outdir", out, "--config", config], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", CI: "1" },
    timeout: 120_000,
  });
  const entry = readdirSync(out).find((f) => /\.(m?js)$/.test(f));
  if (!entry) return null;
  const frozen = absoluteAssets(text.replace(/^main\s*=.*$/m, `main = ${JSON.stringify(join(out, entry))}\nno_bundle = true`), root);
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, `# Frozen copy of ${source} for the benchmark: main is its bundle.\n${frozen}`);
  return path;
}

/** A `wrangler dev --local` server for the benchmark, which can find its workerd processes. */
export class DevServer extends BaseDevServer {
  /** @param {{ root: string, label: string, config?: string, vars?: Record<string, string>, logLevel?: string, observability?: boolean }} options */
  constructor(options) {
    // wrangler dev records a trace of every invocation (request, RPC, alarm) into a local SQLite store
    // for its dashboard, fsync included: a dev-only cost of several ms per call that is not the
    // runtime's. Off unless asked for.
    // `observability: true` turns it on for one server (the bench's one row measured with it).
    const on = options.observability ?? process.env.X_LOCAL_OBSERVABILITY === "true";
    super({ ...options, env: { X_LOCAL_OBSERVABILITY: on ? "true" : "false" } });
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
  let startWorker = null;
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
    startWorker ??= w;
    samples++;
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      tick();
      const hwm = procs.filter((p) => p.role === "worker").reduce((s, p) => s + (memoryOf(p.pid)?.hwmMb ?? 0), 0);
      return { peakWorkerRssMb: peakWorker, startWorkerRssMb: startWorker ?? 0, peakAllWorkerdRssMb: peakAll, workerHwmMb: hwm, samples, processes: procs };
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
