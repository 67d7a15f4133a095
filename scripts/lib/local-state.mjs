/**
 * Where `npm start` keeps the local kernel's Durable Object state (processes, agents, files, audit
 * log of every tenant), so that `npm run reset` deletes exactly that.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const LOCAL_STATE_DIR = join(ROOT, ".wrangler", "state");
