import { generateText, jsonSchema, streamText, tool, type JSONSchema7, type LanguageModel, type LanguageModelUsage, type ToolSet } from "ai";
import type { ToolCall } from "../contracts";
import { toModelError } from "./errors";
import { toArguments, toModelMessages } from "./messages";
import { estimateTokens, ModelError, type Model, type ModelRequest, type ModelResponse, type ToolSchema } from "./model";

/**
 * A real provider behind the Vercel AI SDK, as the agent loop's Model.
 *
 * One model call is one provider request: `maxRetries: 0` (the loop retries 429/5xx durably, across
 * alarms, honouring `retry-after`), one step (the tools have no `execute`: the loop dispatches them
 * with the process's permissions), the tool schemas of the process's effective tools only.
 *
 * With `onTextDelta` the request streams (`streamText`) and each text delta is reported as it
 * arrives; without it, one JSON answer (`generateText`).
 */
export class AiSdkModel implements Model {
  constructor(
    /** The provider's name, the first word of every error message. */
    readonly provider: string,
    private readonly model: LanguageModel,
    private readonly options: { timeoutMs: number; secrets: readonly string[] },
  ) {}

  async generate(request: ModelRequest): Promise<ModelResponse> {
    const deadline = new Deadline(this.options.timeoutMs);
    const signal = AbortSignal.any([request.signal, deadline.signal]);
    const call = {
      model: this.model,
      instructions: request.system,
      messages: toModelMessages(request.messages, request.tools.length > 0),
      ...(request.tools.length > 0 ? { tools: toolSet(request.tools) } : {}),
      maxRetries: 0,
      abortSignal: signal,
    };
    try {
      const answer = request.onTextDelta ? await this.stream(call, request.onTextDelta, deadline) : await generateText(call);
      if (request.signal.aborted) throw request.signal.reason;
      return this.response(request, answer.text, answer.toolCalls, answer.usage);
    } catch (err) {
      // Killed: the caller has moved on; surface the abort itself, nothing from the provider.
      if (request.signal.aborted) throw request.signal.reason instanceof Error ? request.signal.reason : new ModelError(`${this.provider}: aborted`, null);
      if (deadline.expired) {
        throw new ModelError(`${this.provider}: timed out: no answer within ${this.options.timeoutMs} ms (MODEL_TIMEOUT_MS)`, 504);
      }
      throw toModelError(this.provider, err, this.options.secrets);
    } finally {
      deadline.clear();
    }
  }

  /** Streams the answer; an error part in the stream (HTTP failure, malformed chunk) fails the call. */
  private async stream(call: Parameters<typeof streamText>[0], onTextDelta: (delta: string) => void, deadline: Deadline) {
    // Errors are read from the stream below; the SDK's default handler would also log them.
    const result = streamText({ ...call, onError: () => {} });
    let text = "";
    const toolCalls: Array<{ toolCallId: string; toolName: string; input: unknown }> = [];
    let usage: LanguageModelUsage | undefined;
    for await (const part of result.fullStream) {
      deadline.reset();
      switch (part.type) {
        case "text-delta":
          if (part.text) {
            text += part.text;
            onTextDelta(part.text);
          }
          break;
        case "tool-call":
          toolCalls.push(part);
          break;
        case "finish-step":
          usage = part.usage;
          break;
        case "error":
          throw part.error;
        case "abort":
          throw new Error(part.reason ?? "aborted");
      }
    }
    return { text, toolCalls, usage };
  }

  private response(request: ModelRequest, text: string, calls: ReadonlyArray<{ toolCallId: string; toolName: string; input: unknown }>, usage: LanguageModelUsage | undefined): ModelResponse {
    const toolCalls: ToolCall[] = calls.map((c) => ({ id: c.toolCallId, name: c.toolName, arguments: toArguments(c.input) }));
    // A provider that reports no usage is estimated at 4 characters per token, as SPEC §4 does.
    const inputTokens = usage?.inputTokens ?? estimateTokens(request.system + request.messages.map((m) => m.content).join(""));
    const outputTokens = usage?.outputTokens ?? estimateTokens(text + (toolCalls.length ? JSON.stringify(toolCalls) : ""));
    return { text, toolCalls, usage: { inputTokens, outputTokens } };
  }
}

/** The request's tools for the SDK: schema and description only, no `execute`. */
function toolSet(tools: readonly ToolSchema[]): ToolSet {
  const set: ToolSet = {};
  for (const t of tools) set[t.name] = tool({ description: t.description, inputSchema: jsonSchema(t.parameters as JSONSchema7) });
  return set;
}

/**
 * MODEL_TIMEOUT_MS as an abort signal: it fires when the provider has been silent that long, before
 * the answer starts or between two streamed parts, so a long answer that keeps streaming is not cut.
 */
class Deadline {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  expired = false;

  constructor(private readonly ms: number) {
    this.reset();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  reset(): void {
    if (this.expired) return;
    this.clear();
    this.timer = setTimeout(() => {
      this.expired = true;
      this.controller.abort(new Error(`no answer within ${this.ms} ms`));
    }, this.ms);
  }

  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
