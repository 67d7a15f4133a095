import { z } from "zod";

export const TenantId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "tenant ids are lowercase letters, digits and dashes");
export const AgentName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "agent names are 1-64 lowercase letters, digits, _ and -");
export const Pid = z.coerce.number().int().positive();
/** Caller-chosen metadata is copied onto rows, tasks and list answers: it is kept small. */
export const MAX_METADATA_CHARS = 16 * 1024;
export const Metadata = z.record(z.string(), z.unknown()).superRefine((value, ctx) => {
  const size = JSON.stringify(value).length;
  if (size > MAX_METADATA_CHARS) ctx.addIssue({ code: "custom", message: `metadata is ${size} characters as JSON; at most ${MAX_METADATA_CHARS} are kept`, params: { tooLarge: true, limit: MAX_METADATA_CHARS } });
});

/**
 * `?limit=&cursor=` of every list route: at most `limit` items (and at most a few MiB) a page; the
 * answer's `nextCursor`, passed back as `cursor`, continues after the last item.
 */
export const pageQuery = (defaultLimit: number, cursor: z.ZodString = z.string().regex(/^[0-9]{1,16}$/, "a cursor is the nextCursor of the previous page")) => ({
  limit: z.coerce.number().int().min(1).max(1000).default(defaultLimit),
  cursor: cursor.optional(),
});
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
