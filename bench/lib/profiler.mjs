/**
 * The V8 CPU profiler of a `wrangler dev` Worker's isolate, through wrangler's inspector port, and
 * the attribution of its samples to source files (through the bundle's source map). Used by
 * bench/profile.mjs (a report of where the time goes) and bench/run.mjs (kernelCpuMsPerWorker,
 * kernelCpuMsPerTurn).
 *
 * All Durable Objects of a Worker share one isolate, so a profile covers the kernel, the process
 * objects and the workspace together; `kernelMs` separates the kernel object's share.
 */
import { readFileSync } from "node:fs";

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c, i]));

/** Source-map lookup: (generated line, column) → source file, or null. */
export function parseSourceMap(map) {
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

/** A DevTools-protocol client for wrangler's inspector proxy. */
export class Inspector {
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

/** Attaches the profiler to a DevServer's Worker isolate. `start()`, then `stop()` → the raw profile. */
export async function attachProfiler(server, { intervalUs = 200 } = {}) {
  const inspectorPort = server.child.spawnargs[server.child.spawnargs.indexOf("--inspector-port") + 1];
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const inspector = new Inspector(targets[0].webSocketDebuggerUrl);
  await inspector.open();
  await inspector.send("Profiler.enable");
  await inspector.send("Profiler.setSamplingInterval", { interval: intervalUs });
  return {
    start: () => inspector.send("Profiler.start"),
    stop: async () => (await inspector.send("Profiler.stop", {}, 120_000)).profile,
    close: () => inspector.close(),
  };
}

/** The source-map lookup of a frozen config's bundle (bench/lib/server.mjs freezeWorker), or null. */
export function bundleLookup(frozenConfig) {
  try {
    const bundleFile = JSON.parse(readFileSync(frozenConfig, "utf8").match(/^main = (".*")$/m)[1]);
    return parseSourceMap(JSON.parse(readFileSync(`${bundleFile}.map`, "utf8")));
  } catch {
    return null;
  }
}

/**
 * The kernel's calls to process objects (src/kernel/deliveries.ts). On local workerd every object
 * runs on one thread, and a call to an object that is not yet running creates it (opens its SQLite
 * database) synchronously: V8 charges that native work to the calling function's own time. It is
 * the platform creating the callee, not the kernel's code (bench/floor's fan-out shows the same on
 * its caller), and in production it happens on the callee's machine; counted apart as `rpcOutMs`.
 */
const RPC_OUT = /^(deliverEntry|deliverBatch)$/;

/** A sample belongs to the kernel object when its stack runs kernel code and no other object's. */
const KERNEL_FILE = /(^|\/)src\/(objects\/kernel\.ts|kernel\/)/;
const OTHER_OBJECT_FILE = /(^|\/)src\/objects\/(process|workspace)\.ts/;

/**
 * Self time per file, per function, native time per calling JS function, and `kernelMs`: the time of
 * every sample whose stack has a frame of the kernel object's code (src/objects/kernel.ts,
 * src/kernel/*) and none of the process or workspace object's, i.e. the kernel's own work including
 * the library code and native calls (SQLite, JSON, crypto) it makes, less `rpcOutMs` (see RPC_OUT). Within one isolate RPC calls
 * between objects are separate events, so a kernel method never shares a stack with its caller.
 */
export function attribute(profile, lookup) {
  const total = profile.endTime - profile.startTime; // µs
  const hits = new Map();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const perSample = profile.samples.length ? total / profile.samples.length / 1000 : 0; // ms
  const byFile = new Map();
  const byFn = new Map();
  const byCaller = new Map();
  const parentOf = new Map();
  const nodeById = new Map(profile.nodes.map((nd) => [nd.id, nd]));
  for (const nd of profile.nodes) for (const c of nd.children ?? []) parentOf.set(c, nd.id);
  const fileCache = new Map();
  const fileOf = (f) => {
    const key = `${f.url}:${f.lineNumber}:${f.columnNumber}`;
    if (fileCache.has(key)) return fileCache.get(key);
    const src = lookup && f.url.endsWith(".js") ? lookup(f.lineNumber, f.columnNumber) : null;
    const file = src ? src.replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, "node_modules/") : f.url.replace(/^.*\//, "");
    fileCache.set(key, file);
    return file;
  };
  const kernelOf = new Map();
  const isKernel = (id) => {
    if (kernelOf.has(id)) return kernelOf.get(id);
    let kernel = false;
    let other = false;
    for (let at = id, guard = 0; at !== undefined && guard < 500; at = parentOf.get(at), guard++) {
      const f = nodeById.get(at).callFrame;
      if (!f.url) continue;
      const file = fileOf(f);
      if (OTHER_OBJECT_FILE.test(file)) other = true;
      else if (KERNEL_FILE.test(file)) kernel = true;
    }
    kernelOf.set(id, kernel && !other);
    return kernel && !other;
  };
  let idle = 0;
  let kernelMs = 0;
  let rpcOutMs = 0;
  /** Self time within the kernel's share, by the kernel function it ran under (native calls under their JS caller). */
  const kernelBy = new Map();
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
    if (file !== "(idle)" && isKernel(node.id)) {
      if (RPC_OUT.test(f.functionName) && KERNEL_FILE.test(file)) rpcOutMs += ms;
      else {
        kernelMs += ms;
        let at = node.id;
        const wrapper = (cf) => !cf.functionName && /objects\/kernel\.ts$/.test(fileOf(cf));
        while (at !== undefined && (!nodeById.get(at).callFrame.url || !KERNEL_FILE.test(fileOf(nodeById.get(at).callFrame)) || wrapper(nodeById.get(at).callFrame))) at = parentOf.get(at);
        const kf = at !== undefined ? nodeById.get(at).callFrame : null;
        const key = kf ? `${kf.functionName || "(anonymous)"}  ${fileOf(kf)}` : "?";
        kernelBy.set(key, (kernelBy.get(key) ?? 0) + ms);
      }
    }
    byFile.set(file, (byFile.get(file) ?? 0) + ms);
    const fnKey = `${f.functionName || "(anonymous)"}  ${file}`;
    byFn.set(fnKey, (byFn.get(fnKey) ?? 0) + ms);
    if (file === "(native)") {
      // Native work (SQLite statements, storage, RPC dispatch) charged to the JS function that called it.
      let at = parentOf.get(node.id);
      // Past the kernel's SQL wrapper (an anonymous arrow in src/objects/kernel.ts) to the code that ran the statement.
      const skip = (cf) => !cf.url || (!cf.functionName && /objects\/kernel\.ts$/.test(fileOf(cf)));
      for (let guard = 0; at !== undefined && guard < 200 && skip(nodeById.get(at).callFrame); guard++) at = parentOf.get(at);
      const caller = at !== undefined ? nodeById.get(at).callFrame : null;
      const key = `${f.functionName || "(anonymous)"} ← ${caller ? `${caller.functionName || "(anonymous)"}  ${fileOf(caller)}` : "?"}`;
      byCaller.set(key, (byCaller.get(key) ?? 0) + ms);
    }
  }
  const sorted = (m) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { profiledMs: total / 1000, idleMs: idle, busyMs: total / 1000 - idle, kernelMs, rpcOutMs, kernelByFn: sorted(kernelBy), byFile: sorted(byFile), byFn: sorted(byFn), byCaller: sorted(byCaller) };
}
