import { fail, ok, type HookEvent, type HookSpec, type HookSpecInput, type HookView, type Outcome } from "../contracts";
import { redactUrlCredentials } from "../lib/net";
import type { SqlStore } from "../lib/sql-store";
import type { Actor, AuditLog } from "./audit-log";
import { hooksFor } from "./hook-chain";

/**
 * The tenant's hook chain as stored (SPEC §8): ordered by position, behind the built-in `audit`
 * hook, which is never stored and cannot be replaced or removed. The chain is read on every spawn
 * and dispatch, so it is cached in memory and the cache dropped on every change. What the hooks
 * say about an event is hook-chain.ts.
 */
export class HookRegistry {
  private cache: HookSpec[] | null = null;

  constructor(
    private readonly store: SqlStore,
    private readonly audit: AuditLog,
  ) {}

  /** The stored chain, in order. */
  list(): HookSpec[] {
    return (this.cache ??= this.store.sql
      .exec<{ spec: string }>("SELECT spec FROM hooks ORDER BY position")
      .toArray()
      .map((r) => JSON.parse(r.spec) as HookSpec));
  }

  /** Whether any stored hook listens to `event`. */
  listens(event: HookEvent): boolean {
    return hooksFor(this.list(), event).length > 0;
  }

  /** Forgets the cached chain (after the table changed behind the registry's back). */
  invalidate() {
    this.cache = null;
  }

  /** `GET /v1/hooks`: the whole chain as shown, secrets and URL credentials left out. */
  views(): HookView[] {
    return [{ name: "audit", kind: "audit", position: 0 }, ...this.list().map((h, i) => viewOf(h, i + 1))];
  }

  /** Adds a hook at the end of the chain, or replaces one in place. */
  put(name: string, input: HookSpecInput, actor: Actor): Outcome<HookView> {
    if (name === "audit") return fail(409, "conflict", "The built-in audit hook cannot be replaced.");
    const spec = { ...input, name } as HookSpec;
    const { sql } = this.store;
    this.store.transactionSync(() => {
      const existing = sql.exec<{ position: number }>("SELECT position FROM hooks WHERE name = ?", name).toArray()[0];
      const position = existing?.position ?? (sql.exec<{ p: number | null }>("SELECT max(position) AS p FROM hooks").one().p ?? 0) + 1;
      sql.exec("INSERT INTO hooks (name, position, spec) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET spec = excluded.spec", name, position, JSON.stringify(spec));
      // A webhook's URL is audited without its credentials (user:password@).
      const where = spec.kind === "webhook" ? { url: redactUrlCredentials(spec.url) } : {};
      this.audit.append({ actor, event: "hook_changed", data: { hook: name, kind: spec.kind, ...where, change: existing ? "replaced" : "added" } });
    });
    this.invalidate();
    const index = this.list().findIndex((h) => h.name === name);
    return ok(viewOf(this.list()[index]!, index + 1));
  }

  remove(name: string, actor: Actor): Outcome<{ deleted: string }> {
    if (name === "audit") return fail(409, "conflict", "The built-in audit hook cannot be removed.");
    let found = false;
    this.store.transactionSync(() => {
      found = this.store.sql.exec("DELETE FROM hooks WHERE name = ?", name).rowsWritten > 0;
      if (found) this.audit.append({ actor, event: "hook_changed", data: { hook: name, change: "removed" } });
    });
    this.invalidate();
    return found ? ok({ deleted: name }) : fail(404, "not_found", `No hook named ${name}.`);
  }
}

function viewOf(spec: HookSpec, position: number): HookView {
  if (spec.kind === "webhook") {
    // Neither the secret nor credentials in the URL (user:password@) are ever shown back.
    const { secret: _secret, ...rest } = spec;
    return { ...rest, url: redactUrlCredentials(rest.url), position };
  }
  return { ...spec, position };
}
