import { afterEach, describe, expect, it, vi } from "vitest";
import { hmacKey, hmacSha256, toHex } from "../../src/lib/hmac";
import { signJwt, verifyJwt } from "../../src/lib/jwt";

describe("HMAC keys", () => {
  afterEach(() => vi.restoreAllMocks());

  it("imports a secret's key once per use, and never hands one secret's key for another", async () => {
    const importKey = vi.spyOn(crypto.subtle, "importKey");
    const secret = `s-${crypto.randomUUID()}`;
    const first = await hmacKey(secret, "verify");
    expect(await hmacKey(secret, "verify")).toBe(first);
    expect(importKey).toHaveBeenCalledTimes(1);
    const other = await hmacKey(`${secret}-other`, "verify");
    expect(other).not.toBe(first);
    expect(await hmacKey(secret, "sign")).not.toBe(first);
    expect(importKey).toHaveBeenCalledTimes(3);
  });

  it("still tells a good token from one signed with another secret when the keys are cached", async () => {
    const secret = `s-${crypto.randomUUID()}`;
    const token = await signJwt({ sub: "t", tenant: "t1", role: "admin", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
    const forged = await signJwt({ sub: "t", tenant: "t1", role: "admin", exp: Math.floor(Date.now() / 1000) + 60 }, `${secret}-x`);
    for (let i = 0; i < 2; i++) {
      expect(await verifyJwt(token, secret)).toMatchObject({ tenant: "t1" });
      expect(await verifyJwt(forged, secret)).toBeNull();
    }
    // The MAC itself is the standard one (RFC 4231 test case 2).
    expect(toHex(await hmacSha256("Jefe", "what do ya want for nothing?"))).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });
});
