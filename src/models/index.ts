import type { AgentSpec } from "../contracts";
import type { Env } from "../env";
import { AiSdkModel } from "./ai-sdk";
import { ModelError, type Model } from "./model";
import { isProvider, languageModel, modelTimeoutMs, parseModelName, providerProblem, providerSecrets, type ModelConfigProblem } from "./providers";
import { ScriptedModel } from "./scripted";

export type { ModelConfigProblem } from "./providers";

/**
 * Whether the agent's model can run here (the kernel answers `422 model_not_configured` with the
 * problem's `setting` at spawn, not at the first turn).
 */
export function checkModelConfig(spec: AgentSpec, env: Env): ModelConfigProblem | null {
  if (spec.model === "scripted") return null;
  return providerProblem(spec.model, env);
}

/**
 * The agent's model. A provider that lost its settings since the spawn (a deleted secret) yields a
 * model whose calls fail with the problem, a non-retryable error: the process exits 1 saying why.
 */
export function createModel(spec: AgentSpec, env: Env): Model {
  if (spec.model === "scripted") return new ScriptedModel(spec.script ?? []);
  const problem = providerProblem(spec.model, env);
  const parsed = parseModelName(spec.model);
  if (problem || !parsed || !isProvider(parsed.provider)) {
    const message = problem?.message ?? `Unknown model "${spec.model}".`;
    return { generate: () => Promise.reject(new ModelError(message, null)) };
  }
  const model = languageModel(parsed.provider, parsed.modelId, env);
  return new AiSdkModel(parsed.provider, model, { timeoutMs: modelTimeoutMs(env), secrets: providerSecrets(env) });
}

export * from "./model";
