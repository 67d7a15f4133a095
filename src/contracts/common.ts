import { z } from "zod";

export const TenantId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "tenant ids are lowercase letters, digits and dashes");
export const AgentName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "agent names are 1-64 lowercase letters, digits, _ and -");
export const Pid = z.coerce.number().int().positive();
export const Metadata = z.record(z.string(), z.unknown());
export type Metadata = z.infer<typeof Metadata>;

export const Role = z.enum(["viewer", "operator", "admin"]);
export type Role = z.infer<typeof Role>;

export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  toolCalls: z.number().int().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;
export const zeroUsage = (): Usage => ({ inputTokens: 0, outputTokens: 0, toolCalls: 0 });

export const TokenUsage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});
export type TokenUsage = z.infer<typeof TokenUsage>;
