/**
 * The kernel's Worker as one ES module, built with esbuild from src/index.ts into a cache directory
 * (default node_modules/.cache/agent-kernel/) and rebuilt only when a file under src/ (or
 * package.json / package-lock.json) is newer than the bundle. The typed client (src/client) is
 * bundled next to it, so the kit runs on any Node without a TypeScript loader.
 */
import { mkdirSync, readdirSync, renameSync, statSync, existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const defaultCacheDir = () => process.env.AGENT_KERNEL_CACHE_DIR || join(root, "node_modules", ".cache", "agent-kernel");

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (entry.isFile()) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function sourcesMtime() {
  let newest = newestMtime(join(root, "src"));
  for (const f of ["package.json", "package-lock.json", "testing/build.mjs"]) {
    const p = join(root, f);
    if (existsSync(p)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Wrangler's compatibility settings, read from wrangler.toml (the kit runs the Worker as deployed). */
export function compatibility() {
  const toml = readFileSync(join(root, "wrangler.toml"), "utf8");
  const date = /^\s*compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1] ?? "2026-11-01";
  const flagsText = /^\s*compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? '"nodejs_compat"';
  const flags = [...flagsText.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  return { compatibilityDate: date, compatibilityFlags: flags };
}

const memo = new Map();

/**
 * Builds (if stale) and returns `{ worker, client, built, ms }`: the paths of the bundled Worker and
 * client, whether this call built them, and how long it took.
 */
export function ensureBuilt({ cacheDir = defaultCacheDir(), force = false } = {}) {
  if (!force && memo.has(cacheDir)) return memo.get(cacheDir);
  const p = build(cacheDir, force);
  memo.set(cacheDir, p);
  p.catch(() => memo.delete(cacheDir));
  return p;
}

async function build(cacheDir, force) {
  const worker = join(cacheDir, "worker.mjs");
  const client = join(cacheDir, "client.mjs");
  const started = performance.now();
  const fresh = (f) => existsSync(f) && statSync(f).mtimeMs >= sourcesMtime();
  if (!force && fresh(worker) && fresh(client)) return { worker, client, built: false, ms: performance.now() - started };
  mkdirSync(cacheDir, { recursive: true });
  const { build: esbuild } = await import("esbuild");
  // Another test process may build at the same time: each writes its own directory and renames
  // the files into place, so a reader never sees half a bundle.
  const tmp = join(cacheDir, `.build-${process.pid}-${Date.now()}`);
  try {
    const common = { bundle: true, format: "esm", platform: "neutral", target: "es2022", logLevel: "silent", legalComments: "none" };
    await Promise.all([
      esbuild({
        ...common,
        entryPoints: [join(root, "src", "index.ts")],
        outfile: join(tmp, "worker.mjs"),
        conditions: ["workerd", "worker", "browser"],
        mainFields: ["module", "main"],
        external: ["cloudflare:*", "node:*"],
        sourcemap: "linked",
      }),
      esbuild({ ...common, entryPoints: [join(root, "src", "client", "index.ts")], outfile: join(tmp, "client.mjs"), platform: "node" }),
    ]);
    renameSync(join(tmp, "worker.mjs.map"), `${worker}.map`);
    renameSync(join(tmp, "worker.mjs"), worker);
    renameSync(join(tmp, "client.mjs"), client);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { worker, client, built: true, ms: performance.now() - started };
}
