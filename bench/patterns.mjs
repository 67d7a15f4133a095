#!/usr/bin/env node
/**
 * `npm run bench:patterns`: how long glob and grep matching take on adversarial inputs, at growing
 * input sizes, to show the time is linear in the input (and bounded per call). ~20-40 s.
 *
 * It measures the project's own code: src/lib/glob.ts and the grep tool of src/workspace/fs-tools.ts
 * (runFsTool over an in-memory store), bundled with esbuild into a temp directory and imported.
 * Then, for contrast and clearly labelled, the approach they replaced (globs compiled to backtracking
 * RegExps, grep with `new RegExp`) on small inputs only, each run in a worker thread that is killed
 * after 2 s. Not part of `npm test`; it asserts nothing.
 *
 *   npm run bench:patterns
 *   npm run bench:patterns -- --quick     sizes up to 100k only
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const quick = process.argv.includes("--quick");
const SIZES = quick ? [1_000, 10_000, 100_000] : [1_000, 10_000, 100_000, 1_000_000];
const OLD_CAP_MS = 2000;

// ---------------------------------------------------------------- the project's code, bundled

const tmp = mkdtempSync(join(os.tmpdir(), "bench-patterns-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
const entry = join(tmp, "entry.ts");
writeFileSync(
  entry,
  [
    `export { CompiledGlob, MAX_GLOB_LENGTH } from ${JSON.stringify(join(root, "src/lib/glob.ts"))};`,
    `export { runFsTool, compileGrepPattern, MAX_GREP_WORK, MAX_GREP_SCAN_BYTES } from ${JSON.stringify(join(root, "src/workspace/fs-tools.ts"))};`,
  ].join("\n"),
);
const bundle = join(tmp, "patterns.mjs");
const built = spawnSync(join(root, "node_modules/.bin/esbuild"), [entry, "--bundle", "--format=esm", "--platform=node", `--outfile=${bundle}`, "--log-level=warning"], {
  stdio: "inherit",
});
if (built.status !== 0) throw new Error("esbuild failed");
const { CompiledGlob, MAX_GLOB_LENGTH, runFsTool, compileGrepPattern, MAX_GREP_WORK, MAX_GREP_SCAN_BYTES } = await import(pathToFileURL(bundle).href);

// ---------------------------------------------------------------- helpers

const now = () => performance.now();
const fmtMs = (ms) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtSize = (n) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));
const pad = (s, n) => String(s).padStart(n);

/** A seeded string of `a` and `b` (mulberry32), so runs compare. */
function randomAb(n, seed = 1) {
  let a = seed >>> 0;
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 1 ? "a" : "b";
  }
  return out.join("");
}

/** Prints one row per size: ms, µs per 1000 characters, and the ratio to the previous size (10× input → ≈10× time when linear). */
function table(title, rows) {
  console.log(`\n  ${title}`);
  console.log(`    ${"input".padStart(6)} ${"ms".padStart(9)} ${"µs/1k chars".padStart(12)} ${"× prev".padStart(7)}  note`);
  let prev = null;
  for (const { size, ms, note = "" } of rows) {
    const ratio = prev === null ? "" : (ms / prev).toFixed(1);
    console.log(`    ${pad(fmtSize(size), 6)} ${pad(fmtMs(ms), 9)} ${pad(((ms * 1000) / (size / 1000)).toFixed(1), 12)} ${pad(ratio, 7)}  ${note}`);
    prev = ms;
  }
}

/** The median of `runs` timed runs after one untimed warm-up run (each compiles afresh, so nothing is cached across runs). */
function timed(runs, fn) {
  fn();
  const times = [];
  let result;
  for (let i = 0; i < runs; i++) {
    const t = now();
    result = fn();
    times.push(now() - t);
  }
  times.sort((x, y) => x - y);
  return { ms: times[Math.floor(runs / 2)], result };
}

class MemoryStore {
  constructor(files) {
    this.files = new Map(Object.entries(files));
  }
  get(path) {
    return this.files.get(path) ?? null;
  }
  stat(path) {
    const text = this.files.get(path);
    return text === undefined ? null : { path, bytes: text.length };
  }
  put() {}
  delete() {
    return false;
  }
  *list(prefix, limit = Infinity) {
    let n = 0;
    for (const path of [...this.files.keys()].filter((p) => p.startsWith(prefix)).sort()) {
      if (n++ >= limit) return;
      yield this.stat(path);
    }
  }
}
const ALL = [{ path: "/**", mode: "rw" }];

// ---------------------------------------------------------------- globs

