// @ts-check
/**
 * A small team to test: a copilot ("lead") that delegates to two workers ("researcher" and
 * "writer") in parallel, collects their results and writes a report; and a policy hook that keeps
 * every agent out of /secrets. All three agents use the deterministic `scripted` model, so the test
 * needs no provider and no network. With a real model the specs stay the same except for `model`
 * (and no `script`).
 */
import { script } from "agent-kernel/testing";

/** @type {Record<string, import("agent-kernel/testing").AgentSpecInput>} */
export const agents = {
  researcher: {
    model: "scripted",
    tools: ["write_file"],
    fs: [{ path: "/notes/**", mode: "rw" }],
    script: script()
      .toolCall("write_file", { path: "/notes/{{input}}.md", content: "notes on {{input}}" }, { delayMs: 100 })
      .text("3 facts about {{input}}"),
  },
  writer: {
    model: "scripted",
    tools: ["write_file"],
    // It tries to stash a draft under /secrets first: the policy refuses, and the model sees why.
    script: script()
      .toolCall("write_file", { path: "/secrets/draft.md", content: "draft on {{input}}" })
      .toolCall("write_file", { path: "/drafts/{{input}}.md", content: "draft on {{input}}" })
      .text("a draft about {{input}}"),
  },
  lead: {
    model: "scripted",
    tools: ["delegate", "collect", "write_file"],
    script: script()
      .toolCalls([
        { name: "delegate", arguments: { agent: "researcher", message: "{{input}}" } },
        { name: "delegate", arguments: { agent: "writer", message: "{{input}}" } },
      ])
      .toolCall("collect", { mode: "all", timeoutMs: 30_000 })
      .toolCall("write_file", { path: "/report.md", content: "{{lastToolResult}}" })
      .text("report on {{input}} written"),
  },
};

/**
 * The policy: nobody writes under /secrets.
 * @type {import("agent-kernel/testing").HookSpecInput}
 */
export const policy = {
  kind: "policy",
  rules: [{ event: "pre_dispatch", match: { tool: "write_file", path: "/secrets/**" }, action: "deny", reason: "secrets are off limits" }],
};

/**
 * Registers the team and the policy with a client of the kernel under test (or a real one).
 * @param {import("agent-kernel/testing").KernelClient} client
 */
export async function install(client) {
  await client.hooks.put("no-secrets", policy);
  for (const [name, spec] of Object.entries(agents)) await client.agents.put(name, spec);
}
