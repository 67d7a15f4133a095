import type { Sql, SqlStore } from "../lib/sql-store";
import { TERMINAL_TASK_SQL } from "../lib/sql-store";

/**
 * The process object's SQLite schema, versioned like the kernel's (src/kernel/schema.ts), with its
 * version in the object's own key-value table (`kv.schemaVersion`), which the store reads whole when
 * an incarnation first loads. So an object at the current version runs no DDL at all, a new one
 * creates its tables in one script inside the transaction that creates its process (`createTables`),
 * and one written by older code is brought forward once by the migrations after its version.
 *
 * Schema changes are the most expensive statements a new object runs, and every worker of a fan-out
 * is a new object: it gets the fewest b-trees that serve it (kv and journal have no rowid), and two
 * tables are made when first written: the journal (`createJournal`; a process whose only step ends
 * it never records one) and the inbox (`createInbox`; only a copilot has one). A migration must
 * therefore expect either to be missing.
 *
 * A migration is never edited once shipped: stored objects have run it. Add a new one, and make
 * `TABLES`, `JOURNAL` and `INBOX` the schema it leaves (test/node/process/schema.test.ts compares them).
 */
export interface ProcessMigration {
  version: number;
  /** What it changes, for the reader. */
  description: string;
  apply(store: SqlStore): void;
}

/** The kv key of the version. */
export const SCHEMA_VERSION_KEY = "schemaVersion";
/** The kv key of the conversation's size in bytes (so admission never scans the conversation). */
export const CONVERSATION_BYTES_KEY = "conversationBytes";

/**
 * Ended immediate and deferred tasks not yet shown to the model: the inbox's partial index holds
 * exactly these, so the query that reads them before a model call (with this same condition) reads
 * no other row.
 */
export const INBOX_UNSHOWN_RESULTS = `injected = 0 AND collected = 0 AND delivery != 'on_demand' AND state IN ${TERMINAL_TASK_SQL}`;
/** Open questions of immediate and deferred tasks the model has not seen yet (the same, for questions). */
export const INBOX_UNSHOWN_QUESTIONS = "state = 'input-required' AND question IS NOT NULL AND question_shown = 0 AND delivery != 'on_demand'";

/**
 * Version 1 is the schema as the process object made it before versions existed, each module in its
 * constructor, statement for statement. Every statement says IF NOT EXISTS, so an object written by
 * that code takes it as a no-op and keeps its rows.
 */
const V1 = `
  CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS messages (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS conversation_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS inbox (
    task_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
    result TEXT, reason TEXT, usage TEXT NOT NULL, delivery TEXT NOT NULL,
    injected INTEGER NOT NULL DEFAULT 0, collected INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX IF NOT EXISTS inbox_seq ON inbox (seq);
  CREATE TABLE IF NOT EXISTS journal (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

export const PROCESS_MIGRATIONS: readonly ProcessMigration[] = [
  { version: 1, description: "the tables as the process object made them before versions existed", apply: (s) => s.sql.exec(V1) },
  {
    version: 2,
    description: "a worker's open question in its copilot's inbox: its text and id, whether the model saw it, the ids already answered",
    apply: (s) => {
      // The code before versions added these columns in its constructor: an object it touched has them.
      const columns = new Set(s.sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('inbox')").toArray().map((c) => c.name));
      if (columns.has("question")) return;
      s.sql.exec(`
        ALTER TABLE inbox ADD COLUMN question TEXT;
        ALTER TABLE inbox ADD COLUMN question_id TEXT;
        ALTER TABLE inbox ADD COLUMN question_shown INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE inbox ADD COLUMN answered TEXT NOT NULL DEFAULT '[]';
      `);
    },
  },
  {
    version: 3,
    description:
      "kv and journal without rowids; the conversation's size in kv (read and written with the rest of the state) instead of a table of its own; partial indexes of what joins the conversation",
    apply: (s) =>
      s.sql.exec(`
        CREATE TABLE kv_v3 (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO kv_v3 (key, value) SELECT key, value FROM kv;
        INSERT INTO kv_v3 (key, value) SELECT '${CONVERSATION_BYTES_KEY}', CAST(bytes AS TEXT) FROM conversation_size WHERE id = 1;
        DROP TABLE kv;
        ALTER TABLE kv_v3 RENAME TO kv;
        DROP TABLE conversation_size;
        CREATE TABLE journal_v3 (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        INSERT INTO journal_v3 (key, value) SELECT key, value FROM journal;
        DROP TABLE journal;
        ALTER TABLE journal_v3 RENAME TO journal;
        CREATE INDEX inbox_unshown_results ON inbox (seq) WHERE ${INBOX_UNSHOWN_RESULTS};
        CREATE INDEX inbox_unshown_questions ON inbox (seq) WHERE ${INBOX_UNSHOWN_QUESTIONS};
      `),
  },
];

export const PROCESS_SCHEMA_VERSION = PROCESS_MIGRATIONS.at(-1)!.version;

/** The schema the migrations leave, but the journal and the inbox: made at once for a new object, in the transaction that creates its process. */
const TABLES = `
  CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE messages (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL);
`;

/** The journal as the migrations leave it. */
const JOURNAL = "CREATE TABLE journal (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID";

/** The inbox as the migrations leave it. */
const INBOX = `
  CREATE TABLE inbox (
    task_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
    result TEXT, reason TEXT, usage TEXT NOT NULL, delivery TEXT NOT NULL,
    injected INTEGER NOT NULL DEFAULT 0, collected INTEGER NOT NULL DEFAULT 0,
    question TEXT, question_id TEXT, question_shown INTEGER NOT NULL DEFAULT 0, answered TEXT NOT NULL DEFAULT '[]'
  );
  CREATE INDEX inbox_seq ON inbox (seq);
  CREATE INDEX inbox_unshown_results ON inbox (seq) WHERE ${INBOX_UNSHOWN_RESULTS};
  CREATE INDEX inbox_unshown_questions ON inbox (seq) WHERE ${INBOX_UNSHOWN_QUESTIONS};
`;

/**
 * Makes the tables of a new object (none exist yet), in the caller's transaction. The version is
 * written by the caller with the rest of the new process's state (`kv.schemaVersion`).
 */
export function createTables(store: SqlStore): void {
  store.sql.exec(TABLES);
}

/** Makes the journal, at its first record (in the caller's transaction). */
export function createJournal(sql: Sql): void {
  sql.exec(JOURNAL);
}

/** Makes the inbox, at its first delegation (in the caller's transaction when there is one). */
export function createInbox(sql: Sql): void {
  sql.exec(INBOX);
}

/** The names of the object's tables (none: a new object). */
export function tableNames(sql: Sql): Set<string> {
  return new Set(sql.exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().map((t) => t.name));
}

/**
 * Brings an object written by older code (`from`: its version, 0 before versions existed) to the
 * current version: each migration after it and its version bump in one transaction, so an object is
 * never left between two versions. An object past this code's version (a rollback) is left as it is.
 */
export function migrateProcessSchema(store: SqlStore, from: number): void {
  for (const m of PROCESS_MIGRATIONS) {
    if (m.version <= from) continue;
    store.transactionSync(() => {
      m.apply(store);
      store.sql.exec(
        "INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        SCHEMA_VERSION_KEY,
        JSON.stringify(m.version),
      );
    });
  }
}
