import type { SqlStore } from "../lib/sql-store";
import { DROP_TRIGGERS, FEED_SCHEMA, FEED_V4 } from "./tenant-feed";

/**
 * The kernel's SQLite schema, versioned. `meta.schema_version` records the last migration applied;
 * `migrate` applies the ones after it, in order, each in its own transaction with the version bump,
 * once per object (the constructor calls it; on a current store it is one read).
 *
 * A migration is never edited once shipped: stored objects have run it. Add a new one instead.
 */
export interface Migration {
  version: number;
  /** What it changes, for the reader. */
  description: string;
  /** SQL run as one script (several statements, no bindings). */
  sql: string;
}

/**
 * Version 1 is the schema as it was before versions existed, statement for statement (the kernel's
 * own tables, then the audit log's, the outbox's and the checkpoints'). Every statement says
 * IF NOT EXISTS, so an object created before versions existed takes it as a no-op and keeps its rows.
 */
const V1 = `
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, spec TEXT NOT NULL, updated_at TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS procs (
        pid INTEGER PRIMARY KEY, agent TEXT NOT NULL, parent_pid INTEGER, task_id TEXT, state TEXT NOT NULL,
        mode TEXT NOT NULL, turn_count INTEGER NOT NULL DEFAULT 0, usage TEXT NOT NULL, tools TEXT NOT NULL, fs TEXT NOT NULL,
        budget_limit TEXT NOT NULL, budget_used TEXT NOT NULL, tree_used TEXT NOT NULL, limits TEXT NOT NULL, depth INTEGER NOT NULL, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, exit TEXT, result TEXT, metadata TEXT NOT NULL, warnings TEXT NOT NULL DEFAULT '[]',
        singleton_of TEXT, started INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX IF NOT EXISTS procs_state ON procs (state);
      CREATE INDEX IF NOT EXISTS procs_parent ON procs (parent_pid);
      CREATE UNIQUE INDEX IF NOT EXISTS procs_singleton ON procs (singleton_of);
      CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, pid INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS hooks (name TEXT PRIMARY KEY, position INTEGER NOT NULL, spec TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tasks (
        id TEXT PRIMARY KEY, copilot_pid INTEGER NOT NULL, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
        status_message TEXT, status_at TEXT NOT NULL, result TEXT, delivery TEXT NOT NULL, budget TEXT NOT NULL,
        requested TEXT NOT NULL, granted TEXT NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL, idem_key TEXT
      );
      CREATE INDEX IF NOT EXISTS tasks_copilot ON tasks (copilot_pid);
      CREATE TABLE IF NOT EXISTS audit (
      seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, event TEXT NOT NULL, pid INTEGER,
      parent_pid INTEGER, task_id TEXT, data TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS audit_verified (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL, sweep_next INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, pid INTEGER NOT NULL, payload TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, held INTEGER NOT NULL DEFAULT 0, via_alarm INTEGER NOT NULL DEFAULT 0
    );
      CREATE TABLE IF NOT EXISTS checkpoints (id TEXT PRIMARY KEY, pid INTEGER NOT NULL, agent TEXT NOT NULL, created_at TEXT NOT NULL, chunks INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS checkpoint_chunks (id TEXT NOT NULL, idx INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (id, idx));
`;

/** MCP servers (src/kernel/mcp-registry.ts): one row per server, one per listed tool (SQLite values stay under 2 MB). */
const MCP = `
  CREATE TABLE IF NOT EXISTS mcp_servers (
    name TEXT PRIMARY KEY, url TEXT NOT NULL, headers TEXT NOT NULL, globs TEXT NOT NULL, timeout_ms INTEGER NOT NULL,
    server_info TEXT NOT NULL, skipped TEXT NOT NULL, revision INTEGER NOT NULL, registered_at TEXT NOT NULL, refreshed_at TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS mcp_tools (
    server TEXT NOT NULL, tool TEXT NOT NULL, name TEXT NOT NULL, position INTEGER NOT NULL, description TEXT NOT NULL,
    input_schema TEXT NOT NULL, annotations TEXT NOT NULL, exposed INTEGER NOT NULL, PRIMARY KEY (server, tool)
  );
  CREATE UNIQUE INDEX IF NOT EXISTS mcp_tools_name ON mcp_tools (name);
`;

