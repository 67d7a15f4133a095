import type { ModelMessage, ToolResultPart } from "ai";
import type { Message } from "../contracts";

type ToolMessage = Extract<Message, { role: "tool" }>;

const MISSING_RESULT = "Error: no result was recorded for this tool call.";

/**
 * The conversation in the AI SDK's message format, which each provider package turns into its own
 * wire format (Chat Completions `tool_calls` / `role: "tool"` with `tool_call_id`; Messages `tool_use`
 * / `tool_result` with `tool_use_id`).
 *
 * Providers are stricter than our log, so the mapping normalises:
 * - every assistant tool call is followed at once by one result per call, with the call's id (a
 *   result missing from the log becomes an error result, so the request stays valid); a user
 *   message that landed while the tools ran moves after the results;
 * - a result whose call is not in the context (trimmed, or from nowhere) becomes user text;
 * - empty assistant messages are dropped (Anthropic rejects empty text blocks).
 *
 * With `withTools` false (the budget's last call offers no tools) the tool traffic is rendered as
 * text: Anthropic rejects `tool_use` blocks in a request that declares no tools, and the model
 * still sees what it did.
 */
export function toModelMessages(messages: readonly Message[], withTools: boolean): ModelMessage[] {
  const results = new Map<string, ToolMessage>();
  for (const m of messages) if (m.role === "tool" && !results.has(m.toolCallId)) results.set(m.toolCallId, m);
  const answered = new Set<string>();
  const out: ModelMessage[] = [];

  for (const m of messages) {
    if (m.role === "user") {
      out.push({ role: "user", content: m.content });
      continue;
    }
    if (m.role === "tool") {
      if (answered.has(m.toolCallId)) continue;
      out.push({ role: "user", content: `[result of ${m.name}${m.isError ? ", an error" : ""}]\n${m.content}` });
      continue;
    }
    const calls = (m.toolCalls ?? []).filter((c) => !answered.has(c.id));
    if (calls.length === 0) {
      if (m.content !== "") out.push({ role: "assistant", content: m.content });
      continue;
    }
    for (const c of calls) answered.add(c.id);
    if (!withTools) {
      const said = calls.map((c) => `[called ${c.name} ${JSON.stringify(c.arguments)}]`).join("\n");
      out.push({ role: "assistant", content: m.content ? `${m.content}\n${said}` : said });
      for (const c of calls) {
        const r = results.get(c.id);
        out.push({ role: "user", content: `[result of ${c.name}${!r || r.isError ? ", an error" : ""}]\n${r?.content ?? MISSING_RESULT}` });
      }
      continue;
    }
    out.push({
      role: "assistant",
      content: [
        ...(m.content ? [{ type: "text" as const, text: m.content }] : []),
        ...calls.map((c) => ({ type: "tool-call" as const, toolCallId: c.id, toolName: c.name, input: c.arguments })),
      ],
    });
    out.push({
      role: "tool",
      content: calls.map((c): ToolResultPart => {
        const r = results.get(c.id);
        const output = !r ? { type: "error-text" as const, value: MISSING_RESULT } : r.isError ? { type: "error-text" as const, value: r.content } : { type: "text" as const, value: r.content };
        return { type: "tool-result", toolCallId: c.id, toolName: c.name, output };
      }),
    });
  }
  return out;
}

/** A tool call's input as our `arguments` object: providers send JSON text, which may be broken. */
export function toArguments(input: unknown): Record<string, unknown> {
  let value = input;
  if (typeof value === "string") {
    try {
      value = value.trim() === "" ? {} : JSON.parse(value);
    } catch {
      return {};
    }
  }
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
