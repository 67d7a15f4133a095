import { z } from "zod";
import { MAX_GLOB_LENGTH } from "../lib/glob";

export const HookEvent = z.enum(["pre_spawn", "post_spawn", "pre_dispatch", "post_dispatch", "post_terminate"]);
export type HookEvent = z.infer<typeof HookEvent>;
export const HookName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "hook names are 1-64 lowercase letters, digits, _ and -");

export const PolicyRule = z.strictObject({
  event: HookEvent,
  // Globs (src/lib/glob.ts), capped so matching them stays cheap.
  match: z
    .strictObject({ agent: z.string().max(256).optional(), tool: z.string().max(256).optional(), path: z.string().max(MAX_GLOB_LENGTH).optional() })
    .default({}),
  action: z.enum(["deny", "allow"]),
  reason: z.string().max(1000).optional(),
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

export type HookVerdict = { allow: true } | { allow: false; hook: string; reason: string };
