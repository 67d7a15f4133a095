/**
 * The process object's tables as the code before schema versions made them (its earliest inbox: no
 * question columns), for the migration tests in Node and in workerd.
 */
export const OLD_PROCESS_TABLES = `
  CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE messages (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
  CREATE TABLE conversation_size (id INTEGER PRIMARY KEY CHECK (id = 1), bytes INTEGER NOT NULL);
  CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL);
  CREATE TABLE inbox (
    task_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
    result TEXT, reason TEXT, usage TEXT NOT NULL, delivery TEXT NOT NULL,
    injected INTEGER NOT NULL DEFAULT 0, collected INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE journal (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;
