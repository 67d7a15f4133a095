import { fail, ok, type Budget, type FsScope, type Limits, type Outcome } from "../contracts";
import type { ProcessSnapshot, ProcessStart } from "../rpc/messages";
import { canonicalJson, sha256hex } from "./audit-chain";
import { fsOf, limitsOf, toolsOf, type ProcRow } from "./rows";
import type { Sql, SqlStore } from "../lib/sql-store";
import type { ProcessForKernel } from "../rpc/stubs";
import type { Actor } from "./audit-log";
import type { KernelServices } from "./services";

/** SQLite keeps a value to 2 MB: a saved state is stored in chunks below that. */
const CHUNK_CHARS = 500_000;

/** Saved states are read back whole into one RPC answer: far below its 32 MiB. */
export const MAX_CHECKPOINT_CHARS = 16 * 1024 * 1024;

/** What the kernel records with a checkpoint: the process's effective rights when it was saved. */
export interface SavedGrant {
  tools: string[];
  fs: FsScope[];
  limits: Required<Limits>;
  /** What was left, per dimension, of its own and its ancestors' budgets. */
  budget: Budget;
  depth: number;
}

/** What a process may do, as a restore of it inherits: its effective rights and `budget`, what is left of its tree's (budget-ledger.ts). */
export function savedGrant(row: ProcRow, budget: Budget): SavedGrant {
  return { tools: toolsOf(row), fs: fsOf(row), limits: limitsOf(row), budget, depth: row.depth };
}

/** A checkpoint's saved state: the process's snapshot and the rights the kernel recorded for it. */
export type SavedProcess = ProcessSnapshot & { grant: SavedGrant };

/** A restore in progress: which checkpoint, of which process, and what it saved. */
export interface RestoreFrom {
  checkpointId: string;
  fromPid: number;
  saved: SavedProcess;
}

/**
 * The canonical text of a saved state and its id (the sha-256 of that text), or 413 when it is
 * larger than a checkpoint may be.
 */
export function sealCheckpoint(saved: SavedProcess): Outcome<{ id: string; text: string }> {
  const text = canonicalJson(saved);
  if (text.length > MAX_CHECKPOINT_CHARS) {
    return fail(413, "payload_too_large", `The saved state would be ${text.length} characters; checkpoints are limited to ${MAX_CHECKPOINT_CHARS}.`);
  }
  return ok({ id: sha256hex(text), text });
}

/**
 * Saved process states, content-addressed by the hash of their canonical JSON. Its tables
 * (`checkpoints`, `checkpoint_chunks`) are in schema.ts.
 */
export class CheckpointStore {
  constructor(private readonly sql: Sql) {}

  /** Idempotent: the same state saved twice is stored once. */
  save(id: string, pid: number, agent: string, text: string) {
    if (this.sql.exec("SELECT 1 FROM checkpoints WHERE id = ?", id).toArray().length > 0) return;
    const chunks = Math.max(1, Math.ceil(text.length / CHUNK_CHARS));
    for (let i = 0; i < chunks; i++) this.sql.exec("INSERT INTO checkpoint_chunks (id, idx, data) VALUES (?, ?, ?)", id, i, text.slice(i * CHUNK_CHARS, (i + 1) * CHUNK_CHARS));
    this.sql.exec("INSERT INTO checkpoints (id, pid, agent, created_at, chunks) VALUES (?, ?, ?, ?, ?)", id, pid, agent, new Date().toISOString(), chunks);
  }

  load(id: string): { pid: number; agent: string; text: string } | null {
    const meta = this.sql.exec<{ pid: number; agent: string }>("SELECT pid, agent FROM checkpoints WHERE id = ?", id).toArray()[0];
    if (!meta) return null;
    const text = this.sql
      .exec<{ data: string }>("SELECT data FROM checkpoint_chunks WHERE id = ? ORDER BY idx", id)
      .toArray()
      .map((r) => r.data)
      .join("");
    return { ...meta, text };
  }

  /**
   * What a restore starts from: the saved conversation and loop state (the rights went into the
   * restored process's row). Null when the checkpoint is missing.
   */
  startOf(checkpointId: string): ProcessStart | null {
    const saved = this.load(checkpointId);
    if (!saved) return null;
    const { agent, messages, loop } = JSON.parse(saved.text) as SavedProcess;
    return { restore: { agent, messages, loop } };
  }
}

/** What taking a checkpoint needs: the kernel's services, its store, and the process object's RPC. */
export interface CheckpointDeps {
  k: Pick<KernelServices, "table" | "ledger" | "checkpoints" | "audit">;
  store: SqlStore;
  process: Pick<ProcessForKernel, "snapshot" | "resume">;
}

/**
 * `POST /v1/procs/:pid/checkpoint`: the process saves its state (and is paused), the kernel adds the
 * rights it granted, and the sealed state is stored. A checkpoint that cannot be saved leaves the
 * process as it found it.
 */
export async function takeCheckpoint(d: CheckpointDeps, row: ProcRow, actor: Actor): Promise<Outcome<{ checkpointId: string }>> {
  const { pid } = row;
  const snap = await d.process.snapshot();
  if (!snap.ok) return snap;
  const { snapshot, wasPaused } = snap.value;
  // The rights are the kernel's record, not the process's: a restore gets exactly these, or less.
  const saved: SavedProcess = { ...snapshot, grant: savedGrant(d.k.table.get(pid)!, d.k.ledger.savedBudget(pid)) };
  const undo = () => (wasPaused ? Promise.resolve() : d.process.resume().then(() => undefined));
  const sealed = sealCheckpoint(saved);
  if (!sealed.ok) {
    await undo();
    return sealed;
  }
  const { id, text } = sealed.value;
  try {
    d.store.transactionSync(() => {
      d.k.checkpoints.save(id, pid, row.agent, text);
      d.k.table.recordPause(pid);
      d.k.audit.append({ actor, event: "checkpoint", pid, data: { checkpointId: id } });
    });
  } catch (err) {
    await undo();
    throw err;
  }
  return ok({ checkpointId: id });
}
