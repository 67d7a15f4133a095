import type { Message, ScriptStep } from "../contracts";
import { estimateTokens, ModelError, type Model, type ModelRequest, type ModelResponse } from "./model";

/**
 * `{{input}}` is the first user message; `{{lastToolResult}}` the latest turn's tool outputs joined
 * by newlines, in the order of the calls (results are persisted as they land, in any order).
 */
export function scriptVariables(messages: Message[]): { input: string; lastToolResult: string } {
  const input = messages.find((m) => m.role === "user")?.content ?? "";
  const results = new Map<string, string>();
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role === "tool") results.set(m.toolCallId, m.content);
    else if (results.size > 0) {
      const order = m.role === "assistant" ? (m.toolCalls ?? []).map((c) => c.id) : [];
      const ranked = [...results.entries()].sort(([a], [b]) => rank(order, a) - rank(order, b));
      return { input, lastToolResult: ranked.map(([, content]) => content).join("\n") };
    }
  }
  return { input, lastToolResult: [...results.values()].reverse().join("\n") };
}

const rank = (order: string[], id: string) => {
  const i = order.indexOf(id);
  return i === -1 ? order.length : i;
};

function substitute<T>(value: T, vars: { input: string; lastToolResult: string }): T {
  // One pass with a replacer function: `$&`-style patterns in the values stay literal, and a value
  // that itself contains "{{lastToolResult}}" is not substituted again.
  if (typeof value === "string") return value.replace(/\{\{(input|lastToolResult)\}\}/g, (_, key: "input" | "lastToolResult") => vars[key]) as T;
  if (Array.isArray(value)) return value.map((v) => substitute(v, vars)) as T;
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, vars)])) as T;
  return value;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });
}

/** The deterministic model of SPEC §4: each call consumes the next step of the agent's script. */
export class ScriptedModel implements Model {
  constructor(private readonly script: ScriptStep[]) {}

  async generate(request: ModelRequest, callIndex: number): Promise<ModelResponse> {
    const step = this.script[callIndex];
    if (!step) throw new ModelError("script exhausted", null);
    if (step.delayMs) await sleep(step.delayMs, request.signal);
    const vars = scriptVariables(request.messages);
    const inputTokens = step.usage?.inputTokens ?? estimateTokens(request.system + request.messages.map((m) => m.content).join(""));
    if ("error" in step) throw new ModelError(step.error.message, step.error.status);
    if ("text" in step) {
      const text = substitute(step.text, vars);
      request.onTextDelta?.(text);
      return { text, toolCalls: [], usage: { inputTokens, outputTokens: step.usage?.outputTokens ?? estimateTokens(text) } };
    }
    const toolCalls = step.toolCalls.map((call, i) => ({
      id: `call_${callIndex}_${i}`,
      name: call.name,
      arguments: substitute(call.arguments, vars),
    }));
    return { text: "", toolCalls, usage: { inputTokens, outputTokens: step.usage?.outputTokens ?? estimateTokens(JSON.stringify(toolCalls)) } };
  }
}
