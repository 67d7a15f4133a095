import { z } from "zod";

export const ToolCall = z.object({
  id: z.string(),
  name: z.string(),
  arguments: z.record(z.string(), z.unknown()),
});
export type ToolCall = z.infer<typeof ToolCall>;

export const Message = z.discriminatedUnion("role", [
  z.object({ role: z.literal("user"), content: z.string() }),
  z.object({ role: z.literal("assistant"), content: z.string(), toolCalls: z.array(ToolCall).optional() }),
  z.object({ role: z.literal("tool"), toolCallId: z.string(), name: z.string(), content: z.string(), isError: z.boolean() }),
]);
export type Message = z.infer<typeof Message>;

export const ToolResult = z.object({
  toolCallId: z.string(),
  name: z.string(),
  output: z.string(),
  error: z.string().nullable(),
  success: z.boolean(),
  durationMs: z.number(),
});
export type ToolResult = z.infer<typeof ToolResult>;

export const Warning = z.object({ severity: z.literal("degraded"), component: z.string(), message: z.string() });
export type Warning = z.infer<typeof Warning>;
