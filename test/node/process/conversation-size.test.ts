import { describe, expect, it } from "vitest";
import { storedBytes } from "../../../src/process/conversation";
import type { Message } from "../../../src/contracts";

describe("a message's stored size", () => {
  it("is the UTF-8 length of its JSON, ASCII or not", () => {
    for (const content of ["plain ascii", "", "naïve café", "日本語のテキスト", "emoji 😀 and more 🎉", "lone \ud800 surrogate", "x".repeat(100_000)]) {
      const m: Message = { role: "user", content };
      expect(storedBytes(m)).toBe(Buffer.byteLength(JSON.stringify(m), "utf8"));
    }
  });
});