/**
 * SQLite cannot drop a NOT NULL constraint in place: the table is rebuilt with its rows, and its
 * index and the feed's two triggers on it (dropped with the old table) are made again.
 */
const TASKS_NULLABLE_COPILOT = `
  CREATE TABLE tasks_rebuilt (
    id TEXT PRIMARY KEY, copilot_pid INTEGER, worker_pid INTEGER NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL,
    status_message TEXT, status_at TEXT NOT NULL, result TEXT, delivery TEXT NOT NULL, budget TEXT NOT NULL,
    requested TEXT NOT NULL, granted TEXT NOT NULL, metadata TEXT NOT NULL, created_at TEXT NOT NULL
  );
  INSERT INTO tasks_rebuilt SELECT id, copilot_pid, worker_pid, agent, state, status_message, status_at, result, delivery, budget, requested, granted, metadata, created_at FROM tasks;
  DROP TABLE tasks;
  ALTER TABLE tasks_rebuilt RENAME TO tasks;
  CREATE INDEX IF NOT EXISTS tasks_copilot ON tasks (copilot_pid);
  CREATE INDEX IF NOT EXISTS tasks_agent ON tasks (agent, worker_pid);
  CREATE TRIGGER IF NOT EXISTS feed_task_insert AFTER INSERT ON tasks BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('task', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
  CREATE TRIGGER IF NOT EXISTS feed_task_update AFTER UPDATE OF state ON tasks BEGIN
    INSERT INTO tenant_events (type, ref, at) VALUES ('task', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
  END;
`;

/**
 * People in the loop (SPEC §11). `approvals.seq` orders lists and pages; (pid, tool_call_id, hook) is unique, which
 * makes opening an approval idempotent (a later hook of the chain may ask again about the same call).
 * `questions` holds every `request_input`, keyed by (pid, tool_call_id), answered or not.
 * `procs.pending_input` is a top-level process's open question (JSON), shown on its Process JSON.
 */
const PEOPLE = `
  CREATE TABLE approvals (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, pid INTEGER NOT NULL, root_pid INTEGER NOT NULL, agent TEXT NOT NULL,
    tool TEXT NOT NULL, arguments TEXT NOT NULL, original_arguments TEXT, tool_call_id TEXT NOT NULL, hook TEXT NOT NULL,
    reason TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, expires_at INTEGER NOT NULL, decided_at TEXT,
    decided_by TEXT, message TEXT, UNIQUE (pid, tool_call_id, hook)
  );
  CREATE INDEX approvals_state ON approvals (state, expires_at);
  CREATE INDEX approvals_root ON approvals (root_pid);
  CREATE TABLE questions (
    pid INTEGER NOT NULL, tool_call_id TEXT NOT NULL, task_id TEXT, question TEXT NOT NULL, asked_at TEXT NOT NULL,
    answer TEXT, answered_by TEXT, answered_at TEXT, PRIMARY KEY (pid, tool_call_id)
  );
  ALTER TABLE procs ADD COLUMN pending_input TEXT;
  ${FEED_V4}
`;

/**
 * Counters in place of scans on the spawn path (each was a count over the table or over a parent's
 * children, which made a fan-out of N cost O(N²)): `meta.live_count` (live processes: the tenant's cap)
 * and `procs.started_children` (live children holding a maxChildren slot), kept by triggers in the
 * transaction of every insert and state change (until v9 dropped them: `ProcessTable` keeps them since); and
 * `procs.children_outstanding`, the sum of the live children's unused budget reservations, kept by the
 * ledger (src/kernel/budget-ledger.ts) where reservations and usage change (NULL until first computed).
 */
