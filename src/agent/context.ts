import type { Message } from "../contracts";
import { estimateTokens } from "../models/model";

export const messageTokens = (m: Message): number =>
  estimateTokens(m.content) + (m.role === "assistant" && m.toolCalls ? estimateTokens(JSON.stringify(m.toolCalls)) : 0) + 4;

/**
 * Splits a conversation into units that must be kept or dropped whole: an assistant message that
 * calls tools travels with the results of those calls.
 */
function units(messages: Message[]): Message[][] {
  const out: Message[][] = [];
  for (const m of messages) {
    const last = out.at(-1);
    if (m.role === "tool" && last && last[0]!.role === "assistant") last.push(m);
    else out.push([m]);
  }
  return out;
}

/**
 * The conversation the model sees: oldest units dropped first until it fits `maxTokens`, never
 * splitting a tool call from its result and always keeping the first user message. The newest unit
 * is kept even when it alone is over budget (the model's answer is better than no call at all).
 */
export function trimContext(messages: Message[], maxTokens: number): Message[] {
  const all = units(messages);
  const firstUser = all.findIndex((u) => u[0]!.role === "user");
  const cost = (u: Message[]) => u.reduce((n, m) => n + messageTokens(m), 0);
  let total = all.reduce((n, u) => n + cost(u), 0);
  if (total <= maxTokens) return messages;
  const keep = all.map(() => true);
  for (let i = 0; i < all.length - 1 && total > maxTokens; i++) {
    if (i === firstUser) continue;
    keep[i] = false;
    total -= cost(all[i]!);
  }
  return all.filter((_, i) => keep[i]).flat();
}
