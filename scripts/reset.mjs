#!/usr/bin/env node
/**
 * `npm run reset`: deletes the local kernel's state, the directory `npm start` persists to
 * (.wrangler/state): every tenant's processes, agents, tasks, files, hooks and audit log. It keeps
 * .dev.vars (AUTH_SECRET, so tokens already minted stay valid) and node_modules.
 *
 *   npm run reset                         # .wrangler/state; refused while `npm start` answers on $PORT
 *   node scripts/reset.mjs --state <dir>  # another wrangler state directory (the tests use a temporary one)
 *
 * A directory that does not look like wrangler state (anything but its `v3` folder inside) is left alone.
 */
import { existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { LOCAL_STATE_DIR } from "./lib/local-state.mjs";

const usage = "usage: npm run reset [-- --state <wrangler state directory>]";
function fail(message, code = 2) {
  process.stderr.write(`[reset] ${message}\n`);
  process.exit(code);
}

let dir = LOCAL_STATE_DIR;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "-h" || arg === "--help") {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  } else if (arg === "--state" || arg.startsWith("--state=")) {
    const value = arg === "--state" ? args[++i] : arg.slice("--state=".length);
    if (!value) fail(`--state needs a directory\n${usage}`);
    dir = resolve(value);
  } else fail(`unknown argument ${arg}\n${usage}`);
}
const shown = relative(process.cwd(), dir) || dir;

/** Whether `npm start` (or anything) answers /healthz on 127.0.0.1:$PORT: deleting its state under it would corrupt it. */
async function serverRunning() {
  const port = process.env.PORT ?? "8787";
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) });
    await res.body?.cancel();
    return res.ok ? port : null;
  } catch {
    return null;
  }
}

function sizeOf(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return { files: 1, bytes: st.size };
  let files = 0;
  let bytes = 0;
  for (const entry of readdirSync(path)) {
    const sub = sizeOf(join(path, entry));
    files += sub.files;
    bytes += sub.bytes;
  }
  return { files, bytes };
}

if (!existsSync(dir)) {
  process.stdout.write(`Nothing to remove: ${shown} does not exist (the local kernel has no state yet).\n`);
  process.exit(0);
}
if (!statSync(dir).isDirectory()) fail(`${shown} is not a directory; not touching it.`);
const strangers = readdirSync(dir).filter((e) => e !== "v3");
if (strangers.length) fail(`${shown} does not look like wrangler state (it holds ${strangers.slice(0, 5).join(", ")}); not touching it.`);
if (dir === LOCAL_STATE_DIR) {
  const port = await serverRunning();
  if (port) fail(`a kernel answers on http://127.0.0.1:${port}: stop \`npm start\` first (Ctrl-C), then run \`npm run reset\` again.`, 1);
}

const { files, bytes } = sizeOf(dir);
rmSync(dir, { recursive: true, force: true });
process.stdout.write(
  `Removed ${shown} (${files} file${files === 1 ? "" : "s"}, ${(bytes / 1024).toFixed(0)} KiB): every tenant's processes, agents, tasks, files, hooks and audit log.\n` +
    "Kept .dev.vars (AUTH_SECRET: tokens minted before still work). The next `npm start` begins empty, pids from 1.\n",
);
