#!/usr/bin/env node
/**
 * `npx agent-kernel <command>` (package.json "bin"). The CLI is TypeScript (bin/cli.ts, on the typed
 * client in src/client) run by Node's built-in type stripping, so a fresh checkout needs no build
 * step. That needs Node >= 22.18; npx puts the project's pinned Node (the `node` devDependency) first
 * in PATH, and an older `node` running this file directly hands over to that one.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const own = join(here, "..", "node_modules", "node", "bin", "node");
  if (!existsSync(own)) {
    process.stderr.write(`agent-kernel needs Node >= 22.18 (this is ${process.version}); run \`npm ci\` in the checkout to get the project's own.\n`);
    process.exit(1);
  }
  const child = spawnSync(own, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(child.status ?? 1);
}

const { runCli } = await import("./cli.ts");
await runCli();
