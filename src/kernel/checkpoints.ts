/** SQLite keeps a value to 2 MB: a saved state is stored in chunks below that. */
const CHUNK_CHARS = 500_000;

/** Saved process states, content-addressed by the hash of their canonical JSON. */
export class CheckpointStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`
      CREATE TABLE IF NOT EXISTS checkpoints (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, agent TEXT NOT NULL, created_at TEXT NOT NULL, chunks INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS checkpoint_chunks (id TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (id, idx));
    `);
  }

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
}