const LIVE = "('created', 'running', 'sleeping', 'paused')";
const COUNTERS = `
  ALTER TABLE procs ADD COLUMN started_children INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE procs ADD COLUMN children_outstanding TEXT;
  UPDATE procs SET started_children = (SELECT count(*) FROM procs c WHERE c.parent_pid = procs.pid AND c.started = 1 AND c.state IN ${LIVE});
  INSERT INTO meta (key, value) VALUES ('live_count', (SELECT count(*) FROM procs WHERE state IN ${LIVE}))
    ON CONFLICT(key) DO UPDATE SET value = excluded.value;
  CREATE INDEX procs_parent_started ON procs (parent_pid, started, pid);
  CREATE INDEX outbox_pid ON outbox (pid);
  CREATE INDEX outbox_due ON outbox (held, via_alarm, next_at);
  CREATE TRIGGER procs_counters_insert AFTER INSERT ON procs BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'live_count' AND NEW.state IN ${LIVE};
    UPDATE procs SET started_children = started_children + 1 WHERE pid = NEW.parent_pid AND NEW.started = 1 AND NEW.state IN ${LIVE};
  END;
  CREATE TRIGGER procs_counters_update AFTER UPDATE OF state, started ON procs
    WHEN (NEW.state IN ${LIVE}) != (OLD.state IN ${LIVE}) OR NEW.started != OLD.started BEGIN
    UPDATE meta SET value = value + (NEW.state IN ${LIVE}) - (OLD.state IN ${LIVE}) WHERE key = 'live_count';
    UPDATE procs SET started_children = started_children + (NEW.started = 1 AND NEW.state IN ${LIVE}) - (OLD.started = 1 AND OLD.state IN ${LIVE})
      WHERE pid = NEW.parent_pid;
  END;
`;

/**
 * Budget leases (src/kernel/leases.ts): `procs.lease`, what a live process may spend before it reports
 * again, and `procs.leased`, the running sum of the leases held in a process's subtree, itself included
 * (kept by the ledger along the ancestor chain on every grant and release). NULL is none: a store
 * from before holds no leases.
 */
const LEASES = `
  ALTER TABLE procs ADD COLUMN lease TEXT;
  ALTER TABLE procs ADD COLUMN leased TEXT;
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, description: "the schema before versions: process table, agents, hooks, tasks, idempotency, audit, outbox, checkpoints", sql: V1 },
  { version: 2, description: "drop tasks.idem_key, which nothing ever wrote (delegations replay through the idempotency table)", sql: "ALTER TABLE tasks DROP COLUMN idem_key" },
  { version: 3, description: "the tenant feed: tenant_events, filled by triggers on procs, tasks and audit in the transaction of each change", sql: FEED_SCHEMA },
  { version: 4, description: "MCP servers and their tool catalogues (mcp_servers, mcp_tools)", sql: MCP },
  { version: 5, description: "tasks.copilot_pid nullable: a top-level process spawned over A2A has a task and no copilot", sql: TASKS_NULLABLE_COPILOT },
  { version: 6, description: "people in the loop: approvals, questions, a top-level process's pending question, and their feed triggers", sql: PEOPLE },
  { version: 7, description: "counters instead of scans: meta.live_count, procs.started_children (triggers), procs.children_outstanding (the ledger), indexes for queued children and the outbox", sql: COUNTERS },
  { version: 8, description: "budget leases: procs.lease (a live process's lease) and procs.leased (the leases its subtree holds)", sql: LEASES },
  { version: 9, description: "no triggers: the feed's rows and the process counters are written by the services (src/kernel/tenant-feed.ts FeedLog, process-table.ts)", sql: DROP_TRIGGERS },
];

/** The version a store has once `migrate` ran. */
export const SCHEMA_VERSION = MIGRATIONS.at(-1)!.version;

/** The version a store is at: 0 when it has never been migrated (new, or from before versions). */
export function schemaVersion(store: SqlStore): number {
  // meta is the first table of version 1; creating it (if missing) is that statement exactly.
  store.sql.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  const row = store.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = 'schema_version'").toArray()[0];
  return row ? Number(row.value) : 0;
}

/**
 * Brings the store to `SCHEMA_VERSION`: each pending migration and its version bump in one
 * transaction, so a store is never left between two versions. A store already past this code's
 * last version (a deployment rolled back) is left as it is.
 */
export function migrate(store: SqlStore, migrations: readonly Migration[] = MIGRATIONS): { from: number; to: number } {
  const from = schemaVersion(store);
  const latest = migrations.at(-1)?.version ?? 0;
  for (const m of migrations) {
    if (m.version <= from) continue;
    store.transactionSync(() => {
      store.sql.exec(m.sql);
      store.sql.exec(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        String(m.version),
      );
    });
  }
  return { from, to: Math.max(from, latest) };
}
