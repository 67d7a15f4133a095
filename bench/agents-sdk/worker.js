/**
 * The Agents SDK reference for the benchmark: the same fan-out as the kernel's, written the way an
 * Agents SDK user would write it.
 *
 *   GET /healthz                no Durable Object at all
 *   GET /fanout?n=100           a fresh Coordinator agent gets n fresh WorkerAgents with getAgentByName
 *                               and awaits an RPC on each; every worker writes one SQLite row (its
 *                               answer) through the SDK's `this.sql`, then returns; the coordinator
 *                               writes one row per collected answer (what a copilot keeps of a result)
 *
 * Plain JavaScript, like bench/floor (no build step; outside the TypeScript projects on purpose).
 */
import { Agent, getAgentByName } from "agents";

const MAX_FANOUT = 5_000;

export class WorkerAgent extends Agent {
  /** One "step": the task's answer, stored once. */
  async work(i, message) {
    this.sql`CREATE TABLE IF NOT EXISTS answers (i INTEGER PRIMARY KEY, answer TEXT NOT NULL, at TEXT NOT NULL)`;
    const answer = `done: ${message}`;
    this.sql`INSERT OR REPLACE INTO answers (i, answer, at) VALUES (${i}, ${answer}, ${new Date().toISOString()})`;
    return answer;
  }
}

export class Coordinator extends Agent {
  async fanout(n, run) {
    const t0 = Date.now();
    const answers = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const worker = await getAgentByName(this.env.WORKER_AGENT, `${run}/${i}`);
        return worker.work(i, `task ${i}`);
      }),
    );
    this.sql`CREATE TABLE IF NOT EXISTS results (i INTEGER PRIMARY KEY, answer TEXT NOT NULL)`;
    for (let i = 0; i < answers.length; i++) this.sql`INSERT OR REPLACE INTO results (i, answer) VALUES (${i}, ${answers[i]})`;
    const ok = answers.every((a, i) => a === `done: task ${i}`);
    return { n, ok, innerMs: Date.now() - t0 };
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
        const run = crypto.randomUUID();
        const coordinator = await getAgentByName(env.COORDINATOR, run);
        const out = await coordinator.fanout(n, run);
        return Response.json(out, { status: out.ok ? 200 : 500 });
      }
      default:
        return Response.json({ error: "no such route" }, { status: 404 });
    }
  },
};
