/**
 * `npm run token` (scripts/token.mjs) never mints a token without `exp`: the kernel refuses such
 * tokens (SPEC §2 hardening). Runs the script as `npm run token` does, in a subprocess, with
 * AUTH_SECRET from the environment (so the repo's .dev.vars is not read), and decodes what it prints.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { mintToken, parseTtl } from "../../scripts/lib/jwt.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SECRET = "token-script-test-secret";

function runToken(...args) {
  const out = spawnSync(process.execPath, [join(root, "scripts", "token.mjs"), ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, AUTH_SECRET: SECRET },
  });
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

/** The claims of an HS256 token signed with SECRET (asserting the signature). */
function claimsOf(token) {
  const [head, body, sig] = token.trim().split(".");
  assert.equal(createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url"), sig, "signed with AUTH_SECRET");
  assert.deepEqual(JSON.parse(Buffer.from(head, "base64url").toString()), { alg: "HS256", typ: "JWT" });
  return JSON.parse(Buffer.from(body, "base64url").toString());
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe("npm run token", () => {
  test("mints a token that expires in 24 hours by default", () => {
    const before = nowSeconds();
    const { status, stdout } = runToken("acme");
    assert.equal(status, 0);
    const claims = claimsOf(stdout);
    assert.equal(claims.sub, "acme");
    assert.equal(claims.role, "admin");
    assert.equal(typeof claims.exp, "number");
    assert.ok(claims.exp >= before + 86_400 && claims.exp <= nowSeconds() + 86_400, `exp ${claims.exp} is 24 h from now`);
  });

  test("takes --ttl in seconds or with a unit", () => {
    for (const [arg, seconds] of [["90", 90], ["90s", 90], ["30m", 1800], ["2h", 7200], ["7d", 604_800]]) {
      const before = nowSeconds();
      const { status, stdout } = runToken("acme", "viewer", "--ttl", arg);
      assert.equal(status, 0, arg);
      const claims = claimsOf(stdout);
      assert.equal(claims.role, "viewer");
      assert.ok(claims.exp >= before + seconds && claims.exp <= nowSeconds() + seconds, `--ttl ${arg}: exp ${claims.exp}`);
    }
    assert.ok(claimsOf(runToken("acme", "--ttl=1h").stdout).exp > nowSeconds());
  });

  test("refuses a lifetime that would mean no expiry, or none at all", () => {
    for (const ttl of ["0", "0h", "-1", "never", "", "1.5"]) {
      const { status, stdout, stderr } = runToken("acme", "--ttl", ttl);
      assert.equal(status, 2, `--ttl ${JSON.stringify(ttl)} fails`);
      assert.equal(stdout, "", "prints no token");
      assert.match(stderr, /--ttl/);
    }
  });

  test("the library refuses to mint without exp too", () => {
    assert.throws(() => mintToken({ tenant: "acme", ttlSeconds: 0, secret: SECRET }), /expire/);
    assert.throws(() => mintToken({ tenant: "acme", ttlSeconds: -5, secret: SECRET }), /expire/);
    assert.throws(() => mintToken({ tenant: "acme", ttlSeconds: Number.POSITIVE_INFINITY, secret: SECRET }), /expire/);
    const claims = claimsOf(mintToken({ tenant: "acme", secret: SECRET, now: 1_800_000_000_000 }));
    assert.deepEqual(claims, { sub: "acme", role: "admin", iat: 1_800_000_000, exp: 1_800_003_600 });
    assert.equal(parseTtl("0"), null);
    assert.equal(parseTtl("24h"), 86_400);
  });
});
