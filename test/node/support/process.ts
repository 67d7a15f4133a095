import { AgentSpec, type AgentSpecInput, type Budget } from "../../../src/contracts";
import type { ProcessConfig } from "../../../src/rpc/messages";

/** A top-level process's config (pid 1, tenant "t", the whole workspace read-write) for the step-level tests. */
export const processConfig = ({ tools, spec = {}, budget = {} }: { tools: string[]; spec?: Partial<AgentSpecInput>; budget?: Budget }): ProcessConfig => ({
  tenant: "t",
  pid: 1,
  parentPid: null,
  taskId: null,
  delivery: null,
  depth: 0,
  spec: AgentSpec.parse({ name: "a", model: "scripted", ...spec }),
  tools,
  fs: [{ path: "/**", mode: "rw" }],
  budget,
  limits: { maxChildren: 20, maxDepth: 3 },
  createdAt: "2026-01-01T00:00:00.000Z",
});
