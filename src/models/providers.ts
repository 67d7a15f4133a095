import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { LanguageModel } from "ai";
import { createWorkersAI } from "workers-ai-provider";
import type { Env } from "../env";

/** The providers an AgentSpec `model` may name, as `<provider>:<model id>` (SPEC §4). */
export const PROVIDERS = ["openai", "openai-compatible", "anthropic", "workers-ai"] as const;
export type ProviderName = (typeof PROVIDERS)[number];

export type ModelConfigProblem = { setting: string; message: string };

export const DEFAULT_MODEL_TIMEOUT_MS = 120_000;

export const isProvider = (name: string): name is ProviderName => (PROVIDERS as readonly string[]).includes(name);
const present = (value: string | undefined): value is string => typeof value === "string" && value.trim() !== "";

/** `"anthropic:claude-sonnet-4-5"` → provider and model id; null when it has no `<provider>:` prefix. */
export function parseModelName(model: string): { provider: string; modelId: string } | null {
  const colon = model.indexOf(":");
  if (colon <= 0) return null;
  return { provider: model.slice(0, colon), modelId: model.slice(colon + 1) };
}

function missing(setting: string, provider: string, what: string): ModelConfigProblem {
  return {
    setting,
    message: `The model provider "${provider}" is not configured: set ${setting} (${what}) as a secret with \`wrangler secret put ${setting}\`, or in .dev.vars locally.`,
  };
}

function badUrl(setting: string, value: string | undefined, required: boolean, provider: string): ModelConfigProblem | null {
  if (!present(value)) return required ? missing(setting, provider, "the server's base URL, e.g. http://127.0.0.1:11434/v1") : null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { setting, message: `${setting} is not a valid URL.` };
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return { setting, message: `${setting} must be an http(s) URL.` };
  return null;
}

/** Whether `<provider>:<model id>` can run with these settings; the problem names the missing setting. */
export function providerProblem(model: string, env: Env): ModelConfigProblem | null {
  const parsed = parseModelName(model);
  if (!parsed || !isProvider(parsed.provider)) {
    const provider = parsed?.provider ?? model;
    return { setting: "model", message: `Unknown model provider "${provider}"; use one of ${PROVIDERS.join(", ")}, or "scripted".` };
  }
  if (parsed.modelId.trim() === "") return { setting: "model", message: `The model "${model}" names no model id after "${parsed.provider}:".` };
  const timeout = env.MODEL_TIMEOUT_MS;
  if (present(timeout) && !(Number(timeout) > 0)) return { setting: "MODEL_TIMEOUT_MS", message: "MODEL_TIMEOUT_MS must be a positive number of milliseconds." };
  switch (parsed.provider) {
    case "openai":
      if (!present(env.OPENAI_API_KEY)) return missing("OPENAI_API_KEY", "openai", "an OpenAI API key");
      return badUrl("OPENAI_BASE_URL", env.OPENAI_BASE_URL, false, "openai");
    case "openai-compatible":
      return badUrl("OPENAI_COMPATIBLE_BASE_URL", env.OPENAI_COMPATIBLE_BASE_URL, true, "openai-compatible");
    case "anthropic":
      if (!present(env.ANTHROPIC_API_KEY)) return missing("ANTHROPIC_API_KEY", "anthropic", "an Anthropic API key");
      return badUrl("ANTHROPIC_BASE_URL", env.ANTHROPIC_BASE_URL, false, "anthropic");
    case "workers-ai":
      if (!env.AI) return { setting: "AI", message: 'The model provider "workers-ai" is not configured: add the Workers AI binding (`[ai] binding = "AI"` in wrangler.toml).' };
      return null;
  }
}

/** Every configured secret, to be removed from anything a provider says back. */
export function providerSecrets(env: Env): string[] {
  return [env.OPENAI_API_KEY, env.OPENAI_COMPATIBLE_API_KEY, env.ANTHROPIC_API_KEY].filter(present);
}

export function modelTimeoutMs(env: Env): number {
  const ms = Number(env.MODEL_TIMEOUT_MS);
  return present(env.MODEL_TIMEOUT_MS) && ms > 0 ? ms : DEFAULT_MODEL_TIMEOUT_MS;
}

const trimSlash = (url: string) => url.trim().replace(/\/+$/, "");

/**
 * The AI SDK language model for a checked `<provider>:<model id>`. `openai:` is the Chat Completions
 * API (`.chat`), never the Responses API: it is the protocol every compatible server speaks too.
 */
export function languageModel(provider: ProviderName, modelId: string, env: Env): LanguageModel {
  switch (provider) {
    case "openai":
      return createOpenAI({
        apiKey: env.OPENAI_API_KEY,
        ...(present(env.OPENAI_BASE_URL) ? { baseURL: trimSlash(env.OPENAI_BASE_URL) } : {}),
      }).chat(modelId);
    case "openai-compatible":
      return createOpenAICompatible({
        name: "openai-compatible",
        baseURL: trimSlash(env.OPENAI_COMPATIBLE_BASE_URL ?? ""),
        ...(present(env.OPENAI_COMPATIBLE_API_KEY) ? { apiKey: env.OPENAI_COMPATIBLE_API_KEY } : {}),
        // Ask for the final usage chunk when streaming (`stream_options.include_usage`), for the budgets.
        includeUsage: true,
      }).chatModel(modelId);
    case "anthropic":
      return createAnthropic({
        apiKey: env.ANTHROPIC_API_KEY,
        ...(present(env.ANTHROPIC_BASE_URL) ? { baseURL: trimSlash(env.ANTHROPIC_BASE_URL) } : {}),
      }).messages(modelId);
    case "workers-ai": {
      if (!env.AI) throw new Error("the Workers AI binding AI is not configured");
      return createWorkersAI({ binding: env.AI })(modelId);
    }
  }
}
