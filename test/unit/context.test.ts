import { describe, expect, it } from "vitest";
import { messageTokens, trimContext } from "../../src/agent/context";
import type { Message } from "../../src/contracts";
import { rng } from "../support/rng";


const text = (n: number) => "x".repeat(n);
const user = (content: string): Message => ({ role: "user", content });
const answer = (content: string): Message => ({ role: "assistant", content });
const calls = (...ids: string[]): Message => ({
  role: "assistant",
  content: "",
  toolCalls: ids.map((id) => ({ id, name: "read_file", arguments: { path: `/${id}` } })),
});
const result = (id: string, content = "ok"): Message => ({ role: "tool", toolCallId: id, name: "read_file", content, isError: false });
const total = (ms: Message[]) => ms.reduce((n, m) => n + messageTokens(m), 0);

describe("messageTokens", () => {
  it("counts 4 characters per token plus a fixed overhead, and the tool calls of an assistant", () => {
    expect(messageTokens(user(""))).toBe(4);
    expect(messageTokens(user(text(8)))).toBe(6);
    expect(messageTokens(user(text(9)))).toBe(7);
    const m = calls("a");
    const json = JSON.stringify((m as Extract<Message, { role: "assistant" }>).toolCalls);
    expect(messageTokens(m)).toBe(4 + Math.ceil(json.length / 4));
  });
});

describe("trimContext", () => {
  it("returns the conversation unchanged when it fits", () => {
    const conv = [user("hi"), calls("a"), result("a"), answer("done")];
    expect(trimContext(conv, total(conv))).toEqual(conv);
    expect(trimContext(conv, 1_000_000)).toEqual(conv);
  });

  it("drops the oldest turns first and keeps the first user message", () => {
    const conv = [user("task"), answer(text(400)), user(text(400)), answer(text(40)), user("latest")];
    const budget = total([conv[0]!, conv[3]!, conv[4]!]);
    const trimmed = trimContext(conv, budget);
    expect(trimmed).toEqual([conv[0], conv[3], conv[4]]);
  });

  it("keeps dropping only until the conversation fits", () => {
    const conv = [user("task"), answer(text(40)), answer(text(40)), answer(text(40)), user("latest")];
    const budget = total(conv) - messageTokens(conv[1]!);
    expect(trimContext(conv, budget)).toEqual([conv[0], conv[2], conv[3], conv[4]]);
  });

  it("never splits an assistant's tool calls from their results", () => {
    const conv = [user("task"), calls("a", "b"), result("a", text(200)), result("b", text(200)), calls("c"), result("c"), answer("fin")];
    const trimmed = trimContext(conv, total([conv[0]!, conv[4]!, conv[5]!, conv[6]!]) + 5);
    expect(trimmed).toEqual([conv[0], conv[4], conv[5], conv[6]]);
    // A budget that would fit the call plus one of its two results still drops both results with the call.
    const partial = trimContext(conv, total(conv) - messageTokens(conv[3]!));
    expect(partial).toEqual([conv[0], conv[4], conv[5], conv[6]]);
  });

  it("keeps a tool result with its call when a user message landed between them", () => {
    // A message posted while the tools run arrives between the call and the later results.
    const conv = [user("task"), answer(text(400)), calls("a", "b"), result("a"), user("btw"), result("b"), answer(text(40))];
    for (let budget = 0; budget <= total(conv); budget += 5) {
      const trimmed = trimContext(conv, budget);
      const ids = new Set(trimmed.flatMap((m) => (m.role === "tool" ? [m.toolCallId] : [])));
      const hasCall = trimmed.includes(conv[2]!);
      expect(ids.has("a"), `budget ${budget}`).toBe(hasCall);
      expect(ids.has("b"), `budget ${budget}`).toBe(hasCall);
    }
  });

  it("keeps the first user message even when it is the largest", () => {
    const conv = [user(text(4000)), answer("a"), user("b"), answer("c")];
    const trimmed = trimContext(conv, 50);
    expect(trimmed[0]).toBe(conv[0]);
    expect(trimmed.at(-1)).toBe(conv[3]);
  });

  it("keeps the newest unit even when it alone is over budget", () => {
    const conv = [user("task"), answer("old"), calls("a"), result("a", text(10_000))];
    expect(trimContext(conv, 10)).toEqual([conv[0], conv[2], conv[3]]);
    const single = [user(text(10_000))];
    expect(trimContext(single, 10)).toEqual(single);
  });

  it("keeps the relative order of the messages it keeps", () => {
    const conv = [user("task"), answer(text(100)), user("u2"), calls("a"), result("a"), answer("x")];
    const trimmed = trimContext(conv, total(conv) - 10);
    const positions = trimmed.map((m) => conv.indexOf(m));
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
  });

  it("property: over random conversations, calls and results are kept or dropped together", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const r = rng(seed);
      const conv: Message[] = [user(text(r.int(200)))];
      let nextId = 0;
      const turns = 1 + r.int(12);
      for (let t = 0; t < turns; t++) {
        const kind = r.int(4);
        if (kind === 0) conv.push(user(text(r.int(300))));
        else if (kind === 1) conv.push(answer(text(r.int(300))));
        else {
          const ids = Array.from({ length: 1 + r.int(3) }, () => `c${nextId++}`);
          conv.push(calls(...ids));
          for (const id of ids) {
            conv.push(result(id, text(r.int(400))));
            if (r.int(5) === 0) conv.push(user(text(r.int(50)))); // interleaved message
          }
        }
      }
      const budget = r.int(total(conv) + 50);
      const trimmed = trimContext(conv, budget);
      const where = `seed ${seed}, budget ${budget}`;

      const keptCallIds = new Set(trimmed.flatMap((m) => (m.role === "assistant" ? (m.toolCalls ?? []).map((c) => c.id) : [])));
      const keptResultIds = new Set(trimmed.flatMap((m) => (m.role === "tool" ? [m.toolCallId] : [])));
      for (const id of keptResultIds) expect(keptCallIds.has(id), `${where}: result ${id} kept without its call`).toBe(true);
      for (const id of keptCallIds) expect(keptResultIds.has(id), `${where}: call ${id} kept without its result`).toBe(true);

      expect(trimmed[0], where).toBe(conv[0]); // the first user message
      expect(trimmed.length, where).toBeGreaterThan(0);
      expect(trimmed.every((m) => conv.includes(m)), where).toBe(true);
      const positions = trimmed.map((m) => conv.indexOf(m));
      expect(positions, where).toEqual([...positions].sort((x, y) => x - y));
      if (total(conv) <= budget) expect(trimmed, where).toEqual(conv);
      // The newest message is always there (no interleaving puts it in an older unit here unless it is a result).
      const last = conv.at(-1)!;
      if (last.role !== "tool") expect(trimmed.at(-1), where).toBe(last);
    }
  });
});
