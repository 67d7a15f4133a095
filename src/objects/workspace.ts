import { DurableObject } from "cloudflare:workers";
import type { FsScope, Outcome } from "../contracts";
import type { FsToolOutcome } from "../contracts/tools";
import type { Env } from "../env";
import { hiddenByPolicies, type PathFilter } from "../kernel/hook-chain";
import { deleteFile, globFiles, readFile, runFsTool, writeFile, type FileMeta, type FileStore } from "../workspace/fs-tools";

/**
 * The smallest string above every path starting with a directory prefix: its final `/` becomes `0`,
 * the next character, both in UTF-16 and in SQLite's byte order.
 */
const prefixEnd = (prefix: string): string => prefix.slice(0, -1) + "0";

/** FileStore over the object's SQLite storage. */
class SqlFileStore implements FileStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS files (
      path TEXT PRIMARY KEY,
      content TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      updated_at TEXT NOT NULL
    )`);
  }

  get(path: string): string | null {
    const row = this.sql.exec<{ content: string }>("SELECT content FROM files WHERE path = ?", path).toArray()[0];
    return row ? row.content : null;
  }

  stat(path: string): FileMeta | null {
    return this.sql.exec<{ path: string; bytes: number }>("SELECT path, bytes FROM files WHERE path = ?", path).toArray()[0] ?? null;
  }

  put(path: string, content: string, bytes: number): void {
    this.sql.exec(
      `INSERT INTO files (path, content, bytes, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET content = excluded.content, bytes = excluded.bytes, updated_at = excluded.updated_at`,
      path,
      content,
      bytes,
      new Date().toISOString(),
    );
  }

  delete(path: string): boolean {
    return this.sql.exec("DELETE FROM files WHERE path = ?", path).rowsWritten > 0;
  }

  list(prefix: string, limit = -1): Iterable<FileMeta> {
    if (!prefix.endsWith("/")) throw new Error(`list() takes a directory prefix ending in "/", not ${prefix}`);
    // A range on the primary key instead of LIKE: it uses the index and needs no escaping of % and _.
    return this.sql.exec<{ path: string; bytes: number }>(
      "SELECT path, bytes FROM files WHERE path >= ? AND path < ? ORDER BY path LIMIT ?",
      prefix,
      prefixEnd(prefix),
      limit,
    );
  }
}

const WRITING_TOOLS = new Set(["write_file", "edit_file", "delete_file"]);

/** How long the outcome of a tool call is kept to answer a re-run of the same call. */
const CALL_MEMORY_MS = 24 * 60 * 60 * 1000;

/** One tenant's files (SPEC §6): a thin shell over the pure file logic in src/workspace. */
export class WorkspaceObject extends DurableObject<Env> {
  private readonly store: FileStore;
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new SqlFileStore(this.sql);
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, outcome TEXT NOT NULL, at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS calls_at ON calls (at);
    `);
  }

  /**
   * One file-tool call from an agent process, checked against that process's fs scopes. With a
   * `callKey` (the process's pid and tool call id) the outcome is stored in the same transaction as
   * the file change, so a call re-run after its process crashed answers the stored outcome instead of
   * writing again: each file-tool call takes effect exactly once.
   */
  runTool(name: string, args: unknown, scopes: FsScope[], callKey?: string, hidden?: PathFilter[]): FsToolOutcome {
    // Reading twice changes nothing: only calls that write are remembered.
    if (!callKey || !WRITING_TOOLS.has(name)) {
      // What the tenant's policies deny is left out of a search's results, like what the scopes do not cover.
      return runFsTool(this.store, name, args, scopes, hidden?.length ? { hidden: (path) => hiddenByPolicies(hidden, path) } : undefined);
    }
    return this.ctx.storage.transactionSync(() => {
      const seen = this.sql.exec<{ outcome: string }>("SELECT outcome FROM calls WHERE key = ?", callKey).toArray()[0];
      if (seen) return JSON.parse(seen.outcome) as FsToolOutcome;
      const outcome = runFsTool(this.store, name, args, scopes);
      const now = Date.now();
      this.sql.exec("INSERT INTO calls (key, outcome, at) VALUES (?, ?, ?)", callKey, JSON.stringify(outcome), now);
      this.sql.exec("DELETE FROM calls WHERE at < ?", now - CALL_MEMORY_MS);
      return outcome;
    });
  }

  readFile(path: string): Outcome<{ path: string; content: string }> {
    return readFile(this.store, path);
  }

  writeFile(path: string, content: string): Outcome<{ path: string; bytes: number }> {
    return writeFile(this.store, path, content);
  }

  deleteFile(path: string): Outcome<{ path: string }> {
    return deleteFile(this.store, path);
  }

  globFiles(glob: string): Outcome<string[]> {
    return globFiles(this.store, glob);
  }
}
