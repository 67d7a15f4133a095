/**
 * The benchmark's floor: the same shapes of work as the kernel's, as bare Durable Object RPC.
 *
 *   GET /healthz                 no Durable Object at all
 *   GET /fanout?n=100&store=0    a fresh Fanner object calls n fresh Leaf objects over RPC and awaits
 *                                them all (store=1: each leaf also writes one SQLite row, as the
 *                                smallest possible durable worker would; run=<name>: reuse the objects
 *                                of an earlier call with that name instead of fresh ones)
 *   GET /create                  one RPC to a fresh object that writes one SQLite row: what the
 *                                platform charges for a new durable object (a spawn makes one)
 *   GET /rpc                     one RPC to an existing object
 *   GET /write                   one RPC to an object that writes one SQLite row (the response waits
 *                                for the write to be durable: the output gate)
 *   GET /alarms?n=50             a fresh object starts n alarms back to back, each arming the next at
 *                                Date.now() (the cost of one "step per alarm"); answers {id}, and
 *   GET /alarms/status?id=<id>   answers {done, totalMs} from the object's own clock
 *
 * Plain JavaScript (no build step, and outside the TypeScript projects on purpose: tsconfig.node.json
 * covers bench/ with Node types, which this Workers module does not use).
 */
import { DurableObject } from "cloudflare:workers";

const MAX_FANOUT = 5_000;
const MAX_ALARMS = 1_000;

export class Fanner extends DurableObject {
  /** Calls `n` fresh leaves (named from `run`) and awaits them all. */
  async fanout(n, run, store) {
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: n }, (_, i) => this.env.LEAF.getByName(`${run}/${i}`).work(i, store)));
    let sum = 0;
    for (const r of results) sum += r;
    return { n, ok: sum === (n * (n - 1)) / 2, innerMs: Date.now() - t0 };
  }

  /** Starts a chain of `n` alarms, each armed by the previous one at Date.now(); poll chainStatus(). */
  async startChain(n) {
    const sql = this.ctx.storage.sql;
    sql.exec("CREATE TABLE IF NOT EXISTS chain (k TEXT PRIMARY KEY, v INTEGER NOT NULL)");
    sql.exec("INSERT OR REPLACE INTO chain (k, v) VALUES ('left', ?), ('started', ?), ('ended', 0)", n, Date.now());
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** {done, totalMs}: from the chain's start to its last alarm, on this object's clock. */
  async chainStatus() {
    const row = (k) => this.ctx.storage.sql.exec("SELECT v FROM chain WHERE k = ?", k).one().v;
    const ended = row("ended");
    return { done: ended > 0, totalMs: ended > 0 ? ended - row("started") : null, left: row("left") };
  }

  async alarm() {
    const sql = this.ctx.storage.sql;
    const left = sql.exec("UPDATE chain SET v = v - 1 WHERE k = 'left' RETURNING v").one().v;
    // +1: an alarm set from inside alarm() at exactly the running alarm's own time (Date.now() is frozen
    // during the event and has 1 ms resolution) can be lost by workerd's scheduler.
    if (left > 0) await this.ctx.storage.setAlarm(Date.now() + 1);
    else sql.exec("UPDATE chain SET v = ? WHERE k = 'ended'", Date.now());
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
      case "/create":
        return Response.json({ ok: (await env.LEAF.getByName(crypto.randomUUID()).work(0, true)) === 0 });
      case "/rpc":
        return Response.json({ ok: (await env.LEAF.getByName("ping").ping()) === 1 });
      case "/write":
        return Response.json({ ok: (await env.LEAF.getByName("writer").write()) === 1 });
      case "/alarms": {
        // Starts a chain on a fresh object and answers its name; poll /alarms/status?id=<name>.
        const n = intParam(url, "n", 50, MAX_ALARMS);
        const id = crypto.randomUUID();
        await env.FANNER.getByName(id).startChain(n);
        return Response.json({ id, n });
      }
      case "/alarms/status": {
        const id = url.searchParams.get("id") ?? "";
        if (!/^[0-9a-f-]{36}$/.test(id)) return Response.json({ error: "id required" }, { status: 400 });
        return Response.json(await env.FANNER.getByName(id).chainStatus());
      }
      default:
        return Response.json({ error: "no such route" }, { status: 404 });
    }
  },
};
