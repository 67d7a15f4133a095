import { describe, expectTypeOf, it } from "vitest";
import type { forKernel, forProcess, forRoutes } from "../../src/rpc/stubs";

// Checked by `tsc` (npm run typecheck): each caller's view of an object lacks what it must not call.
describe("RPC views per caller", () => {
  it("routes cannot reach what only processes and the kernel may call", () => {
    type Kernel = ReturnType<typeof forRoutes.kernel>;
    expectTypeOf<Kernel>().toHaveProperty("spawn");
    expectTypeOf<Kernel>().not.toHaveProperty("report");
    expectTypeOf<Kernel>().not.toHaveProperty("exited");
    expectTypeOf<Kernel>().not.toHaveProperty("beforeDispatch");
    // mcpTools answers MCP header values (API keys): only a process of the tenant may ask for them.
    expectTypeOf<Kernel>().toHaveProperty("registerMcp");
    expectTypeOf<Kernel>().not.toHaveProperty("mcpTools");
    type Process = ReturnType<typeof forRoutes.process>;
    expectTypeOf<Process>().toHaveProperty("dispatch");
    expectTypeOf<Process>().not.toHaveProperty("start");
    expectTypeOf<Process>().not.toHaveProperty("terminate");
    expectTypeOf<Process>().not.toHaveProperty("deliverTask");
    expectTypeOf<Process>().not.toHaveProperty("deliverTasks");
    expectTypeOf<ReturnType<typeof forRoutes.workspace>>().not.toHaveProperty("runTool");
  });

  it("a process cannot administer its kernel, and a worker only reports progress to its copilot", () => {
    type Kernel = ReturnType<typeof forProcess.kernel>;
    expectTypeOf<Kernel>().toHaveProperty("report");
    expectTypeOf<Kernel>().not.toHaveProperty("registerAgent");
    expectTypeOf<Kernel>().not.toHaveProperty("putHook");
    expectTypeOf<Kernel>().not.toHaveProperty("kill");
    expectTypeOf<Kernel>().toHaveProperty("mcpTools");
    expectTypeOf<Kernel>().not.toHaveProperty("registerMcp");
    expectTypeOf<Kernel>().not.toHaveProperty("removeMcp");
    // Nothing a process does can approve a call (SPEC §11): deciding is the routes' alone.
    expectTypeOf<Kernel>().not.toHaveProperty("decideApproval");
    expectTypeOf<Kernel>().toHaveProperty("approvalState");
    expectTypeOf<ReturnType<typeof forRoutes.kernel>>().toHaveProperty("decideApproval");
    expectTypeOf<ReturnType<typeof forProcess.copilot>>().not.toHaveProperty("deliverTask");
    expectTypeOf<ReturnType<typeof forKernel.process>>().not.toHaveProperty("dispatch");
  });
});
