import { z } from "zod";
import { MAX_GLOB_LENGTH } from "../lib/glob";
import { AgentName, Metadata, pageQuery, TokenUsage } from "./common";

export const ToolCallRequest = z.strictObject({
  name: z.string().min(1).max(128),
  arguments: z.record(z.string(), z.unknown()).default({}),
});

const stepExtras = {
  delayMs: z.number().int().nonnegative().max(600_000).optional(),
  usage: TokenUsage.optional(),
};

/** One scripted model call (SPEC §4). Exactly one of text, toolCalls or error. */
export const ScriptStep = z.union([
  z.strictObject({ text: z.string(), ...stepExtras }),
  z.strictObject({ toolCalls: z.array(ToolCallRequest).min(1).max(1000), ...stepExtras }),
  z.strictObject({
    error: z.strictObject({ status: z.union([z.literal(429), z.literal(500), z.literal(503)]), message: z.string() }),
    ...stepExtras,
  }),
], {
  error: (issue) =>
    issue.code === "invalid_union"
      ? 'a script step is {"text": "..."}, {"toolCalls": [{"name": "...", "arguments": {...}}]} or {"error": {"status": 429 | 500 | 503, "message": "..."}}, each optionally with "delayMs" and "usage": {"inputTokens", "outputTokens"}'
      : undefined,
});
export type ScriptStep = z.infer<typeof ScriptStep>;

export const FsMode = z.enum(["r", "rw"]);
export type FsMode = z.infer<typeof FsMode>;
/** `path` is a glob (src/lib/glob.ts); its length is capped so matching it stays cheap. */
export const FsScope = z.strictObject({ path: z.string().min(1).max(MAX_GLOB_LENGTH), mode: FsMode });
export type FsScope = z.infer<typeof FsScope>;

export const Budget = z.strictObject({
  tokens: z.number().int().nonnegative().optional(),
  toolCalls: z.number().int().nonnegative().optional(),
  wallMs: z.number().int().nonnegative().optional(),
});
export type Budget = z.infer<typeof Budget>;

export const Limits = z.strictObject({
  maxChildren: z.number().int().nonnegative().max(10_000).optional(),
  maxDepth: z.number().int().nonnegative().max(64).optional(),
});
export type Limits = z.infer<typeof Limits>;

/** A glob over tool names (`*`, `?`, `[..]`), in an AgentSpec or a delegation. */
export const ToolPattern = z.string().min(1).max(128);

export const DEFAULT_TOOLS = ["read_file", "write_file", "edit_file", "list_dir", "glob", "grep"];
export const DEFAULT_FS: FsScope[] = [{ path: "/**", mode: "rw" }];
export const DEFAULT_LIMITS = { maxChildren: 20, maxDepth: 3 } as const;

export const ModelName = z
  .string()
  .regex(/^(scripted|(openai|openai-compatible|anthropic|workers-ai):.+)$/, 'model is "scripted" or "<provider>:<model id>"');

/** The body of `PUT /v1/agents/:name`; the name comes from the path. */
export const AgentSpecInput = z.strictObject({
  description: z.string().max(4096).default(""),
  model: ModelName,
  systemPrompt: z.string().max(100_000).optional(),
  mode: z.enum(["task", "interactive"]).default("task"),
  tools: z.array(ToolPattern).max(256).default(DEFAULT_TOOLS),
  fs: z.array(FsScope).max(64).default(DEFAULT_FS),
  maxTurns: z.number().int().min(1).max(10_000).default(50),
  maxContextTokens: z.number().int().min(256).max(10_000_000).default(128_000),
  toolTimeoutMs: z.number().int().min(1).max(900_000).default(30_000),
  parallelToolCalls: z.boolean().default(true),
  budget: Budget.default({}),
  limits: Limits.default({}),
  script: z.array(ScriptStep).max(10_000).optional(),
  singleton: z.boolean().default(false),
  metadata: Metadata.default({}),
});
export type AgentSpecInput = z.input<typeof AgentSpecInput>;

export const AgentSpec = AgentSpecInput.extend({ name: AgentName });
export type AgentSpec = z.infer<typeof AgentSpec>;

export const DEFAULT_SYSTEM_PROMPT =
  "You are an agent running inside Agent Kernel. Use the tools you are given to complete the task, then reply with your final answer.";

export const AgentListQuery = z.strictObject(pageQuery(1000, AgentName));