const started = now();
console.log("Pattern matching on adversarial inputs (the project's code: src/lib/glob.ts, grep in src/workspace/fs-tools.ts)");
console.log(`node ${process.version}, ${os.cpus()[0]?.model ?? "cpu"} ×${os.cpus().length}; each row is the median of 3 runs after a warm-up, compile included`);

const star = "*a".repeat(MAX_GLOB_LENGTH / 2);
const globCases = [
  ["*a*a*a*a*a*a*a*a*a*a*a*a*b against aaa…a", "*a*a*a*a*a*a*a*a*a*a*a*a*b", (n) => "a".repeat(n)],
  ["**/**/**/**/**/**/x against /a/a/…/a/y", "**/**/**/**/**/**/x", (n) => "/a".repeat(n / 2 - 1) + "/y"],
  [`(*a)×${MAX_GLOB_LENGTH / 2} + b (${MAX_GLOB_LENGTH} chars, the cap) against aaa…a`, star.slice(0, -1) + "b", (n) => "a".repeat(n)],
  [`*a?…? (${MAX_GLOB_LENGTH} chars, exponential DFA, its cache thrashes) against random a/b`, "*a" + "?".repeat(MAX_GLOB_LENGTH - 2), (n) => randomAb(n)],
];
console.log("\nglob: one match of a glob against a value of n characters (paths are capped at 4096; larger sizes show the trend)");
for (const [title, glob, value] of globCases) {
  const rows = SIZES.map((size) => {
    const v = value(size);
    const { ms, result } = timed(3, () => new CompiledGlob(glob).test(v));
    return { size, ms, note: result ? "match" : "no match" };
  });
  table(title, rows);
}

{
  const [, segmentGlob, value] = globCases[3];
  const glob = "/" + segmentGlob.slice(0, MAX_GLOB_LENGTH - 1);
  const path = "/" + value(4095);
  const { ms } = timed(5, () => new CompiledGlob(glob).test(path));
  const warm = new CompiledGlob(glob);
  const again = timed(5, () => warm.test(path)).ms;
  console.log(`\n  at the caps (a ${MAX_GLOB_LENGTH}-char glob, a 4096-char path), the worst case above: ${fmtMs(ms)} ms per match (${fmtMs(again)} ms with its DFA warm)`);
}

// ---------------------------------------------------------------- grep

const grep = (files, args) => runFsTool(new MemoryStore(files), "grep", args, ALL);
const grepNote = (out) => {
  if (!out.ok) return `error: ${out.message.slice(0, 60)}`;
  const last = out.output.split("\n").at(-1);
  return last.startsWith("[stopped") ? last.slice(0, 72) + "…]" : `${out.output === "(no matches)" ? 0 : out.output.split("\n").length} match(es)`;
};
const instructions = (pattern) => compileGrepPattern(pattern, false).instructions ?? "—";

const grepCases = [
  ["(a+)+$ against one line aaa…ab", "(a+)+$", (n) => "a".repeat(n - 1) + "b"],
  ["^(a|aa)+$ against one line aaa…ab", "^(a|aa)+$", (n) => "a".repeat(n - 1) + "b"],
  ["[ab]*a[ab]{20}$ against one line of random a/b (defeats the DFA)", "[ab]*a[ab]{20}$", (n) => randomAb(n)],
  ["[ab]*a[ab]{20}$ against lines of 100 random a/b", "[ab]*a[ab]{20}$", (n) => randomAb(n).replace(/(.{99})./g, "$1\n")],
];
console.log(`\ngrep: one grep call over a file of n characters (work budget: ${MAX_GREP_WORK} characters × instructions per call)`);
for (const [title, pattern, text] of grepCases) {
  const rows = SIZES.map((size) => {
    const files = { "/f.txt": text(size) };
    const { ms, result } = timed(3, () => grep(files, { pattern }));
    return { size, ms, note: grepNote(result) };
  });
  table(`${title} (${instructions(pattern)} instructions)`, rows);
}

console.log(`\ngrep: one whole call at the scan cap (${MAX_GREP_SCAN_BYTES / 2 ** 20} files of 1 MiB, lines of 1000 random a/b): bounded by the byte cap or the work budget`);
const big = randomAb(2 ** 20, 7).replace(/(.{999})./g, "$1\n");
const sixteen = Object.fromEntries(Array.from({ length: MAX_GREP_SCAN_BYTES / 2 ** 20 }, (_, i) => [`/big/${String(i).padStart(2, "0")}.txt`, big]));
console.log(`    ${"pattern".padEnd(24)} ${"instr.".padStart(6)} ${"ms".padStart(8)}  note`);
for (const pattern of ["needle", "(?i)NEEDLE|b{3}a{3}b{3}", "[ab]*a[ab]{20}$", "(?:a+b+)+$", "[ab]*a[ab]{90}$", "[ab]*a[ab]{300}$", "[ab]*a[ab]{990}$", "(a?){1000}a{1000}"]) {
  const { ms, result } = timed(1, () => grep(sixteen, { pattern, maxResults: 1000 }));
  console.log(`    ${pattern.padEnd(24)} ${pad(instructions(pattern), 6)} ${pad(fmtMs(ms), 8)}  ${grepNote(result)}`);
}

