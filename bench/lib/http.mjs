/**
 * A minimal keep-alive HTTP/1.1 JSON client over node:http. It is lighter than fetch (undici) and
 * reuses sockets, so the client side adds as little as possible to what is measured.
 */
import http from "node:http";

/**
 * @param {string} baseUrl  e.g. http://127.0.0.1:8787
 * @param {{ maxSockets?: number }} [options]
 */
export function createClient(baseUrl, { maxSockets = 16 } = {}) {
  const url = new URL(baseUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });

  /**
   * One request. Resolves with status, text and (when it parses) json, plus `ms`, the wall time
   * from just before the request was written to the last byte of the answer (monotonic clock).
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @param {{ token?: string, timeoutMs?: number, headers?: Record<string, string> }} [opts]
   */
  function request(method, path, body, { token, timeoutMs = 30_000, headers = {} } = {}) {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      if (payload !== undefined) {
        h["content-type"] ??= "application/json";
        h["content-length"] = String(Buffer.byteLength(payload));
      }
      const t0 = performance.now();
      const req = http.request({ host: url.hostname, port: url.port, method, path, headers: h, agent }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const ms = performance.now() - t0;
          const text = Buffer.concat(chunks).toString("utf8");
          let json;
          try {
            json = text ? JSON.parse(text) : null;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json, ms });
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${method} ${path}: no answer within ${timeoutMs} ms`)));
      req.on("error", reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Like request, but throws unless the status is one of `expect`. */
  async function expectStatus(expect, method, path, body, opts) {
    const res = await request(method, path, body, opts);
    const ok = Array.isArray(expect) ? expect.includes(res.status) : res.status === expect;
    if (!ok) throw new HttpError(method, path, res);
    return res;
  }

  /** The same client (and sockets) acting with `token`: `as(token).json(201, "POST", "/v1/procs", body)`. */
  const as = (token) => ({
    request: (method, path, body, opts = {}) => request(method, path, body, { ...opts, token }),
    json: (expect, method, path, body, opts = {}) => expectStatus(expect, method, path, body, { ...opts, token }),
  });

  return { request, expectStatus, as, close: () => agent.destroy(), baseUrl };
}

export class HttpError extends Error {
  constructor(method, path, res) {
    const code = res.json?.error?.code;
    const message = res.json?.error?.message;
    super(`${method} ${path} → ${res.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : res.json === undefined ? `: ${res.text.slice(0, 200)}` : ""}`);
    this.status = res.status;
    this.code = code ?? null;
    this.body = res.json;
  }
}

/**
 * Parses a Server-Sent Events body into `{id, event, data}` records (data JSON-parsed when it can be).
 * @param {string} text
 */
export function parseSse(text) {
  const out = [];
  for (const block of text.split(/\n\n+/)) {
    if (!block.trim()) continue;
    const rec = { id: null, event: "message", data: "" };
    const data = [];
    for (const line of block.split("\n")) {
      const i = line.indexOf(":");
      if (i <= 0) continue;
      const field = line.slice(0, i);
      const value = line.slice(i + 1).replace(/^ /, "");
      if (field === "id") rec.id = value;
      else if (field === "event") rec.event = value;
      else if (field === "data") data.push(value);
    }
    const raw = data.join("\n");
    try {
      rec.data = JSON.parse(raw);
    } catch {
      rec.data = raw;
    }
    out.push(rec);
  }
  return out;
}
