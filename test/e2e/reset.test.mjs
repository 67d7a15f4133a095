/**
 * `npm run reset` (scripts/reset.mjs) deletes the wrangler state directory `npm start` persists to,
 * says what it removed, and touches nothing that does not look like wrangler state. Run against
 * temporary directories (`--state <dir>`), so the repository's own state is never touched.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { LOCAL_STATE_DIR } from "../../scripts/lib/local-state.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const scratch = mkdtempSync(join(tmpdir(), "agent-kernel-reset-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const reset = (...args) => spawnSync(process.execPath, [join(root, "scripts", "reset.mjs"), ...args], { cwd: root, encoding: "utf8" });

describe("npm run reset", () => {
  test("is the package script, and deletes the directory npm start persists to", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.equal(pkg.scripts.reset, "node scripts/reset.mjs");
    assert.equal(LOCAL_STATE_DIR, join(root, ".wrangler", "state"));
    assert.match(readFileSync(join(root, "scripts", "start.mjs"), "utf8"), /const persistTo = LOCAL_STATE_DIR;/);
  });

  test("removes a wrangler state directory and says what it removed", () => {
    const state = join(scratch, "state");
    mkdirSync(join(state, "v3", "do", "agent-kernel-KernelObject"), { recursive: true });
    writeFileSync(join(state, "v3", "do", "agent-kernel-KernelObject", "abc.sqlite"), "x".repeat(4096));
    writeFileSync(join(state, "v3", "do", "agent-kernel-KernelObject", "abc.sqlite-wal"), "y");
    const out = reset("--state", state);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^Removed .*state \(2 files, 4 KiB\)/);
    assert.match(out.stdout, /Kept \.dev\.vars/);
    assert.equal(existsSync(state), false);
    const again = reset("--state", state);
    assert.equal(again.status, 0);
    assert.match(again.stdout, /Nothing to remove: .*does not exist/);
  });

  test("leaves alone a directory that is not wrangler state", () => {
    const other = join(scratch, "precious");
    mkdirSync(other);
    writeFileSync(join(other, "thesis.tex"), "do not delete");
    const out = reset("--state", other);
    assert.equal(out.status, 2);
    assert.match(out.stderr, /does not look like wrangler state \(it holds thesis\.tex\)/);
    assert.equal(existsSync(join(other, "thesis.tex")), true);
    assert.equal(reset("--bogus").status, 2);
  });
});
