/**
 * Builds the console (SPEC §13) into dist/assets/console/: the page, its stylesheet and one bundled,
 * minified script made by esbuild from console/src/main.ts (which imports the typed client). wrangler.toml
 * serves dist/assets as the Worker's static assets, so the directory must exist before any wrangler
 * or vitest run: every entry point (npm start/test/deploy, the vitest config, the e2e dev servers, the
 * bench) calls `buildConsole()`. It is synchronous and takes well under a second; files are written to a
 * temporary name and renamed, so parallel builds (node --test runs files at once) never serve half a file.
 */
import { buildSync } from "esbuild";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** wrangler.toml's `[assets] directory`. */
export const ASSETS_DIR = join(root, "dist", "assets");
export const CONSOLE_DIR = join(ASSETS_DIR, "console");

function writeAtomic(path, content) {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

/** @returns {{ files: Record<string, {bytes: number, gzip: number}>, total: {bytes: number, gzip: number} }} */
export function buildConsole() {
  mkdirSync(CONSOLE_DIR, { recursive: true });
  const result = buildSync({
    entryPoints: [join(root, "console", "src", "main.ts")],
    bundle: true,
    minify: true,
    format: "esm",
    target: "es2022",
    platform: "browser",
    write: false,
    legalComments: "none",
    logLevel: "silent",
  });
  const outputs = {
    "console.js": result.outputFiles[0].contents,
    "console.css": readFileSync(join(root, "console", "console.css")),
    "index.html": readFileSync(join(root, "console", "index.html")),
  };
  const files = {};
  const total = { bytes: 0, gzip: 0 };
  for (const [name, content] of Object.entries(outputs)) {
    writeAtomic(join(CONSOLE_DIR, name), content);
    const size = { bytes: content.length, gzip: gzipSync(content).length };
    files[name] = size;
    total.bytes += size.bytes;
    total.gzip += size.gzip;
  }
  return { files, total };
}

// `npm run build:console`
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { files, total } = buildConsole();
  for (const [name, s] of Object.entries(files)) process.stdout.write(`dist/assets/console/${name.padEnd(12)} ${String(s.bytes).padStart(7)} B  ${String(s.gzip).padStart(6)} B gzipped\n`);
  process.stdout.write(`total${" ".repeat(27)}${String(total.bytes).padStart(7)} B  ${String(total.gzip).padStart(6)} B gzipped\n`);
}
