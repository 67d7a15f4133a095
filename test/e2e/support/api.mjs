/**
 * The end-to-end tests' view of the HTTP API: JSON calls with a bearer token against a `DevServer`
 * (which may be restarted, so it is asked for its URL at each call), polling, and a process's
 * replayed event stream.
 */
import assert from "node:assert/strict";

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** `call` answers `{status, body, text}`; `expect` asserts the status and answers the body. */
export function apiFor(server, token) {
  const call = async (method, path, body, { timeoutMs = 15_000 } = {}) => {
    const init = { method, headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(timeoutMs) };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      init.headers["content-type"] = typeof body === "string" ? "text/plain" : "application/json";
    }
    const res = await fetch(`${server().url}${path}`, init);
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: res.status, body: json, text };
  };
  const expect = async (status, method, path, body, opts) => {
    const res = await call(method, path, body, opts);
    assert.equal(res.status, status, `${method} ${path} → ${res.status} ${res.text.slice(0, 500)}`);
    return res.body;
  };
  return { call, expect };
}

/** Polls `probe` until `check` passes, at most `timeoutMs`. */
export async function until(probe, check, timeoutMs, what, { everyMs = 25 } = {}) {
  const t0 = Date.now();
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not reached within ${timeoutMs} ms (last: ${JSON.stringify(value)?.slice(0, 800)})`);
    await sleep(everyMs);
  }
}

/** The process's events, replayed from the start; the stream closes by itself once it has exited. */
export async function eventsOf(api, pid) {
  const res = await api.call("GET", `/v1/procs/${pid}/events`, undefined, { timeoutMs: 10_000 });
  assert.equal(res.status, 200);
  const events = [];
  for (const block of res.text.split("\n\n")) {
    const type = /^event: (.+)$/m.exec(block)?.[1];
    const data = /^data: (.+)$/m.exec(block)?.[1];
    if (type && data) events.push({ type, data: JSON.parse(data) });
  }
  return events;
}
