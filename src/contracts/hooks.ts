import { z } from "zod";
import { MAX_GLOB_LENGTH } from "../lib/glob";
import { ASK_TIMEOUT_MAX_MS, ASK_TIMEOUT_MIN_MS } from "./approvals";

export const HookEvent = z.enum(["pre_spawn", "post_spawn", "pre_dispatch", "post_dispatch", "post_terminate"]);
export type HookEvent = z.infer<typeof HookEvent>;
export const HookName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "hook names are 1-64 lowercase letters, digits, _ and -");

/**
 * `ask` (SPEC §11) holds a `pre_dispatch` call for a person's decision; `timeoutMs` (only with `ask`,
 * 1 s to 30 days, default 24 h) is how long it waits before it expires as a rejection.
 */
export const PolicyRule = z
  .strictObject({
    event: HookEvent,
    // Globs (src/lib/glob.ts), capped so matching them stays cheap.
    match: z
      .strictObject({ agent: z.string().max(256).optional(), tool: z.string().max(256).optional(), path: z.string().max(MAX_GLOB_LENGTH).optional() })
      .default({}),
    action: z.enum(["deny", "allow", "ask"]),
    reason: z.string().max(1000).optional(),
    timeoutMs: z.number().int().min(ASK_TIMEOUT_MIN_MS).max(ASK_TIMEOUT_MAX_MS).optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.action === "ask" && rule.event !== "pre_dispatch") {
      ctx.addIssue({ code: "custom", path: ["action"], message: `"ask" holds a tool call for a person's decision, so it is only valid on pre_dispatch rules (this rule is ${rule.event})` });
    }
    if (rule.timeoutMs !== undefined && rule.action !== "ask") {
      ctx.addIssue({ code: "custom", path: ["timeoutMs"], message: `timeoutMs is how long an "ask" waits for a decision; a ${rule.action} rule has none` });
    }
  });
export type PolicyRule = z.infer<typeof PolicyRule>;

export const PolicyHookSpec = z.strictObject({ kind: z.literal("policy"), rules: z.array(PolicyRule).max(256) });
export const WebhookHookSpec = z.strictObject({
  kind: z.literal("webhook"),
  url: z.url({ protocol: /^https?$/ }),
  events: z.array(HookEvent).min(1),
  secret: z.string().min(1).max(1024),
  timeoutMs: z.number().int().min(1).max(30_000).default(2000),
  failMode: z.enum(["open", "closed"]).default("open"),
});
export const HookSpecInput = z.discriminatedUnion("kind", [PolicyHookSpec, WebhookHookSpec]);
export type HookSpecInput = z.infer<typeof HookSpecInput>;

export type HookSpec = HookSpecInput & { name: string };
/** How a hook is shown over the API: the webhook secret never leaves the kernel. */
export type HookView = ({ kind: "audit" } | Omit<z.infer<typeof PolicyHookSpec>, never> | Omit<z.infer<typeof WebhookHookSpec>, "secret">) & {
  name: string;
  position: number;
};

/** What a hook sees of an event. */
export interface HookContext {
  event: HookEvent;
  tenant: string;
  pid?: number;
  parentPid?: number | null;
  agent?: string;
  tool?: string;
  paths?: string[];
  arguments?: Record<string, unknown>;
  exit?: { code: number; reason: string };
}

export type HookVerdict =
  | { allow: true }
  | { allow: false; hook: string; reason: string }
  /** A policy's `ask` (pre_dispatch only): the call waits for a person's decision. */
  | { allow: "ask"; hook: string; reason: string; timeoutMs: number };
