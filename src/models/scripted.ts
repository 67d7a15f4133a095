import type { Message, ScriptStep } from "../contracts";
import { estimateTokens, ModelError, type Model, type ModelRequest, type ModelResponse } from "./model";

/**
 * `{{input}}` is the first user message; `{{lastToolResult}}` the latest turn's tool outputs joined
 * by newlines, in the order of the calls (results are persisted as they land, in any order, and a
 * user message posted while the tools run may land between them).
 */
export function scriptVariables(messages: Message[]): { input: string; lastToolResult: string } {
  const input = messages.find((m) => m.role === "user")?.content ?? "";
  let last = messages.length - 1;
  while (last >= 0 && messages[last]!.role !== "tool") last--;
  const latest = messages[last];
  if (!latest || latest.role !== "tool") return { input, lastToolResult: "" };
  // The turn is the assistant message that made the latest call; its results are those of its calls.
  for (let i = last - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "assistant" || !m.toolCalls?.some((c) => c.id === latest.toolCallId)) continue;
    const results = new Map<string, string>();
    for (const r of messages.slice(i + 1)) if (r.role === "tool" && !results.has(r.toolCallId)) results.set(r.toolCallId, r.content);
    const outputs = m.toolCalls.flatMap((c) => (results.has(c.id) ? [results.get(c.id)!] : []));
    return { input, lastToolResult: outputs.join("\n") };
  }
  // No call to match (an orphan result): the run of results that ends with the latest.
  let first = last;
  while (first > 0 && messages[first - 1]!.role === "tool") first--;
  return { input, lastToolResult: messages.slice(first, last + 1).map((m) => m.content).join("\n") };
}

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
