import { describe, expect, it } from "vitest";
import type { Process } from "../../src/contracts";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";
import { collect, delegate, registerCopilot, tasksOf } from "../support/tasks";

describe("budgets count the step that asks (hardening part 8)", () => {
  it("charges the delegating model call before the worker's reservation", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "done", usage: { inputTokens: 1, outputTokens: 0 } }] });
    // The delegating call itself costs 100 of the copilot's 1000 tokens.
    await registerCopilot(
      api,
      "asker",
      [
        { toolCalls: [delegate("worker", "w", { budget: { tokens: 1000 }, deliveryPolicy: "on_demand" })], usage: { inputTokens: 60, outputTokens: 40 } },
        { toolCalls: [collect()], usage: { inputTokens: 1, outputTokens: 0 } },
        { text: "ok", usage: { inputTokens: 1, outputTokens: 0 } },
      ],
      { budget: { tokens: 1000 } },
    );
    const copilot = await spawn(api, "asker");
    await waitExit(api, copilot.pid);
    const [task] = await tasksOf(api, copilot.pid);
    const worker = (await api.get(`/v1/procs/${task!.metadata.workerPid}`)).body as Process;
    expect(worker.budget.limit).toEqual({ tokens: 900 });
    expect(task!.metadata.budget).toEqual({ tokens: 900 });
  });

  it("refuses a delegation when the asking call spent what was left", async () => {
    const api = client(freshTenant());
    await register(api, "worker", { script: [{ text: "done" }] });
    await registerCopilot(
      api,
      "spendthrift",
      [{ toolCalls: [delegate("worker", "w", { budget: { tokens: 10 } })], usage: { inputTokens: 500, outputTokens: 0 } }, { text: "gave up" }],
      { budget: { tokens: 500 } },
    );
    const copilot = await spawn(api, "spendthrift");
    await waitExit(api, copilot.pid);
    expect(await tasksOf(api, copilot.pid)).toEqual([]);
    const messages = (await api.get(`/v1/procs/${copilot.pid}/messages`)).body.messages as { role: string; content: string }[];
    expect(messages.find((m) => m.role === "tool")?.content).toMatch(/^Error: limit_exceeded/);
  });
});
