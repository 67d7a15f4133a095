import type { KernelObject } from "./objects/kernel";
import type { ProcessObject } from "./objects/process";
import type { WorkspaceObject } from "./objects/workspace";

/** The Worker's bindings (wrangler.toml, `.dev.vars`, `wrangler secret`). */
export interface Env {
  KERNEL: DurableObjectNamespace<KernelObject>;
  PROCESS: DurableObjectNamespace<ProcessObject>;
  WORKSPACE: DurableObjectNamespace<WorkspaceObject>;
  AUTH_SECRET: string;
  /** Tenant-wide cap on live processes (SPEC §7), default 1000. */
  MAX_LIVE_PROCESSES?: string;
}

export const kernelOf = (env: Env, tenant: string) => env.KERNEL.getByName(tenant);
export const processOf = (env: Env, tenant: string, pid: number) => env.PROCESS.getByName(`${tenant}/${pid}`);
export const workspaceOf = (env: Env, tenant: string) => env.WORKSPACE.getByName(tenant);
