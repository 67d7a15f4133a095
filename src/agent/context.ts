import type { Message } from "../contracts";
import { estimateTokens } from "../models/model";

export const messageTokens = (m: Message): number =>
  estimateTokens(m.content) + (m.role === "assistant" && m.toolCalls ? estimateTokens(JSON.stringify(m.toolCalls)) : 0) + 4;

/**
 * Splits a conversation into units that must be kept or dropped whole: an assistant message that
 * calls tools travels with the results of those calls, matched by call id (a user message posted
 * while the tools run can land between the call and its results). Units are lists of message
 * indices, ordered by their first message.
 */
function units(messages: Message[]): number[][] {
  const out: number[][] = [];
  const owner = new Map<string, number[]>();
  messages.forEach((m, i) => {
    const unit = m.role === "tool" ? owner.get(m.toolCallId) : undefined;
    if (unit) return void unit.push(i);
    const fresh = [i];
    out.push(fresh);
    if (m.role === "assistant") for (const call of m.toolCalls ?? []) owner.set(call.id, fresh);
  });
  return out;
}

/**
 * The conversation the model sees: oldest units dropped first until it fits `maxTokens`, never
 * splitting a tool call from its result and always keeping the first user message. The newest unit
 * is kept even when it alone is over budget (the model's answer is better than no call at all).
 */
export function trimContext(messages: Message[], maxTokens: number): Message[] {
  const all = units(messages);
  const firstUser = all.findIndex((u) => messages[u[0]!]!.role === "user");
  const cost = (u: number[]) => u.reduce((n, i) => n + messageTokens(messages[i]!), 0);
  let total = all.reduce((n, u) => n + cost(u), 0);
  if (total <= maxTokens) return messages;
  const keep = all.map(() => true);
  for (let i = 0; i < all.length - 1 && total > maxTokens; i++) {
    if (i === firstUser) continue;
    keep[i] = false;
    total -= cost(all[i]!);
  }
  const kept = new Set(all.filter((_, i) => keep[i]).flat());
  return messages.filter((_, i) => kept.has(i));
}
