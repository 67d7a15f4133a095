#!/usr/bin/env node
/**
 * Mints a bearer token for the local kernel.
 *
 *   npm run token -- <tenant> [role] [--ttl <lifetime>]
 *   TOKEN=$(npm run -s token -- acme)
 *
 * role is viewer | operator | admin (default admin); --ttl is the token's lifetime in seconds or
 * with a unit (90s, 30m, 24h, 7d), default 24h. Every token expires: the kernel refuses tokens
 * without `exp` (unless its operator set ALLOW_NON_EXPIRING_TOKENS), so there is no "never".
 * The token is signed with AUTH_SECRET from the environment if set, else from .dev.vars
 * (created by `npm start`). Only the token goes to stdout.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mintToken, parseTtl, readAuthSecret, ROLES } from "./lib/jwt.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const usage = `usage: npm run token -- <tenant> [${ROLES.join("|")}] [--ttl <seconds, or 90s|30m|24h|7d; default 24h>]`;

function fail(message) {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

const positional = [];
let ttlSeconds = 86_400;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === "-h" || arg === "--help") {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  } else if (arg === "--ttl" || arg.startsWith("--ttl=")) {
    const value = arg === "--ttl" ? args[++i] : arg.slice("--ttl=".length);
    const seconds = parseTtl(value);
    if (seconds === null) fail(`--ttl needs a lifetime of at least 1 second (e.g. 3600, 30m, 24h, 7d; tokens always expire), got ${JSON.stringify(value ?? "")}`);
    ttlSeconds = seconds;
  } else if (arg.startsWith("-")) {
    fail(`unknown option ${arg}`);
  } else positional.push(arg);
}
if (positional.length < 1 || positional.length > 2) fail(positional.length ? "too many arguments" : "a tenant is required");
const [tenant, role = "admin"] = positional;

const secret = readAuthSecret(join(root, ".dev.vars"));
if (!secret) fail("no AUTH_SECRET: run `npm start` once (it creates .dev.vars) or set AUTH_SECRET in the environment");

try {
  process.stdout.write(`${mintToken({ tenant, role, ttlSeconds, secret })}\n`);
} catch (err) {
  fail(err instanceof Error ? err.message : String(err));
}
