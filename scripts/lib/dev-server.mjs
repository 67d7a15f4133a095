/**
 * `wrangler dev` servers for the end-to-end tests and the benchmark: free ports, scratch
 * directories, no metrics, each server in its own process group, and every server and scratch
 * directory cleaned up on any way out (normal end, error, Ctrl-C, SIGTERM, the parent npm going away).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { buildConsole } from "./console-build.mjs";

export const HOST = "127.0.0.1";
/**
 * Vars every server gets unless the caller overrides them: webhooks in the tests and the benchmark
 * call receivers on this machine, which the kernel refuses unless ALLOW_PRIVATE_HOSTS lists them.
 */
export const DEFAULT_VARS = { ALLOW_PRIVATE_HOSTS: "127.0.0.1,localhost" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
/** Exit, signal and crash handlers that clean up (installed once per process). */
export function installCleanup(label = "dev-server") {
  if (installed) return;
  installed = true;
  process.once("exit", cleanUpAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      process.stderr.write(`\n[${label}] ${signal}: stopping servers\n`);
      cleanUpAll();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
  // Run by `npm run` under `sh -c`: if npm is killed, notice being orphaned and stop too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.emit("SIGTERM", "SIGTERM");
  }, 1000).unref();
}

/** A temporary directory, removed with the servers. */
export function scratchDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.add(dir);
  return dir;
}

/** Forgets a scratch directory removed by its owner. */
export function releaseScratchDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  scratchDirs.delete(dir);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, HOST, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/**
 * The project's wrangler.toml copied into `dir` with `main` made absolute. Wrangler keeps its bundles
 * in .wrangler/tmp next to the config and deletes them only on a clean exit, so a killed server would
 * leave them in the repo; next to this copy they go with the scratch directory. (It also keeps the
 * repo's .dev.vars out of the picture.)
 */
export function scratchConfig(root, dir, config = "wrangler.toml") {
  const toml = readFileSync(join(root, config), "utf8");
  const main = /^main\s*=\s*"([^"]+)"\s*$/m.exec(toml);
  if (!main) throw new Error(`${config} has no \`main = "..."\` line to rewrite`);
  const path = join(dir, "wrangler.toml");
  writeFileSync(path, absoluteAssets(toml.replace(main[0], `main = ${JSON.stringify(join(root, main[1]))}`), root));
  return path;
}

/**
 * The `[assets] directory` of a config made absolute (a copy of the config elsewhere still serves the
 * console), after building the console into it (wrangler refuses to start without the directory).
 */
export function absoluteAssets(toml, root) {
  buildConsole();
  return toml.replace(/^(directory\s*=\s*)"([^"]+)"\s*$/m, (_, key, dir) => `${key}${JSON.stringify(isAbsolute(dir) ? dir : join(root, dir))}`);
}

/**
 * One `wrangler dev --local` incarnation, in its own process group so that one signal reaches
 * wrangler's Node processes and its workerd children at once (SIGKILL: as a machine crash would).
 * Without `port`/`persistTo` it takes a free port and fresh state; give them to restart on the same.
 */
export class DevServer {
  /**
   * @param {{ root: string, label: string, config?: string, port?: number, inspectorPort?: number,
   *   persistTo?: string, registry?: string, vars?: Record<string, string>, logLevel?: string,
   *   env?: Record<string, string> }} options
   */
  constructor(options) {
    this.options = options;
    this.label = options.label;
    this.output = [];
    this.exited = false;
    this.child = null;
  }

  async start() {
    const { root, label, config, logLevel = "warn", env = {} } = this.options;
    // The Worker's static assets (the console) must exist before wrangler starts.
    buildConsole();
    const vars = { ...DEFAULT_VARS, ...this.options.vars };
    const port = this.options.port ?? (await freePort());
    const inspectorPort = this.options.inspectorPort ?? (await freePort());
    const scratch = this.options.persistTo && this.options.registry ? null : scratchDir(`agent-kernel-${label}-`);
    this.port = port;
    this.url = `http://${HOST}:${port}`;
    const args = [
      join(root, "node_modules", "wrangler", "bin", "wrangler.js"),
      "dev",
      ...(config ? ["--config", config] : []),
      "--local",
      "--ip", HOST,
      "--port", String(port),
      "--inspector-port", String(inspectorPort),
      "--persist-to", this.options.persistTo ?? join(scratch, "state"),
      ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      "--show-interactive-dev-session=false",
      "--log-level", logLevel,
    ];
    this.child = spawn(process.execPath, args, {
      cwd: root,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: "false",
        // A private dev registry: a killed server leaves its entry behind, and other `wrangler dev`
        // sessions on this machine should neither see ours nor be seen.
        WRANGLER_REGISTRY_PATH: this.options.registry ?? join(scratch, "registry"),
        NO_COLOR: "1",
        FORCE_COLOR: "0",
        CI: "1",
        ...env,
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

  log(lines = 60) {
    return this.output.join("").split("\n").slice(-lines).join("\n");
  }

  async healthy(path = "/healthz") {
    try {
      const res = await fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /**
   * Waits until `path` answers 2xx; returns the boot time in ms. A server that exits because a socket it
   * binds was taken meanwhile (servers starting side by side can race for a free port) is started again,
   * twice at most.
   */
  async ready(path = "/healthz", timeoutMs = 90_000) {
    const t0 = Date.now();
    let restarts = 0;
    while (!(await this.healthy(path))) {
      if (this.exited && restarts < 2 && /Address already in use/.test(this.log())) {
        restarts++;
        try {
          process.kill(-this.child.pid, "SIGKILL"); // its workerd children may outlive wrangler
        } catch {
          // gone
        }
        liveGroups.delete(this.child.pid);
        this.output = [];
        this.exited = false;
        await this.start();
        continue;
      }
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

  /** SIGKILL to the whole group (wrangler, its workerd children, esbuild); resolves once it is gone. */
  async crash() {
    if (!this.child) return;
    // Kill the group even when wrangler itself has exited: workerd may have outlived it.
    try {
      process.kill(-this.child.pid, "SIGKILL");
    } catch (err) {
      if (err.code !== "ESRCH") throw err;
    }
    liveGroups.delete(this.child.pid);
    await Promise.race([this.exitPromise, sleep(10_000)]);
    // The listening socket belongs to workerd; wait until it is really closed.
    const t0 = Date.now();
    while ((await this.healthy()) && Date.now() - t0 < 10_000) await sleep(100);
  }
}
