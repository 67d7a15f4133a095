import type { Message, ToolCall, TokenUsage } from "../contracts";

/** A tool as the model sees it: name, description and JSON-schema parameters. */
export interface ToolSchema {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ModelRequest {
  system: string;
  messages: Message[];
  /** Only the process's effective tools; empty for the budget's last call. */
  tools: ToolSchema[];
  /** Aborted when the process is killed: the provider request must close. */
  signal: AbortSignal;
  /** Streaming providers report text as it arrives. */
  onTextDelta?: (delta: string) => void;
}

export interface ModelResponse {
  text: string;
  toolCalls: ToolCall[];
  usage: TokenUsage;
}

/** A model call that failed as a provider fails: `status` drives the retry policy. */
export class ModelError extends Error {
  constructor(
    message: string,
    readonly status: number | null,
    /** Milliseconds the provider asked us to wait (`retry-after`). */
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "ModelError";
  }
  get retryable(): boolean {
    return this.status === 429 || (this.status !== null && this.status >= 500);
  }
}

/**
 * The one interface the agent loop calls. The scripted model and real providers implement it.
 * `callIndex` is the number of model calls this process has made before this one (the scripted
 * model's cursor; real providers ignore it).
 */
export interface Model {
  generate(request: ModelRequest, callIndex: number): Promise<ModelResponse>;
}

/** 4 characters per token, as the SPEC estimates when a model reports no usage. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);
