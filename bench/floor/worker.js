/**
 * The benchmark's floor: the same shapes of work as the kernel's, as bare Durable Object RPC.
 *
 *   GET /healthz                 no Durable Object at all
 *   GET /fanout?n=100&store=0    a fresh Fanner object calls n fresh Leaf objects over RPC and awaits
 *                                them all (store=1: each leaf also writes one SQLite row, as the
 *                                smallest possible durable worker would; run=<name>: reuse the objects
 *                                of an earlier call with that name instead of fresh ones)
 *   GET /rpc                     one RPC to an existing object
 *   GET /write                   one RPC to an object that writes one SQLite row (the response waits
 *                                for the write to be durable: the output gate)
 *   GET /alarms?n=50             a fresh object runs n alarms back to back, each arming the next at
 *                                Date.now(): the cost of one "step per alarm"
 *
 * Plain JavaScript (no build step, and outside the TypeScript projects on purpose: tsconfig.node.json
 * covers bench/ with Node types, which this Workers module does not use).
 */
import { DurableObject } from "cloudflare:workers";

const MAX_FANOUT = 5_000;
const MAX_ALARMS = 1_000;
const ALARM_CHAIN_TIMEOUT_MS = 60_000;

export class Fanner extends DurableObject {
  /** Calls `n` fresh leaves (named from `run`) and awaits them all. */
  async fanout(n, run, store) {
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => this.env.LEAF.getByName(`${run}/${i}`).work(i, store)));
    let sum = 0;
    for (const r of results) sum += r;
    return { n, ok: sum === (n * (n - 1)) / 2, innerMs: Date.now() - t0 };
  }

  /** Runs `n` alarms in a row, each armed by the previous one; answers when the last has run. */
  async alarmChain(n) {
    this.remaining = n;
    const t0 = Date.now();
    const done = new Promise((resolve, reject) => {
      this.finished = resolve;
      setTimeout(() => reject(new Error(`alarm chain of ${n} did not finish in ${ALARM_CHAIN_TIMEOUT_MS} ms`)), ALARM_CHAIN_TIMEOUT_MS);
    });
    await this.ctx.storage.setAlarm(Date.now());
    await done;
    return { n, totalMs: Date.now() - t0 };
  }

  async alarm() {
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS steps (n INTEGER PRIMARY KEY)");
    this.ctx.storage.sql.exec("INSERT INTO steps (n) VALUES (?)", this.remaining ?? 0);
    this.remaining = (this.remaining ?? 0) - 1;
    if (this.remaining > 0) await this.ctx.storage.setAlarm(Date.now());
    else this.finished?.();
  }
}

export class Leaf extends DurableObject {
  async work(i, store) {
    if (store) {
      const sql = this.ctx.storage.sql;
      sql.exec("CREATE TABLE IF NOT EXISTS done (i INTEGER PRIMARY KEY, at TEXT NOT NULL)");
      sql.exec("INSERT OR REPLACE INTO done (i, at) VALUES (?, ?)", i, new Date().toISOString());
    }
    return i;
  }

  ping() {
    return 1;
  }

  write() {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS writes (n INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL)");
    sql.exec("INSERT INTO writes (at) VALUES (?)", new Date().toISOString());
    return 1;
  }
}

function intParam(url, name, fallback, max) {
  const v = Number.parseInt(url.searchParams.get(name) ?? "", 10);
  return Number.isFinite(v) && v >= 0 ? Math.min(v, max) : fallback;
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    switch (url.pathname) {
      case "/healthz":
        return Response.json({ ok: true });
      case "/fanout": {
        const n = intParam(url, "n", 100, MAX_FANOUT);
        // A given run name reuses the objects of an earlier call (warm objects); default: fresh ones.
        const run = /^[a-z0-9-]{1,64}$/.test(url.searchParams.get("run") ?? "") ? url.searchParams.get("run") : crypto.randomUUID();
        const out = await env.FANNER.getByName(run).fanout(n, run, url.searchParams.get("store") === "1");
        return Response.json(out, { status: out.ok ? 200 : 500 });
      }
      case "/rpc":
        return Response.json({ ok: (await env.LEAF.getByName("ping").ping()) === 1 });
      case "/write":
        return Response.json({ ok: (await env.LEAF.getByName("writer").write()) === 1 });
      case "/alarms": {
        const n = intParam(url, "n", 50, MAX_ALARMS);
        return Response.json(await env.FANNER.getByName(crypto.randomUUID()).alarmChain(n));
      }
      default:
        return Response.json({ error: "no such route" }, { status: 404 });
    }
  },
};
