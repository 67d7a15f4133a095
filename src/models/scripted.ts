import type { Message, ScriptStep } from "../contracts";
import { estimateTokens, ModelError, type Model, type ModelRequest, type ModelResponse } from "./model";

/**
 * `{{input}}` is the first user message; `{{lastToolResult}}` the latest turn's tool outputs joined
 * by newlines, in the order of the calls (results are persisted as they land, in any order, and a
 * user message posted while the tools run may land between them).
 */
export function scriptVariables(messages: Message[]): { input: string; lastToolResult: string } {
  return { input: messages.find((m) => m.role === "user")?.content ?? "", lastToolResult: latestOutputs(messages).join("\n") };
}

/** The latest turn's tool outputs, in the order of its calls. */
function latestOutputs(messages: Message[]): string[] {
  let last = messages.length - 1;
  while (last >= 0 && messages[last]!.role !== "tool") last--;
  const latest = messages[last];
  if (!latest || latest.role !== "tool") return [];
  // The turn is the assistant message that made the latest call; its results are those of its calls.
  for (let i = last - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "assistant" || !m.toolCalls?.some((c) => c.id === latest.toolCallId)) continue;
    const results = new Map<string, string>();
    for (const r of messages.slice(i + 1)) if (r.role === "tool" && !results.has(r.toolCallId)) results.set(r.toolCallId, r.content);
    return m.toolCalls.flatMap((c) => (results.has(c.id) ? [results.get(c.id)!] : []));
  }
  // No call to match (an orphan result): the run of results that ends with the latest.
  let first = last;
  while (first > 0 && messages[first - 1]!.role === "tool") first--;
  return messages.slice(first, last + 1).map((m) => m.content);
}

/**
 * `{{lastToolResult.a.0.b}}`: a field of the latest turn's results, read as JSON (the first result in
 * which the path exists; a string as is, anything else as JSON; "" when none has it). It lets a script
 * use what only the run knows, such as a task id a delegation or a collect answered.
 */
function field(outputs: readonly string[], path: string[]): string {
  for (const out of outputs) {
    let value: unknown;
    try {
      value = JSON.parse(out);
    } catch {
      continue;
    }
    for (const key of path) value = value !== null && typeof value === "object" ? (value as Record<string, unknown>)[key] : undefined;
    if (value !== undefined) return typeof value === "string" ? value : JSON.stringify(value);
  }
  return "";
}

type Vars = { input: string; lastToolResult: string; outputs: string[] };

function substitute<T>(value: T, vars: Vars): T {
  // One pass with a replacer function: `$&`-style patterns in the values stay literal, and a value
  // that itself contains "{{lastToolResult}}" is not substituted again.
  if (typeof value === "string") {
    return value.replace(/\{\{(input|lastToolResult)((?:\.[A-Za-z0-9_-]+)*)\}\}/g, (_, key: "input" | "lastToolResult", path: string) =>
      key === "lastToolResult" && path ? field(vars.outputs, path.slice(1).split(".")) : vars[key],
    ) as T;
  }
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
    const vars = { ...scriptVariables(request.messages), outputs: latestOutputs(request.messages) };
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
