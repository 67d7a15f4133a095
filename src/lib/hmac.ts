/** HMAC-SHA256 with a UTF-8 secret: what JWTs (src/lib/jwt.ts) and webhook signatures share. */
const encoder = new TextEncoder();

/**
 * Imported keys, by use and secret: every request verifies its token with the same secret, and an
 * import costs more than the verification. Resolved keys only (a pending promise must not outlive the
 * request that made it); a handful of secrets exist at once (the tenant's and its webhooks'), and
 * the cache starts over past that.
 */
const keys = new Map<string, CryptoKey>();
const MAX_KEYS = 32;

export async function hmacKey(secret: string, usage: "sign" | "verify"): Promise<CryptoKey> {
  const id = `${usage}:${secret}`;
  const known = keys.get(id);
  if (known) return known;
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [usage]);
  if (keys.size >= MAX_KEYS) keys.clear();
  keys.set(id, key);
  return key;
}

/** The MAC of `data` (its UTF-8 bytes when a string). */
export async function hmacSha256(secret: string, data: string | Uint8Array): Promise<Uint8Array> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  return new Uint8Array(await crypto.subtle.sign("HMAC", await hmacKey(secret, "sign"), bytes));
}

export function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}
