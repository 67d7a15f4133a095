import { fail, type Failure, type Limits } from "../contracts";

/** What the kernel knows when a process asks to exist. */
export interface AdmissionFacts {
  agent: string;
  /** Live processes of the tenant, and the cap. */
  live: number;
  maxLive: number;
  /** For a singleton agent: the pid of its live process, if any. */
  singletonPid?: number | null;
  parent?: { pid: number; depth: number; limits: Required<Limits>; startedChildren: number } | null;
  /** Delegations queue for a free maxChildren slot; a plain spawn under a full parent is refused. */
  delegation: boolean;
}

/** Why a new process may not exist (SPEC §5, §7), or null. */
export function admissionProblem(f: AdmissionFacts): { ok: false; error: Failure } | null {
  if (f.live >= f.maxLive) return fail(429, "too_many_processes", `This tenant already runs ${f.maxLive} live processes.`);
  if (f.singletonPid != null) {
    return fail(409, "process_already_running", `The singleton agent ${f.agent} already runs as process ${f.singletonPid}.`, { pid: f.singletonPid });
  }
  if (f.parent) {
    // A process's effective limits govern its children.
    const { pid, depth, limits, startedChildren } = f.parent;
    if (depth + 1 > limits.maxDepth) {
      return fail(422, "limit_exceeded", `Spawning below process ${pid} would exceed the maximum depth of ${limits.maxDepth}.`, { limit: "maxDepth", maxDepth: limits.maxDepth });
    }
    if (!f.delegation && startedChildren >= limits.maxChildren) {
      return fail(422, "limit_exceeded", `Process ${pid} already has ${limits.maxChildren} live children.`, { limit: "maxChildren", maxChildren: limits.maxChildren });
    }
  }
  return null;
}

/** The tenant-wide cap on live processes from `MAX_LIVE_PROCESSES` (default 1000). */
export function maxLiveProcesses(setting: string | undefined): number {
  const n = Number.parseInt(setting ?? "", 10);
  return Number.isFinite(n) && n > 0 ? n : 1000;
}
