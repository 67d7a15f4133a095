import { describe, expect, it } from "vitest";
import type { AuditDraft, AuditEntry } from "../../src/contracts";
import { GENESIS_HASH, canonicalJson, sealEntry, sha256hex, verifyChain } from "../../src/kernel/audit-chain";

const at = (seq: number) => new Date(Date.UTC(2026, 0, 1) + seq * 1000).toISOString();

function buildChain(length: number, draft: (seq: number) => AuditDraft = (seq) => ({ actor: "kernel", event: "spawn", pid: seq, data: { agent: "worker", n: seq } })): AuditEntry[] {
  const chain: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let seq = 1; seq <= length; seq++) {
    const entry = sealEntry(draft(seq), seq, at(seq), prev);
    chain.push(entry);
    prev = entry.hash;
  }
  return chain;
}

/** A deep copy, as an entry read back from storage would be. */
const clone = (chain: AuditEntry[]): AuditEntry[] => JSON.parse(JSON.stringify(chain));

describe("canonicalJson", () => {
  it("sorts keys recursively and has no whitespace", () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: "x" } };
    const b = { a: { c: "x", d: [3, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
  });

  it("drops undefined-valued keys, keeps nulls, and writes undefined array items as null", () => {
    expect(canonicalJson({ a: undefined, b: null, c: [undefined, 1] })).toBe('{"b":null,"c":[null,1]}');
    expect(canonicalJson({ x: 1, y: undefined })).toBe(canonicalJson({ x: 1 }));
  });

  it("agrees with JSON.stringify on scalars, escapes and toJSON", () => {
    for (const value of ["a\"b\\c\n\u2028é😀", 0, -1.5, 1e21, true, false, null]) expect(canonicalJson(value)).toBe(JSON.stringify(value));
    expect(canonicalJson({ d: new Date(0) })).toBe('{"d":"1970-01-01T00:00:00.000Z"}');
    expect(canonicalJson(Number.NaN)).toBe("null");
  });
});

