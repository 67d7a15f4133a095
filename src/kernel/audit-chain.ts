/**
 * The hash-chained audit log (SPEC §9), as pure functions: the kernel owns storage, this module
 * owns the hashing rules so that sealing and verifying can never disagree.
 *
 * Each entry's `hash = sha256hex(prevHash + canonicalJson(entry without hash))`, and `prevHash`
 * is the previous entry's hash (the first entry links to `GENESIS_HASH`). Editing any field,
 * dropping an entry or reordering entries therefore breaks the chain from that point on.
 *
 * Hashing is synchronous on purpose: the kernel appends audit rows inside synchronous SQLite
 * transactions (`ctx.storage.transactionSync`), where it cannot await `crypto.subtle`.
 */
import { createHash } from "node:crypto";
import type { AuditDraft, AuditEntry, AuditVerify } from "../contracts";

/** The `prevHash` of the first entry of a chain. */
export const GENESIS_HASH = "0".repeat(64);

/** Lowercase hex SHA-256 of the UTF-8 bytes of `text`, computed synchronously. */
export function sha256hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/**
 * JSON with object keys sorted (recursively), no whitespace, and keys whose value is `undefined`
 * dropped — so the same logical value always serialises, and hashes, the same way no matter how
 * it was built or whether it went through a storage round trip. Arrays keep their order (it is
 * meaningful); `undefined` inside an array becomes `null`, as in `JSON.stringify`. Values with a
 * `toJSON` (e.g. `Date`) are serialised through it, also as in `JSON.stringify`.
 */
export function canonicalJson(value: unknown): string {
  return serialize(value) ?? "null";
}

/** `undefined` means "no JSON representation" (the caller drops the key or writes `null`). */
function serialize(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value) ? String(value) : "null";
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      // JSON.stringify throws on bigint; a deterministic decimal string keeps auditing total.
      return JSON.stringify(value.toString());
    case "object":
      break;
    default:
      return undefined; // undefined, functions, symbols
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") return serialize(toJSON.call(value));
  if (Array.isArray(value)) return "[" + value.map((item) => serialize(item) ?? "null").join(",") + "]";
  const record = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(record).sort()) {
    const item = serialize(record[key]);
    if (item !== undefined) parts.push(JSON.stringify(key) + ":" + item);
  }
  return "{" + parts.join(",") + "}";
}

/** The hash an entry must carry, given everything in it except the hash itself. */
export function entryHash(entry: Omit<AuditEntry, "hash">): string {
  const { seq, at, actor, event, pid, parentPid, taskId, data, prevHash } = entry;
  // Picking the known fields (rather than hashing `entry` as given) keeps stray properties of a
  // storage row out of the hash, and `canonicalJson` drops the optional ones that are undefined.
  return sha256hex(prevHash + canonicalJson({ seq, at, actor, event, pid, parentPid, taskId, data, prevHash }));
}

/**
 * Turns a draft into the next entry of the chain. `seq` is the entry's position (the kernel
 * starts at 1 and never reuses one), `at` an ISO timestamp, `prevHash` the hash of the entry
 * before it, or `GENESIS_HASH` for the first.
 */
export function sealEntry(draft: AuditDraft, seq: number, at: string, prevHash: string): AuditEntry {
  const entry: Omit<AuditEntry, "hash"> = { seq, at, actor: draft.actor, event: draft.event, data: draft.data, prevHash };
  // Optional fields are only set when present, so a sealed entry and its stored-and-reloaded
  // copy (where absent columns come back missing, not `undefined`) look alike.
  if (draft.pid !== undefined) entry.pid = draft.pid;
  if (draft.parentPid !== undefined) entry.parentPid = draft.parentPid;
  if (draft.taskId !== undefined) entry.taskId = draft.taskId;
  return { ...entry, hash: entryHash(entry) };
}

/**
 * Walks a chain in order and checks, per entry: it links to the previous entry's hash, its seq
 * follows the previous one by exactly 1 (so a deleted or reordered entry is caught even where
 * hashes alone would only say "broken"), and its hash matches its content (no edit).
 *
 * A chain from the start links its first entry to `GENESIS_HASH` and starts at seq 1. To verify
 * a suffix of a longer chain (e.g. one page at a time), pass the hash of the entry just before
 * it as `startPrevHash` and, when known, the suffix's `firstSeq` (otherwise its first seq is taken as given).
 *
 * On failure `brokenAt` is the seq of the position where the chain stops being valid: the
 * edited entry, or the seq that is missing or out of place. `entries` counts the entries that
 * verified before it and `head` is the hash of the last of them (`startPrevHash` when none did).
 */
export function verifyChain(entries: Iterable<AuditEntry>, startPrevHash: string = GENESIS_HASH, firstSeq?: number): AuditVerify {
  let head = startPrevHash;
  let count = 0;
  let expectedSeq: number | undefined = firstSeq ?? (startPrevHash === GENESIS_HASH ? 1 : undefined);
  for (const entry of entries) {
    const valid =
      entry.prevHash === head && (expectedSeq === undefined || entry.seq === expectedSeq) && entryHash(entry) === entry.hash;
    if (!valid) return { ok: false, entries: count, head, brokenAt: expectedSeq ?? entry.seq };
    head = entry.hash;
    expectedSeq = entry.seq + 1;
    count++;
  }
  return { ok: true, entries: count, head };
}
