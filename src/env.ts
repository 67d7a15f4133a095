import type { KernelObject } from "./objects/kernel";
import type { ProcessObject } from "./objects/process";
import type { WorkspaceObject } from "./objects/workspace";

/** The Worker's bindings (wrangler.toml, `.dev.vars`, `wrangler secret`). */
export interface Env {
  KERNEL: DurableObjectNamespace<KernelObject>;
  PROCESS: DurableObjectNamespace<ProcessObject>;
  WORKSPACE: DurableObjectNamespace<WorkspaceObject>;
  AUTH_SECRET: string;
  /** Tenant-wide cap on live processes (SPEC §7), default 1000. */
  MAX_LIVE_PROCESSES?: string;
  /**
   * Hosts that webhook (and MCP) URLs may point at although they are loopback, private, link-local
   * or otherwise non-public (src/lib/net.ts), comma-separated, e.g. `127.0.0.1,localhost` for local
   * development and tests. Unset in production: nothing private is reachable.
   */
  ALLOW_PRIVATE_HOSTS?: string;
  /** `"true"` accepts bearer tokens without `exp`; by default every token must expire (SPEC §2 hardening). */
  ALLOW_NON_EXPIRING_TOKENS?: string;

  // Model providers (src/models/providers.ts). Keys are secrets: `wrangler secret put`, `.dev.vars` locally.
  /** `openai:<model>`: the OpenAI Chat Completions API. */
  OPENAI_API_KEY?: string;
  /** Default `https://api.openai.com/v1`. */
  OPENAI_BASE_URL?: string;
  /** `openai-compatible:<model>`: any Chat Completions server (Ollama, vLLM, llama.cpp, Groq, OpenRouter, AI Gateway). */
  OPENAI_COMPATIBLE_BASE_URL?: string;
  /** Optional: local servers usually need none. */
  OPENAI_COMPATIBLE_API_KEY?: string;
  /** `anthropic:<model>`: the Anthropic Messages API. */
  ANTHROPIC_API_KEY?: string;
  /** Default `https://api.anthropic.com/v1`. */
  ANTHROPIC_BASE_URL?: string;
  /** `workers-ai:<model>`: the Workers AI binding (`[ai] binding = "AI"` in wrangler.toml). */
  AI?: Ai;
  /** Longest wait for a provider, for the answer to start and between two streamed chunks; default 120000. */
  MODEL_TIMEOUT_MS?: string;
}
