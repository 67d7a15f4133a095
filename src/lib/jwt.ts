/** HS256 JSON Web Tokens: just what the API's bearer auth needs. */
import { hmacKey } from "./hmac";
const encoder = new TextEncoder();

const b64url = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};
const fromB64url = (text: string): Uint8Array | null => {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
};


export async function signJwt(claims: Record<string, unknown>, secret: string): Promise<string> {
  const head = b64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(encoder.encode(JSON.stringify(claims)));
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), encoder.encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(new Uint8Array(sig))}`;
}

export interface VerifyOptions {
  /** The time to judge `exp` and `nbf` against, in seconds since the epoch; default now. */
  nowSeconds?: number;
  /** Refuse a token without `exp` (default true): a leaked token must not be valid forever. */
  requireExp?: boolean;
  /**
   * Seconds of clock skew forgiven on `nbf` (default 30): a token minted on a machine whose clock is
   * slightly ahead is usable at once. `exp` gets none: a token stops working no later than it says.
   */
  nbfLeewaySeconds?: number;
}

/** Forgiven clock skew on `nbf`, in seconds. */
export const NBF_LEEWAY_SECONDS = 30;

/**
 * The token's claims, or null when it is malformed, wrongly signed, not HS256, expired (`exp` at
 * or before now), not yet valid (`nbf` later than now plus the leeway), has a non-numeric `exp` or
 * `nbf`, or has no `exp` while one is required.
 */
export async function verifyJwt(token: string, secret: string, options: VerifyOptions = {}): Promise<Record<string, unknown> | null> {
  const { nowSeconds = Date.now() / 1000, requireExp = true, nbfLeewaySeconds = NBF_LEEWAY_SECONDS } = options;
  const parts = token.split(".");
  if (parts.length !== 3) return null;
  const [head, body, sig] = parts as [string, string, string];
  const headBytes = fromB64url(head);
  const bodyBytes = fromB64url(body);
  const sigBytes = fromB64url(sig);
  if (!headBytes || !bodyBytes || !sigBytes) return null;
  let header: unknown, claims: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headBytes));
    claims = JSON.parse(new TextDecoder().decode(bodyBytes));
  } catch {
    return null;
  }
  if (!header || typeof header !== "object" || (header as { alg?: unknown }).alg !== "HS256") return null;
  if (!claims || typeof claims !== "object" || Array.isArray(claims)) return null;
  const valid = await crypto.subtle.verify("HMAC", await hmacKey(secret, "verify"), sigBytes, encoder.encode(`${head}.${body}`));
  if (!valid) return null;
  const { exp, nbf } = claims as { exp?: unknown; nbf?: unknown };
  if (exp === undefined ? requireExp : typeof exp !== "number" || !Number.isFinite(exp) || exp <= nowSeconds) return null;
  if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf) || nbf > nowSeconds + nbfLeewaySeconds)) return null;
  return claims as Record<string, unknown>;
}
