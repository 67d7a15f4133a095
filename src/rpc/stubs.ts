/**
 * The Durable Objects' RPC surfaces, one view per caller. A route holds a `KernelForRoutes` and so
 * cannot reach `report` or `exited`, which only a process may call; a process holds a
 * `KernelForProcess`; and so on. Each view is a `Pick` of the object's own methods, so it cannot
 * drift from what the object implements.
 */
import type { Env } from "../env";
import type { KernelObject } from "../objects/kernel";
import type { ProcessObject } from "../objects/process";
import type { WorkspaceObject } from "../objects/workspace";

/**
 * An object's public methods as its RPC stub exposes them. The contracts type JSON values as
 * `unknown`, which workers-types' RPC mapping turns into `never` although they are structured-clonable
 * at run time; this view keeps the declared types, so callers see exactly what the object returns.
 */
export type Stub<T> = {
  [K in Exclude<keyof T, "fetch" | "alarm">]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
} & { fetch(request: Request): Promise<Response> };

type View<T, K extends keyof Stub<T>> = Pick<Stub<T>, K>;

/** What the HTTP API asks of a tenant's kernel. */
export type KernelForRoutes = View<
  KernelObject,
  | "registerAgent"
  | "getAgent"
  | "listAgents"
  | "deleteAgent"
  | "listHooks"
  | "putHook"
  | "deleteHook"
  | "listAudit"
  | "verifyAudit"
  | "hasProcess"
  | "getProcess"
  | "listProcesses"
  | "spawn"
  | "spawnTask"
  | "awaitTask"
  | "wait"
  | "kill"
  | "checkpoint"
  | "restore"
  | "getTask"
  | "listTasks"
  | "cancelTask"
  | "cancelAll"
  | "registerMcp"
  | "refreshMcp"
  | "getMcp"
  | "listMcp"
  | "removeMcp"
  | "listApprovals"
  | "getApproval"
  | "decideApproval"
  | "replyTask"
  | "fetch"
>;
/**
 * What a process asks of its tenant's kernel: progress, its exit, delegations, the dispatch hooks, its MCP tools, and
 * people in the loop (its approvals' state, its questions, replies to its workers). Never
 * `decideApproval`: nothing a process does can approve a call.
 */
export type KernelForProcess = View<
  KernelObject,
  "report" | "exited" | "delegate" | "delegateMany" | "cancelTask" | "beforeDispatch" | "getTask" | "afterDispatch" | "mcpTools" | "approvalState" | "requestInput" | "replyTask" | "inputProvided"
>;

/** What the HTTP API asks of a process (after the kernel's table said the pid exists). */
export type ProcessForRoutes = View<ProcessObject, "conversationPage" | "message" | "pause" | "resume" | "singleStep" | "dispatch" | "delegate" | "collect" | "fetch">;
/** What the kernel asks of a process: its lifecycle, results of its delegations, checkpoints. */
export type ProcessForKernel = View<ProcessObject, "start" | "terminate" | "deliverTask" | "deliverTasks" | "deliverApproval" | "deliverInput" | "snapshot" | "resume">;
/** What a worker tells its copilot as it goes (immediate delivery). */
export type ProcessForWorker = View<ProcessObject, "taskProgress">;

/** The tenant's files as the HTTP API reaches them (the tenant itself, no scopes). */
export type WorkspaceForRoutes = View<WorkspaceObject, "readFile" | "writeFile" | "deleteFile" | "globFiles">;
/** The file tools, run with a process's scopes. */
export type WorkspaceForProcess = View<WorkspaceObject, "runTool">;

const kernelStub = (env: Env, tenant: string) => env.KERNEL.getByName(tenant) as unknown as Stub<KernelObject>;
const processStub = (env: Env, tenant: string, pid: number) => env.PROCESS.getByName(`${tenant}/${pid}`) as unknown as Stub<ProcessObject>;
const workspaceStub = (env: Env, tenant: string) => env.WORKSPACE.getByName(tenant) as unknown as Stub<WorkspaceObject>;

/** Stubs for the HTTP routes. */
export const forRoutes = {
  kernel: (env: Env, tenant: string): KernelForRoutes => kernelStub(env, tenant),
  process: (env: Env, tenant: string, pid: number): ProcessForRoutes => processStub(env, tenant, pid),
  workspace: (env: Env, tenant: string): WorkspaceForRoutes => workspaceStub(env, tenant),
};

/** Stubs for a process object. */
export const forProcess = {
  kernel: (env: Env, tenant: string): KernelForProcess => kernelStub(env, tenant),
  copilot: (env: Env, tenant: string, pid: number): ProcessForWorker => processStub(env, tenant, pid),
  workspace: (env: Env, tenant: string): WorkspaceForProcess => workspaceStub(env, tenant),
};

/** Stubs for the kernel object. */
export const forKernel = {
  process: (env: Env, tenant: string, pid: number): ProcessForKernel => processStub(env, tenant, pid),
};
