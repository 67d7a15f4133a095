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

/**
 * An object's public methods as its RPC stub exposes them. The contracts type JSON values as
 * `unknown`, which workers-types' RPC mapping turns into `never` although they are structured-clonable
 * at run time; this view keeps the declared types, so callers see exactly what the object returns.
 */
export type Stub<T> = {
  [K in Exclude<keyof T, "fetch" | "alarm">]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
} & { fetch(request: Request): Promise<Response> };

export const kernelOf = (env: Env, tenant: string) => env.KERNEL.getByName(tenant) as unknown as Stub<KernelObject>;
export const processOf = (env: Env, tenant: string, pid: number) => env.PROCESS.getByName(`${tenant}/${pid}`) as unknown as Stub<ProcessObject>;
export const workspaceOf = (env: Env, tenant: string) => env.WORKSPACE.getByName(tenant) as unknown as Stub<WorkspaceObject>;
