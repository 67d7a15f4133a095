import { fail, ok, type AgentSpec, type Outcome } from "../contracts";
import { ALL_TOOL_NAMES } from "../contracts/tools";
import { unknownToolsFailure } from "../agent/capabilities";
import { takePage, type Page } from "../lib/paging";
import type { SqlStore } from "../lib/sql-store";
import type { Actor, AuditLog } from "./audit-log";
import { mapRows, type AgentRow } from "./rows";

const notFound = (name: string) => fail(404, "agent_not_found", `No agent named ${name} is registered.`);

/** The tenant's agent registry (SPEC §4): AgentSpecs by name, like installed binaries. */
export class AgentRegistry {
  constructor(
    private readonly store: SqlStore,
    private readonly audit: AuditLog,
    /** Every tool an agent may name (built-in tools today; MCP tools can join later). */
    private readonly knownTools: () => readonly string[] = () => ALL_TOOL_NAMES,
  ) {}

  /** `PUT /v1/agents/:name`: registers or replaces a spec, refusing one whose tools name a tool that exists nowhere. */
  register(spec: AgentSpec, actor: Actor): Outcome<AgentSpec> {
    const unknown = unknownToolsFailure(spec.tools, `agent ${spec.name}'s tools`, this.knownTools());
    if (unknown) return { ok: false, error: unknown };
    return ok(this.put(spec, actor));
  }

  /** Registers or replaces a spec, as it is. */
  put(spec: AgentSpec, actor: Actor): AgentSpec {
    this.store.transactionSync(() => {
      this.store.sql.exec(
        "INSERT INTO agents (name, spec, updated_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        spec.name,
        JSON.stringify(spec),
        new Date().toISOString(),
      );
      this.audit.append({ actor, event: "agent_registered", data: { agent: spec.name, model: spec.model } });
    });
    return spec;
  }

  get(name: string): AgentSpec | null {
    const row = this.store.sql.exec<Pick<AgentRow, "spec">>("SELECT spec FROM agents WHERE name = ?", name).toArray()[0];
    return row ? (JSON.parse(row.spec) as AgentSpec) : null;
  }

  find(name: string): Outcome<AgentSpec> {
    const spec = this.get(name);
    return spec ? ok(spec) : notFound(name);
  }

  /** Specs can be large (scripts): a page is bounded by size as well as count. */
  page(page: { limit: number; cursor?: string }): Page<AgentSpec> {
    const rows = this.store.sql.exec<Pick<AgentRow, "spec">>("SELECT spec FROM agents WHERE name > ? ORDER BY name LIMIT ?", page.cursor ?? "", page.limit + 1);
    return takePage(mapRows(rows, (r) => JSON.parse(r.spec) as AgentSpec), page.limit, (a) => a.name);
  }

  remove(name: string, actor: Actor): Outcome<{ deleted: string }> {
    let found = false;
    this.store.transactionSync(() => {
      found = this.store.sql.exec("DELETE FROM agents WHERE name = ?", name).rowsWritten > 0;
      if (found) this.audit.append({ actor, event: "agent_deleted", data: { agent: name } });
    });
    return found ? ok({ deleted: name }) : notFound(name);
  }
}
