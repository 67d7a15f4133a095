import { describe, expect, it, vi } from "vitest";
import type { BudgetUse } from "../../../src/contracts";
import type { ModelResponse } from "../../../src/models/model";
import { initialLoopState, LEASE_WAIT_MS, ownUse, phaseOf, withAnswer } from "../../../src/process/machine";
import { runStep, type StepIO } from "../../../src/process/step";
import { ProcessStore } from "../../../src/process/store";
import { builtinTools } from "../../../src/process/tools/registry";
import type { LeaseAnswer } from "../../../src/rpc/messages";
import { processConfig } from "../support/process";
import { memoryStore } from "../support/sqlite";

const zero: BudgetUse = { tokens: 0, toolCalls: 0, wallMs: 0 };
const answer = (text: string): ModelResponse => ({ text, toolCalls: [], usage: { inputTokens: 3, outputTokens: 2 } });

/** A process whose kernel answers with what `kernel()` says, kept as the process object keeps each answer. */
function leasedProcess(kernel: () => LeaseAnswer) {
  const cfg = processConfig({ tools: [] });
  const store = new ProcessStore(memoryStore(), () => {});
  store.create(cfg, initialLoopState(), [{ role: "user", content: "go" }], []);
  const generate = vi.fn<StepIO["generate"]>(async () => answer("done"));
  const report = vi.fn<StepIO["report"]>(async (loop) => {
    const a = kernel();
    if (!store.exit) store.commit({ loop: withAnswer(store.loop, a, ownUse(loop)) });
    return a;
  });
  let now = 1_000_000;
  const io: StepIO = {
    config: cfg,
    store,
    generate,
    tools: async () => builtinTools,
    dispatch: () => Promise.reject(new Error("no tools here")),
    resume: async () => null,
    approvalState: () => Promise.reject(new Error("no approvals here")),
    report,
    now: () => now,
  };
  return { store, io, generate, report, advance: (ms: number) => (now += ms) };
}

describe("a process whose tree's budget is all leased to others", () => {
  it("asks the kernel again before its model call, waits while nothing is free, and calls once some is", async () => {
    let free = 0;
    const p = leasedProcess(() => ({ external: zero, ancestorsLeft: { tokens: 500 }, lease: { tokens: Math.min(free, 100) }, free: { tokens: free } }));
    // its last answer: no lease, nothing free, the budget itself not spent
    p.store.commit({ loop: withAnswer(p.store.loop, { external: zero, ancestorsLeft: { tokens: 500 }, lease: { tokens: 0 }, free: { tokens: 0 } }, zero) });
    await runStep(p.io);
    expect(p.report).toHaveBeenCalledTimes(1);
    expect(p.generate).not.toHaveBeenCalled();
    expect(p.store.loop).toMatchObject({ finalCall: false, retryAt: 1_000_000 + LEASE_WAIT_MS });
    expect(phaseOf(p.store.stored)).toMatchObject({ name: "backoff" });
    // others gave some back: it gets a lease and makes its call
    free = 200;
    p.advance(LEASE_WAIT_MS);
    await runStep(p.io);
    expect(p.generate).toHaveBeenCalledTimes(1);
    expect(p.store.exit?.status).toMatchObject({ code: 0, reason: "completed" });
  });

  it("makes its last call without waiting once the budget itself is spent", async () => {
    const p = leasedProcess(() => ({ external: zero, ancestorsLeft: { tokens: 0 }, lease: { tokens: 0 }, free: { tokens: 0 } }));
    p.store.commit({ loop: withAnswer(p.store.loop, { external: zero, ancestorsLeft: { tokens: 500 }, lease: { tokens: 0 }, free: { tokens: 0 } }, zero) });
    await runStep(p.io);
    expect(p.generate).toHaveBeenCalledTimes(1);
    // the last call is made without tools, and ends the process with exit 3
    expect(p.generate.mock.calls[0]![0].tools).toEqual([]);
    expect(p.store.exit?.status).toMatchObject({ code: 3, reason: "budget exhausted" });
  });
});
