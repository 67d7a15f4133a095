import { exports } from "cloudflare:workers";
import { signJwt } from "../../src/lib/jwt";
import type { Role } from "../../src/contracts";

export const TEST_SECRET = "test-secret";

/** A token for `tenant`, valid for an hour (the kernel refuses tokens without `exp`) unless `extra` says otherwise. */
export const tokenFor = (tenant: string, role: Role = "admin", extra: Record<string, unknown> = {}) =>
  signJwt({ sub: tenant, role, exp: Math.floor(Date.now() / 1000) + 3600, ...extra }, TEST_SECRET);

/** A tiny client over the Worker's public HTTP surface, as one tenant with one role. */
export function client(tenant: string, role: Role = "admin") {
  const auth = tokenFor(tenant, role);
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${await auth}`, ...headers } };
    if (body !== undefined) {
      init.body = typeof body === "string" ? body : JSON.stringify(body);
      (init.headers as Record<string, string>)["content-type"] ??= "application/json";
    }
    return exports.default.fetch(new Request(`http://kernel.test${path}`, init));
  };
  const json = async <T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await call(method, path, body);
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };
  return {
    call,
    json,
    get: <T = any>(path: string) => json<T>("GET", path),
    post: <T = any>(path: string, body?: unknown) => json<T>("POST", path, body ?? {}),
    put: <T = any>(path: string, body?: unknown) => json<T>("PUT", path, body),
    del: <T = any>(path: string) => json<T>("DELETE", path),
  };
}

let counter = 0;
/** A fresh tenant per test keeps tests independent without resetting storage. */
export const freshTenant = (prefix = "t") => `${prefix}-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/** Reads a live SSE stream until `done(textSoFar)` holds (or `timeoutMs` passes), then closes it. */
export async function readStream(res: Response, done: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!done(text) && Date.now() < deadline) {
      const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), Math.max(1, deadline - Date.now())))]);
      if (next === null || next.done) break;
      text += decoder.decode(next.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return text;
}
