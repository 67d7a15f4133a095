import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AgentSpec } from "../../src/contracts";
import type { Env } from "../../src/env";
import { checkModelConfig } from "../../src/models";
import { client, freshTenant } from "../support/http";
import { register, spawn, waitExit } from "../support/agents";
import { everythingVisible, fakeLog, modelId, procRows, type ProviderKey } from "./helpers";

const spec = (model: string) => AgentSpec.parse({ name: "a", model, ...(model === "scripted" ? { script: [] } : {}) });
const configured: Env = env;

describe("provider settings (checked at spawn)", () => {
  it("a workers-ai model without the AI binding: spawn answers 422 model_not_configured naming AI", async () => {
    const api = client(freshTenant());
    await register(api, "edge", { model: "workers-ai:@cf/meta/llama-3.3-70b-instruct-fp8-fast" });
    const res = await api.post("/v1/procs", { agent: "edge", input: "hi" });
    expect(res.status).toBe(422);
    expect(res.body.error).toMatchObject({ code: "model_not_configured", details: { setting: "AI" } });
    expect(res.body.error.message).toContain("AI");
    // Refused before any row was written.
    expect(procRows((await api.get("/v1/procs")).body)).toEqual([]);
  });

  it("names the missing or invalid setting for each provider", () => {
    const without = (...keys: Array<keyof Env>) => Object.fromEntries(Object.entries(configured).filter(([k]) => !keys.includes(k as keyof Env))) as unknown as Env;
    const setting = (model: string, e: Env) => checkModelConfig(spec(model), e)?.setting ?? null;

    for (const model of ["scripted", "openai:gpt-4.1-mini", "openai-compatible:llama3", "anthropic:claude-sonnet-4-5"]) expect(setting(model, configured)).toBeNull();
    expect(setting("openai:gpt-4.1-mini", without("OPENAI_API_KEY"))).toBe("OPENAI_API_KEY");
    expect(setting("openai:gpt-4.1-mini", { ...configured, OPENAI_API_KEY: "  " })).toBe("OPENAI_API_KEY");
    // The base URLs of OpenAI and Anthropic default to the official ones.
    expect(setting("openai:gpt-4.1-mini", without("OPENAI_BASE_URL"))).toBeNull();
    expect(setting("anthropic:claude-sonnet-4-5", without("ANTHROPIC_BASE_URL"))).toBeNull();
    expect(setting("openai:gpt-4.1-mini", { ...configured, OPENAI_BASE_URL: "not a url" })).toBe("OPENAI_BASE_URL");
    expect(setting("anthropic:claude-sonnet-4-5", without("ANTHROPIC_API_KEY"))).toBe("ANTHROPIC_API_KEY");
    expect(setting("anthropic:claude-sonnet-4-5", { ...configured, ANTHROPIC_BASE_URL: "ftp://x" })).toBe("ANTHROPIC_BASE_URL");
    // An OpenAI-compatible server needs its URL; a key is optional (local servers take none).
    expect(setting("openai-compatible:llama3", without("OPENAI_COMPATIBLE_BASE_URL"))).toBe("OPENAI_COMPATIBLE_BASE_URL");
    expect(setting("openai-compatible:llama3", without("OPENAI_COMPATIBLE_API_KEY"))).toBeNull();
    expect(setting("workers-ai:@cf/meta/llama-3.1-8b-instruct", configured)).toBe("AI");
    expect(setting("workers-ai:@cf/meta/llama-3.1-8b-instruct", { ...configured, AI: {} as Ai })).toBeNull();
    expect(setting("openai:gpt-4.1-mini", { ...configured, MODEL_TIMEOUT_MS: "soon" })).toBe("MODEL_TIMEOUT_MS");
    // Unknown providers cannot be registered (the AgentSpec rejects them), and are refused here too.
    expect(checkModelConfig({ ...spec("scripted"), model: "mystery:model" }, configured)).toMatchObject({ setting: "model" });
    // The message says how to fix it, without any value.
    const problem = checkModelConfig(spec("anthropic:claude-sonnet-4-5"), without("ANTHROPIC_API_KEY"));
    expect(problem?.message).toContain("wrangler secret put ANTHROPIC_API_KEY");
  });
});

describe("secrets never leak", () => {
  afterEach(() => vi.restoreAllMocks());

  it.each<ProviderKey>(["openai", "openai-compatible", "anthropic"])("%s: a provider error that echoes the key is redacted everywhere", async (provider) => {
    const key = { openai: env.OPENAI_API_KEY, "openai-compatible": env.OPENAI_COMPATIBLE_API_KEY, anthropic: env.ANTHROPIC_API_KEY }[provider]!;
    const printed: string[] = [];
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void printed.push(args.map((a) => (a instanceof Error ? `${a.message} ${a.stack}` : String(a))).join(" ")));
    }
    const api = client(freshTenant());
    const model = modelId("echo-key");
    await register(api, "leaky", { model: `${provider}:${model}` });
    const p = await spawn(api, "leaky");
    const status = await waitExit(api, p.pid);

    // The fake did receive the key, and echoed it back in its 401 body.
    const [request] = await fakeLog(provider, model);
    expect(JSON.stringify(request!.headers)).toContain(key);
    expect(status).toMatchObject({ code: 1 });
    expect(status.reason).toMatch(new RegExp(`^model failed: ${provider}: 401 Unauthorized: Incorrect API key provided: `));
    expect(status.reason).toContain("[redacted]");

    const visible = await everythingVisible(api, p.pid);
    expect(visible).toContain("Incorrect API key provided"); // the error did reach the events and the process row
    expect(visible).not.toContain(key);
    expect(JSON.stringify(status)).not.toContain(key);
    expect(printed.join("\n")).not.toContain(key);
  });
});
