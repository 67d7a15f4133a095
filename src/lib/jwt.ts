/** HS256 JSON Web Tokens: just what the API's bearer auth needs. */
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

const hmacKey = (secret: string, usage: "sign" | "verify") =>
  crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);

export async function signJwt(claims: Record<string, unknown>, secret: string): Promise<string> {
  const head = b64url(encoder.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(encoder.encode(JSON.stringify(claims)));
  const sig = await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), encoder.encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(new Uint8Array(sig))}`;
}

/** The token's claims, or null when it is malformed, wrongly signed, not HS256 or expired. */
export async function verifyJwt(token: string, secret: string, nowSeconds = Date.now() / 1000): Promise<Record<string, unknown> | null> {
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
  const exp = (claims as { exp?: unknown }).exp;
  if (exp !== undefined && (typeof exp !== "number" || exp <= nowSeconds)) return null;
  return claims as Record<string, unknown>;
}
