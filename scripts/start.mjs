#!/usr/bin/env node
/**
 * `npm start`: runs the kernel locally on workerd through `wrangler dev`.
 *
 * - creates .dev.vars from .dev.vars.example on first run, with a fresh random AUTH_SECRET and
 *   ALLOW_PRIVATE_HOSTS=127.0.0.1,localhost (webhooks on this machine); adds that setting to an
 *   older .dev.vars that has none;
 * - serves on http://127.0.0.1:$PORT (default 8787), keeping Durable Object state in
 *   .wrangler/state so processes, files and the audit log survive restarts (`npm run reset` deletes it);
 * - once GET /healthz answers, prints the URL, how to mint a token and a curl example.
 *
 * Extra arguments go to wrangler: `npm start -- --log-level debug`.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseDevVars, randomSecret } from "./lib/jwt.mjs";
import { buildConsole } from "./lib/console-build.mjs";
import { LOCAL_STATE_DIR } from "./lib/local-state.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const devVars = join(root, ".dev.vars");
const example = join(root, ".dev.vars.example");
const wranglerJs = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
/** Shared with `npm run reset`, which deletes it. */
const persistTo = LOCAL_STATE_DIR;
const host = "127.0.0.1";
const PLACEHOLDER = "change-me-local-dev-secret";
/** Local development calls webhooks on this machine; the kernel refuses private hosts unless listed. */
const LOCAL_PRIVATE_HOSTS = "127.0.0.1,localhost";
const HEALTH_TIMEOUT_MS = 120_000;

const say = (line = "") => process.stdout.write(`${line}\n`);
const warn = (line) => process.stderr.write(`[start] ${line}\n`);
function die(message) {
  warn(message);
  process.exit(1);
}

// ---------- preflight ----------

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  die(`Node ${process.versions.node} is too old for wrangler 4 (needs >= 22.12). Run it as \`npm start\`, which uses the Node 22 pinned in node_modules.`);
}
if (!existsSync(wranglerJs)) die("wrangler is not installed: run `npm install` first.");

const portText = process.env.PORT ?? "8787";
if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) die(`PORT must be a TCP port number, got ${JSON.stringify(portText)}.`);
const port = Number(portText);
const url = `http://${host}:${port}`;

/** Creates .dev.vars from the example with a fresh secret; warns about a placeholder or missing one. */
function ensureDevVars() {
  if (!existsSync(devVars)) {
    const template = existsSync(example) ? readFileSync(example, "utf8") : "AUTH_SECRET=\n";
    const secretLine = `AUTH_SECRET=${randomSecret()}`;
    let text = /^AUTH_SECRET=.*$/m.test(template) ? template.replace(/^AUTH_SECRET=.*$/m, secretLine) : `${secretLine}\n${template}`;
    if (!("ALLOW_PRIVATE_HOSTS" in parseDevVars(text))) text += `\nALLOW_PRIVATE_HOSTS=${LOCAL_PRIVATE_HOSTS}\n`;
    writeFileSync(devVars, text, { mode: 0o600, flag: "wx" });
    say(`Created .dev.vars with a fresh random AUTH_SECRET (git ignores it).`);
    return;
  }
  const vars = parseDevVars(readFileSync(devVars, "utf8"));
  if (!vars.AUTH_SECRET) die(".dev.vars has no AUTH_SECRET: add one (see .dev.vars.example) or delete .dev.vars to have a fresh one generated.");
  if (vars.AUTH_SECRET === PLACEHOLDER) warn(".dev.vars still has the example's placeholder AUTH_SECRET; fine on this machine, but consider a random one.");
  // A .dev.vars from before the setting existed: add it, so webhooks on this machine keep working.
  // An explicit value, even an empty one, is the developer's choice and stays.
  if (!("ALLOW_PRIVATE_HOSTS" in vars)) {
    appendFileSync(devVars, `\n# Webhook URLs may point at these non-public hosts (see .dev.vars.example).\nALLOW_PRIVATE_HOSTS=${LOCAL_PRIVATE_HOSTS}\n`);
    say(`Added ALLOW_PRIVATE_HOSTS=${LOCAL_PRIVATE_HOSTS} to .dev.vars, so webhooks on this machine can be called.`);
  }
}

/** Resolves when nothing listens on host:port, rejects with a readable message otherwise. */
function ensurePortFree() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err) =>
      reject(new Error(err.code === "EADDRINUSE" ? `port ${port} is already in use: stop what runs there or pick another, e.g. PORT=8788 npm start` : `cannot listen on ${host}:${port}: ${err.message}`)),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

async function healthy() {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

// ---------- run ----------

ensureDevVars();
// The console's files are the Worker's static assets: wrangler needs them built before it starts.
try {
  buildConsole();
} catch (err) {
  die(`could not build the console: ${err instanceof Error ? err.message : String(err)}`);
}
try {
  await ensurePortFree();
} catch (err) {
  die(err.message);
}

const args = [wranglerJs, "dev", "--local", "--ip", host, "--port", String(port), "--persist-to", persistTo, "--show-interactive-dev-session=false", ...process.argv.slice(2)];
const child = spawn(process.execPath, args, {
  cwd: root,
  stdio: "inherit",
  // The kernel never reads `request.cf`, so wrangler need not fetch its real value from
  // workers.cloudflare.com (offline that fetch fails with an alarming stack trace); set
  // CLOUDFLARE_CF_FETCH_ENABLED=true to have it anyway.
  env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false" },
});

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (stopping) {
      // A second signal: stop waiting for a graceful shutdown.
      child.kill("SIGKILL");
      return;
    }
    stopping = true;
    child.kill(signal);
    setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
  });
}

// `npm start` runs this under `sh -c`; when npm itself is sent SIGTERM the shell dies without passing
// it on. Notice being orphaned and shut wrangler down instead of leaving a server behind.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) process.emit("SIGTERM", "SIGTERM");
}, 1000).unref();

child.on("error", (err) => die(`could not start wrangler: ${err.message}`));
child.on("exit", (code, signal) => {
  if (signal && !stopping) warn(`wrangler was stopped by ${signal}`);
  process.exit(code ?? (stopping ? 0 : 1));
});

const deadline = Date.now() + HEALTH_TIMEOUT_MS;
while (!(await healthy())) {
  if (child.exitCode !== null || child.signalCode !== null || stopping) break;
  if (Date.now() > deadline) {
    warn(`${url}/healthz did not answer within ${HEALTH_TIMEOUT_MS / 1000} s; wrangler keeps running, see its output above.`);
    break;
  }
  await new Promise((r) => setTimeout(r, 250));
}

if (child.exitCode === null && child.signalCode === null && !stopping && (await healthy())) {
  const state = relative(process.cwd(), persistTo) || persistTo;
  say("");
  say(`Agent Kernel is running at ${url}  (state persisted in ${state}; Ctrl-C to stop)`);
  say("");
  say("  Mint a bearer token (role: viewer | operator | admin, default admin; every token expires: --ttl, default 24h):");
  say("    npm run token -- <tenant> [role] [--ttl 24h]");
  say("    TOKEN=$(npm run -s token -- acme)");
  say("");
  say("  Try it:");
  say(`    curl -H "Authorization: Bearer $(npm run -s token -- acme)" ${url}/v1/procs`);
  say("");
  say(`  The console: ${url}/console/  (paste a token from \`npm run token -- <tenant>\`)`);
  say("");
}