// ---------------------------------------------------------------- the old approach, capped

/** The glob translation this change replaced (src/lib/glob.ts before it), verbatim but for types. */
function oldGlobToRegExp(glob) {
  let re = "^";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const atSegmentStart = i === 0 || glob[i - 1] === "/";
        const atSegmentEnd = i + 2 === glob.length || glob[i + 2] === "/";
        i++;
        if (atSegmentStart && atSegmentEnd) {
          if (i + 1 === glob.length) {
            if (re.endsWith("/")) re = re.slice(0, -1) + "(?:/.*)?";
            else re += ".*";
          } else {
            i++;
            re += "(?:[^/]*/)*";
          }
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const negated = glob[i + 1] === "!" || glob[i + 1] === "^";
      const first = i + (negated ? 2 : 1);
      const end = glob.indexOf("]", first + 1);
      if (end === -1) re += "\\[";
      else {
        const body = glob.slice(first, end).replace(/[\\\]]/g, "\\$&");
        re += (negated ? "[^/" : "[") + body + "]";
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try { return new RegExp(re + "$"); } catch { return /(?!)/; }
}

const OLD_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
${oldGlobToRegExp.toString()}
const { kind, pattern, value } = workerData;
const t = performance.now();
const matched = kind === "glob" ? oldGlobToRegExp(pattern).test(value) : value.split("\\n").some((line) => new RegExp(pattern).test(line));
parentPort.postMessage({ ms: performance.now() - t, matched });
`;

/** Runs one old-style match in a worker thread; kills it after OLD_CAP_MS (a sync RegExp cannot be interrupted otherwise). */
function oldMatch(kind, pattern, value) {
  return new Promise((resolve) => {
    const worker = new Worker(OLD_WORKER, { eval: true, workerData: { kind, pattern, value } });
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve(null);
    }, OLD_CAP_MS);
    worker.once("message", (m) => {
      clearTimeout(timer);
      void worker.terminate();
      resolve(m);
    });
    worker.once("error", () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

console.log(`\nOLD APPROACH, for contrast (not the project's code any more): globs as backtracking RegExps, grep with new RegExp.`);
console.log(`Small inputs only; each run is killed after ${OLD_CAP_MS} ms, and a case stops at its first kill. NEW is the project's code on the same input.`);
const oldCases = [
  ["glob", "*a*a*a*a*a*a*a*a*a*a*a*a*b against aaa…a", "*a*a*a*a*a*a*a*a*a*a*a*a*b", (n) => "a".repeat(n), [16, 20, 24, 28, 32, 40, 64]],
  ["glob", "**/**/**/**/**/**/x against /a/a/…/a/y", "**/**/**/**/**/**/x", (n) => "/a".repeat(n / 2 - 1) + "/y", [32, 64, 128, 256, 512]],
  ["grep", "(a+)+$ against aaa…ab", "(a+)+$", (n) => "a".repeat(n - 1) + "b", [16, 20, 24, 26, 28, 30, 32]],
  ["grep", "^(a|aa)+$ against aaa…ab", "^(a|aa)+$", (n) => "a".repeat(n - 1) + "b", [16, 24, 32, 36, 40, 44]],
];
for (const [kind, title, pattern, value, sizes] of oldCases) {
  console.log(`\n  ${kind}: ${title}`);
  console.log(`    ${"input".padStart(6)} ${"OLD ms".padStart(10)} ${"NEW ms".padStart(8)}`);
  for (const size of sizes) {
    const v = value(size);
    const old = await oldMatch(kind, pattern, v);
    const t = now();
    if (kind === "glob") new CompiledGlob(pattern).test(v);
    else grep({ "/f.txt": v }, { pattern });
    const fresh = now() - t;
    console.log(`    ${pad(size, 6)} ${pad(old ? fmtMs(old.ms) : `> ${OLD_CAP_MS} (killed)`, 10)} ${pad(fmtMs(fresh), 8)}`);
    if (!old) break;
  }
}

console.log(`\ndone in ${((now() - started) / 1000).toFixed(1)} s`);
