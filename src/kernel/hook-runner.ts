import type { ExitStatus, HookContext, HookVerdict, Warning } from "../contracts";
import { SEARCH_TOOLS } from "../agent/dispatch";
import type { AuditLog } from "./audit-log";
import { pathFilters, runPostHooks, runPreHooks, type Fetcher, type PathFilter } from "./hook-chain";
import type { HookRegistry } from "./hook-registry";
import type { ProcRow } from "./rows";
import type { DispatchReport } from "../rpc/messages";

export interface HookRunnerDeps {
  registry: HookRegistry;
  audit: AuditLog;
  tenant(): string;
  /** Hosts webhooks may reach although they are private (`ALLOW_PRIVATE_HOSTS`). */
  privateHosts(): string[];
  /** How webhooks are called; the global fetch, looked up at each call, unless given. */
  fetch?: Fetcher;
}

/** A tool call as pre_dispatch hooks see it. */
export interface DispatchCall {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  paths: string[];
}

/** What the pre_dispatch hooks said about a turn's calls. */
export interface DispatchVerdicts {
  vetoes: Record<string, { hook: string; reason: string }>;
  /** Per search call: what the policies deny below the path it names, filtered from its results. */
  hidden: Record<string, PathFilter[]>;
  /** Whether any post_dispatch hook listens (the process reports its results only then). */
  postHooks: boolean;
  /** Calls a policy wants a person to decide (the kernel opens their approvals). */
  asks: Record<string, { hook: string; reason: string; timeoutMs: number }>;
}

/**
 * The kernel's events as the hook chain sees them (SPEC §8): builds each event's context and runs
 * the stored chain for it. The rules of the chain are hook-chain.ts; this module never writes a
 * process row (warnings go back to the caller), only the audit entries of dispatch vetoes.
 */
export class HookRunner {
  constructor(private readonly deps: HookRunnerDeps) {}

  private get fetcher(): Fetcher {
    return this.deps.fetch ?? ((input, init) => fetch(input, init));
  }

  /** pre_spawn: may veto. Null when no hook listens (nothing to wait for). */
  async preSpawn(agent: string, parentPid: number | null): Promise<{ verdict: HookVerdict; warnings: Warning[] } | null> {
    if (!this.deps.registry.listens("pre_spawn")) return null;
    const ctx: HookContext = { event: "pre_spawn", tenant: this.deps.tenant(), agent, parentPid };
    return runPreHooks(this.deps.registry.list(), ctx, this.fetcher, this.deps.privateHosts());
  }

  /** post_spawn: the warnings of hooks that failed. */
  async postSpawn(pid: number, agent: string, parentPid: number | null): Promise<Warning[]> {
    if (!this.deps.registry.listens("post_spawn")) return [];
    return runPostHooks(this.deps.registry.list(), { event: "post_spawn", tenant: this.deps.tenant(), pid, agent, parentPid }, this.fetcher, this.deps.privateHosts());
  }

  /** The post_terminate event of an exit, to keep in the outbox; null when no hook listens. */
  postTerminateEvent(row: Pick<ProcRow, "pid" | "parent_pid" | "agent">, exit: ExitStatus): HookContext | null {
    if (!this.deps.registry.listens("post_terminate")) return null;
    return { event: "post_terminate", tenant: this.deps.tenant(), pid: row.pid, parentPid: row.parent_pid, agent: row.agent, exit: { code: exit.code, reason: exit.reason } };
  }

  /** post_terminate, from the outbox: the warnings of hooks that failed. */
  async postTerminate(ctx: HookContext): Promise<Warning[]> {
    return runPostHooks(this.deps.registry.list(), ctx, this.fetcher, this.deps.privateHosts());
  }

  /**
   * pre_dispatch for each of a turn's calls; a veto is audited as `dispatch_vetoed`. `afterHook`: only
   * the hooks after that one run (the call was approved after it asked).
   */
  async beforeDispatch(
    pid: number,
    lookup: () => Pick<ProcRow, "parent_pid" | "agent"> | null,
    calls: readonly DispatchCall[],
    opts: { afterHook?: string } = {},
  ): Promise<DispatchVerdicts> {
    const hooks = this.deps.registry.list();
    const vetoes: DispatchVerdicts["vetoes"] = {};
    const hidden: DispatchVerdicts["hidden"] = {};
    const asks: DispatchVerdicts["asks"] = {};
    const postHooks = this.deps.registry.listens("post_dispatch");
    if (!this.deps.registry.listens("pre_dispatch")) return { vetoes, hidden, postHooks, asks };
    const row = lookup();
    await Promise.all(
      calls.map(async (call) => {
        const ctx: HookContext = {
          event: "pre_dispatch",
          tenant: this.deps.tenant(),
          pid,
          parentPid: row?.parent_pid ?? null,
          ...(row ? { agent: row.agent } : {}),
          tool: call.name,
          paths: call.paths,
          arguments: call.arguments,
        };
        const { verdict } = await runPreHooks(hooks, ctx, this.fetcher, this.deps.privateHosts(), opts);
        if (verdict.allow === "ask") {
          asks[call.id] = { hook: verdict.hook, reason: verdict.reason, timeoutMs: verdict.timeoutMs };
          return;
        }
        if (!verdict.allow) {
          vetoes[call.id] = { hook: verdict.hook, reason: verdict.reason };
          this.deps.audit.append({ actor: `process:${pid}`, event: "dispatch_vetoed", pid, data: { tool: call.name, paths: call.paths, hook: verdict.hook, reason: verdict.reason } });
          return;
        }
        // A search reads below the path it names: what the policies deny there is filtered from its results.
        if (SEARCH_TOOLS.has(call.name)) {
          const filters = pathFilters(hooks, ctx);
          if (filters.length) hidden[call.id] = filters;
        }
      }),
    );
    return { vetoes, hidden, postHooks, asks };
  }

  /** post_dispatch for each result: the warnings of hooks that failed. */
  async afterDispatch(pid: number, agent: string | null, results: readonly { toolCallId: string; name: string; success: boolean; durationMs: number }[]): Promise<Warning[]> {
    const outcomes = await Promise.all(
      results.map((r) =>
        runPostHooks(
          this.deps.registry.list(),
          { event: "post_dispatch", tenant: this.deps.tenant(), pid, ...(agent !== null ? { agent } : {}), tool: r.name, arguments: { toolCallId: r.toolCallId, success: r.success, durationMs: r.durationMs } },
          this.fetcher,
          this.deps.privateHosts(),
        ),
      ),
    );
    return outcomes.flat();
  }
}

/**
 * The audit entries of a dispatch report: each denial, and each MCP call — what was called and how it
 * went, never its arguments, its result or the server's headers.
 */
export function auditDispatch(audit: AuditLog, pid: number, report: Pick<DispatchReport, "denials" | "mcpCalls">): void {
  const actor = `process:${pid}` as const;
  for (const d of report.denials) audit.append({ actor, event: "dispatch_denied", pid, data: { tool: d.tool, toolCallId: d.toolCallId, paths: d.paths, reason: d.reason } });
  for (const c of report.mcpCalls ?? []) audit.append({ actor, event: "mcp_call", pid, data: { tool: c.tool, toolCallId: c.toolCallId, durationMs: c.durationMs, ok: c.ok, ...(c.interrupted ? { interrupted: true } : {}) } });
}
