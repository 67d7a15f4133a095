import type { AgentSpec } from "../contracts";
import type { Model } from "./model";
import { ScriptedModel } from "./scripted";

export type ModelConfigProblem = { setting: string; message: string };

/** Whether the agent's model can run here; real providers add their settings checks (422 at spawn). */
export function checkModelConfig(spec: AgentSpec): ModelConfigProblem | null {
  if (spec.model === "scripted") return null;
  const provider = spec.model.slice(0, spec.model.indexOf(":"));
  return { setting: provider, message: `The model provider "${provider}" is not available in this deployment.` };
}

export function createModel(spec: AgentSpec): Model {
  if (spec.model === "scripted") return new ScriptedModel(spec.script ?? []);
  throw new Error(`model provider for "${spec.model}" is not configured`);
}

export * from "./model";
