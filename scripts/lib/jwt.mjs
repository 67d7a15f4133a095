/**
 * HS256 JSON Web Tokens for local use: `npm run token` and the end-to-end tests sign with this,
 * the Worker verifies with src/lib/jwt.ts (SPEC §2).
 */
import { createHmac, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

export const TENANT_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const ROLES = /** @type {const} */ (["viewer", "operator", "admin"]);

const b64url = (buf) => Buffer.from(buf).toString("base64url");

/**
 * Signs `claims` (e.g. `{sub, role, exp}`) with `secret`.
 * @param {Record<string, unknown>} claims
 * @param {string} secret
 * @returns {string}
 */
export function signJwt(claims, secret) {
  if (!secret) throw new Error("signJwt: an empty secret signs nothing");
  const head = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify(claims));
  const sig = createHmac("sha256", secret).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

/**
 * A token for `tenant` with `role`, valid from now for `ttlSeconds` (a whole number of seconds, at
 * least 1): it always carries `exp`, since the kernel refuses tokens without one (unless its
 * operator set ALLOW_NON_EXPIRING_TOKENS). Throws on a tenant, role or lifetime the kernel would reject.
 */
export function mintToken({ tenant, role = "admin", ttlSeconds = 3600, secret, now = Date.now() }) {
  if (!TENANT_RE.test(tenant ?? "")) throw new Error(`invalid tenant ${JSON.stringify(tenant)}: use 1-63 lowercase letters, digits and -, starting with a letter or digit`);
  if (!ROLES.includes(role)) throw new Error(`invalid role ${JSON.stringify(role)}: use one of ${ROLES.join(", ")}`);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) throw new Error(`invalid lifetime ${JSON.stringify(ttlSeconds)}: tokens always expire; give a whole number of seconds, at least 1`);
  const iat = Math.floor(now / 1000);
  return signJwt({ sub: tenant, role, iat, exp: iat + ttlSeconds }, secret);
}

/** Seconds in a lifetime such as `3600`, `90s`, `30m`, `24h` or `7d`; null when it is not one, or zero. */
export function parseTtl(text) {
  const m = /^(\d+)([smhd]?)$/.exec(String(text ?? "").trim());
  if (!m) return null;
  const seconds = Number(m[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2]];
  return Number.isSafeInteger(seconds) && seconds >= 1 ? seconds : null;
}

/** A fresh random secret, suitable for AUTH_SECRET. */
export const randomSecret = () => randomBytes(32).toString("base64url");

/**
 * Parses dotenv-style text (`KEY=value`, `# comments`, optional quotes) as `.dev.vars` uses it.
 * @param {string} text
 * @returns {Record<string, string>}
 */
export function parseDevVars(text) {
  const vars = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2];
    else value = value.replace(/\s+#.*$/, "");
    vars[m[1]] = value;
  }
  return vars;
}

/** AUTH_SECRET from the environment, else from the given `.dev.vars` file, else null. */
export function readAuthSecret(devVarsPath) {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  if (!existsSync(devVarsPath)) return null;
  return parseDevVars(readFileSync(devVarsPath, "utf8")).AUTH_SECRET || null;
}
