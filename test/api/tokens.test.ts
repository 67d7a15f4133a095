import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { NBF_LEEWAY_SECONDS, signJwt, verifyJwt } from "../../src/lib/jwt";
import { freshTenant, TEST_SECRET, tokenFor } from "../support/http";

const now = () => Math.floor(Date.now() / 1000);
const get = async (token: string) => exports.default.fetch(new Request("http://kernel.test/v1/procs", { headers: { authorization: `Bearer ${token}` } }));
const unauthorized = { error: { code: "unauthorized", message: expect.any(String) } };

describe("bearer token lifetimes (exp, nbf)", () => {
  it("refuses a token without exp", async () => {
    const res = await get(await signJwt({ sub: freshTenant(), role: "admin" }, TEST_SECRET));
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual(unauthorized);
    // tokenFor adds an hour's exp unless told otherwise; an undefined exp is left out of the JSON
    expect((await get(await tokenFor(freshTenant(), "admin", { exp: undefined }))).status).toBe(401);
  });

  it("refuses a token whose exp has passed, or is not a number", async () => {
    for (const exp of [now() - 1, now() - 3600, 0, String(now() + 3600), null, [now() + 3600]]) {
      const res = await get(await tokenFor(freshTenant(), "admin", { exp }));
      expect(res.status, JSON.stringify(exp)).toBe(401);
      expect(await res.json()).toEqual(unauthorized);
    }
  });

  it("refuses a token used before its nbf (beyond a small clock skew), or with an nbf that is not a number", async () => {
    for (const nbf of [now() + 3600, now() + NBF_LEEWAY_SECONDS + 60, String(now() - 60), true]) {
      const res = await get(await tokenFor(freshTenant(), "admin", { nbf }));
      expect(res.status, JSON.stringify(nbf)).toBe(401);
      expect(await res.json()).toEqual(unauthorized);
    }
  });

  it("accepts a valid exp with an nbf in the past, or within the clock-skew leeway", async () => {
    expect((await get(await tokenFor(freshTenant(), "viewer", { nbf: now() - 60, exp: now() + 60 }))).status).toBe(200);
    expect((await get(await tokenFor(freshTenant(), "viewer", { nbf: now() + 5 }))).status).toBe(200);
    expect((await get(await tokenFor(freshTenant(), "viewer", { exp: now() + 5 }))).status).toBe(200);
  });
});

describe("verifyJwt", () => {
  const at = 1_800_000_000;
  const token = (claims: Record<string, unknown>) => signJwt({ sub: "acme", role: "admin", ...claims }, TEST_SECRET);

  it("requires exp unless told not to (ALLOW_NON_EXPIRING_TOKENS)", async () => {
    const forever = await token({});
    expect(await verifyJwt(forever, TEST_SECRET, { nowSeconds: at })).toBeNull();
    expect(await verifyJwt(forever, TEST_SECRET, { nowSeconds: at, requireExp: true })).toBeNull();
    expect(await verifyJwt(forever, TEST_SECRET, { nowSeconds: at, requireExp: false })).toEqual({ sub: "acme", role: "admin" });
    // An exp that is there is checked either way.
    expect(await verifyJwt(await token({ exp: at - 1 }), TEST_SECRET, { nowSeconds: at, requireExp: false })).toBeNull();
    expect(await verifyJwt(await token({ exp: "never" }), TEST_SECRET, { nowSeconds: at, requireExp: false })).toBeNull();
  });

  it("expires exactly at exp, with no leeway", async () => {
    const t = await token({ exp: at });
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at - 1 })).not.toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at - 0.001 })).not.toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at })).toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at + 1 })).toBeNull();
  });

  it("honours nbf with a clock-skew leeway of NBF_LEEWAY_SECONDS", async () => {
    expect(NBF_LEEWAY_SECONDS).toBe(30);
    const t = await token({ nbf: at, exp: at + 3600 });
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at })).not.toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at - 30 })).not.toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at - 31 })).toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at - 3600 })).toBeNull();
    expect(await verifyJwt(t, TEST_SECRET, { nowSeconds: at - 1, nbfLeewaySeconds: 0 })).toBeNull();
  });
});
