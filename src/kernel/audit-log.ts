import type { AuditDraft, AuditEntry, AuditVerify } from "../contracts";
import { GENESIS_HASH, sealEntry, verifyChain } from "./audit-chain";

interface AuditRow {
  seq: number;
  at: string;
  actor: string;
  event: string;
  pid: number | null;
  parent_pid: number | null;
  task_id: string | null;
  data: string;
  prev_hash: string;
  hash: string;
  [key: string]: SqlStorageValue;
}

const PAGE = 2000;

/** The tenant's audit log in SQLite: append-only, hash-chained (the rules are in audit-chain.ts). */
export class AuditLog {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS audit (
      seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, event TEXT NOT NULL, pid INTEGER,
      parent_pid INTEGER, task_id TEXT, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
    )`);
  }

  /** Synchronous, so an entry joins the transaction of the change it records. */
  append(draft: AuditDraft): AuditEntry {
    const head = this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").toArray()[0];
    const entry = sealEntry(draft, (head?.seq ?? 0) + 1, new Date().toISOString(), head?.hash ?? GENESIS_HASH);
    this.sql.exec(
      "INSERT INTO audit (seq, at, actor, event, pid, parent_pid, task_id, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
      entry.seq,
      entry.at,
      entry.actor,
      entry.event,
      entry.pid ?? null,
      entry.parentPid ?? null,
      entry.taskId ?? null,
      JSON.stringify(entry.data),
      entry.prevHash,
      entry.hash,
    );
    return entry;
  }

  page(afterSeq: number, limit: number): AuditEntry[] {
    return this.sql
      .exec<AuditRow>("SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", afterSeq, limit)
      .toArray()
      .map((r) => {
        const e: AuditEntry = { seq: r.seq, at: r.at, actor: r.actor, event: r.event as AuditEntry["event"], data: JSON.parse(r.data), prevHash: r.prev_hash, hash: r.hash };
        if (r.pid !== null) e.pid = r.pid;
        if (r.parent_pid !== null) e.parentPid = r.parent_pid;
        if (r.task_id !== null) e.taskId = r.task_id;
        return e;
      });
  }

  /** Re-hashes the whole chain, a page at a time. */
  verify(): AuditVerify {
    const log = this;
    function* all() {
      for (let after = 0; ; ) {
        const page = log.page(after, PAGE);
        yield* page;
        if (page.length < PAGE) return;
        after = page.at(-1)!.seq;
      }
    }
    return verifyChain(all());
  }
}
