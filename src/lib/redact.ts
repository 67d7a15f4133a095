/**
 * Removes secrets from text that came from outside (a provider's error body may echo the request's
 * `Authorization` or `x-api-key` header; a webhook's answer may quote its secret): every given
 * secret verbatim, then anything shaped like a bearer token or an API key, then URL credentials.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  // Longest first, so a key that contains another is removed whole.
  for (const secret of [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length)) out = out.split(secret).join("[redacted]");
  return out
    .replace(/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi, "$1 [redacted]")
    .replace(/\b(x-api-key|api[-_]?key|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;}]{6,}/gi, "$1$2[redacted]")
    .replace(/\bsk-[A-Za-z0-9_*.-]{6,}/g, "[redacted]")
    .replace(/\/\/[^/\s:@]+:[^/\s@]+@/g, "//[redacted]@");
}