describe("sha256hex", () => {
  it("matches known vectors", () => {
    expect(sha256hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("hashes the UTF-8 bytes of text beyond ASCII", () => {
    // SHA-256 of the text's UTF-8 bytes (computed apart, with Node's crypto): any other encoding breaks every chain written so far.
    expect(sha256hex("héllo ✓ 𝄞 — ünïcode")).toBe("093e6fecbdf3fd28148ea5349b3c5ef71635bc9c100257202a428c31b28a4a50");
  });
});

describe("sealEntry", () => {
  it("hashes prevHash + canonical JSON of the entry without its hash", () => {
    const entry = sealEntry({ actor: "op", event: "kill", pid: 3, data: { signal: "SIGTERM" } }, 1, at(1), GENESIS_HASH);
    const { hash, ...rest } = entry;
    expect(hash).toBe(sha256hex(GENESIS_HASH + canonicalJson(rest)));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(GENESIS_HASH).toBe("0".repeat(64));
  });

  it("does not depend on key order or absent optional fields", () => {
    const a = sealEntry({ actor: "op", event: "spawn", data: { x: 1, y: [1, 2] }, pid: undefined, taskId: undefined }, 1, at(1), GENESIS_HASH);
    const b = sealEntry({ data: { y: [1, 2], x: 1 }, event: "spawn", actor: "op" }, 1, at(1), GENESIS_HASH);
    expect(a.hash).toBe(b.hash);
    expect("pid" in a).toBe(false);
  });

  it("survives a JSON round trip (as through storage)", () => {
    const chain = buildChain(5, (seq) => ({ actor: "a", event: "task_state", taskId: `t${seq}`, parentPid: seq, data: { nested: { b: 2, a: 1 } } }));
    expect(verifyChain(clone(chain))).toEqual({ ok: true, entries: 5, head: chain[4]!.hash });
  });
});

describe("verifyChain", () => {
  it("accepts an empty chain and an intact one", () => {
    expect(verifyChain([])).toEqual({ ok: true, entries: 0, head: GENESIS_HASH });
    const chain = buildChain(20);
    expect(verifyChain(chain)).toEqual({ ok: true, entries: 20, head: chain[19]!.hash });
  });

  it("detects edited data", () => {
    const chain = clone(buildChain(10));
    chain[4]!.data.n = 999;
    expect(verifyChain(chain)).toEqual({ ok: false, entries: 4, head: chain[3]!.hash, brokenAt: 5 });
  });

  it("detects edited top-level fields, even with the hash recomputed naively", () => {
    const chain = clone(buildChain(10));
    chain[6]!.actor = "mallory";
    expect(verifyChain(chain)).toMatchObject({ ok: false, brokenAt: 7 });

    // Re-sealing the edited entry fixes its own hash but breaks the next entry's link.
    const resealed = clone(buildChain(10));
    const { seq, at: when, prevHash, ...draft } = resealed[6]!;
    resealed[6] = sealEntry({ ...draft, actor: "mallory" }, seq, when, prevHash);
    expect(verifyChain(resealed)).toMatchObject({ ok: false, entries: 7, brokenAt: 8 });
  });

  it("detects an edited prevHash and an edited hash", () => {
    const chain = clone(buildChain(10));
    chain[2]!.prevHash = "f".repeat(64);
    expect(verifyChain(chain)).toMatchObject({ ok: false, brokenAt: 3 });

    const other = clone(buildChain(10));
    other[9]!.hash = "0".repeat(64);
    expect(verifyChain(other)).toMatchObject({ ok: false, entries: 9, brokenAt: 10 });
  });

  it("detects a deleted entry, at the seq that is missing", () => {
    const chain = buildChain(10);
    expect(verifyChain([...chain.slice(0, 3), ...chain.slice(4)])).toMatchObject({ ok: false, entries: 3, brokenAt: 4 });
    expect(verifyChain(chain.slice(1))).toMatchObject({ ok: false, entries: 0, brokenAt: 1 });
  });

  it("detects swapped entries", () => {
    const chain = buildChain(10);
    const swapped = [...chain];
    [swapped[5], swapped[6]] = [swapped[6]!, swapped[5]!];
    expect(verifyChain(swapped)).toMatchObject({ ok: false, entries: 5, brokenAt: 6 });
  });

  it("detects a renumbered seq", () => {
    const chain = clone(buildChain(5));
    chain[2]!.seq = 30;
    expect(verifyChain(chain)).toMatchObject({ ok: false, brokenAt: 3 });
  });

  it("verifies a suffix from the hash before it", () => {
    const chain = buildChain(10);
    expect(verifyChain(chain.slice(6), chain[5]!.hash)).toEqual({ ok: true, entries: 4, head: chain[9]!.hash });
    expect(verifyChain(chain.slice(6), chain[4]!.hash)).toMatchObject({ ok: false, entries: 0, brokenAt: 7 });
  });

  it("accepts any iterable, e.g. a generator over storage rows", () => {
    const chain = buildChain(3);
    function* rows() {
      yield* chain;
    }
    expect(verifyChain(rows()).ok).toBe(true);
  });

  it("verifies 10,000 entries in well under a second", () => {
    const chain = clone(
      buildChain(10_000, (seq) => ({ actor: "tenant-admin", event: "dispatch_denied", pid: seq, taskId: `task-${seq}`, data: { tool: "write_file", paths: ["/a/b.txt"], reason: "not in scope" } })),
    );
    const started = performance.now();
    const result = verifyChain(chain);
    const elapsed = performance.now() - started;
    expect(result).toEqual({ ok: true, entries: 10_000, head: chain[9_999]!.hash });
    // About 120 ms on a shared 2-core machine; the bound leaves room for a busy CI box.
    expect(elapsed).toBeLessThan(1000);
  });
});
