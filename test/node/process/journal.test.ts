import { describe, expect, it } from "vitest";
import { Journal, journalKey } from "../../../src/process/journal";
import { memoryStore } from "../support/sqlite";

const counter = () => {
  let calls = 0;
  const effect = async () => `result ${++calls}`;
  return { effect, calls: () => calls };
};

describe("the journal", () => {
  it("runs an effect once per key and answers the recorded result afterwards", async () => {
    const journal = new Journal(memoryStore());
    const { effect, calls } = counter();
    expect(await journal.run("tool:a", effect)).toBe("result 1");
    expect(await journal.run("tool:a", effect)).toBe("result 1");
    expect(calls()).toBe(1);
    expect(journal.has("tool:a")).toBe(true);
    expect(journal.get("tool:a")).toBe("result 1");
    expect(await journal.run("tool:b", effect)).toBe("result 2");
    expect(calls()).toBe(2);
  });

  it("remembers across incarnations: a new journal over the same storage does not run it again", async () => {
    const store = memoryStore();
    const { effect, calls } = counter();
    await new Journal(store).run("model:0", effect);
    const again = new Journal(store);
    expect(await again.run("model:0", effect)).toBe("result 1");
    expect(calls()).toBe(1);
  });

  it("records the result and what persist writes in one transaction", async () => {
    const store = memoryStore();
    store.sql.exec("CREATE TABLE messages (body TEXT)");
    const journal = new Journal(store);
    const persist = (value: string) => void store.sql.exec("INSERT INTO messages (body) VALUES (?)", value);
    await journal.run("tool:a", async () => "done", persist);
    expect(store.sql.exec<{ body: string }>("SELECT body FROM messages").toArray()).toEqual([{ body: "done" }]);
    // A persist that fails leaves nothing recorded: the effect runs again next time.
    await expect(journal.run("tool:b", async () => "x", () => { throw new Error("disk full"); })).rejects.toThrow("disk full");
    expect(journal.has("tool:b")).toBe(false);
    // persist runs only when the effect runs
    await journal.run("tool:a", async () => "other", persist);
    expect(store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages").one().n).toBe(1);
  });

  it("records nothing for an effect that throws, or that has no result yet", async () => {
    const journal = new Journal(memoryStore());
    await expect(journal.run("tool:a", async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(journal.has("tool:a")).toBe(false);
    expect(await journal.run("tool:w", async () => undefined)).toBeUndefined();
    expect(journal.has("tool:w")).toBe(false);
    expect(await journal.run("tool:w", async () => ({ done: true }))).toEqual({ done: true });
    expect(journal.get("tool:w")).toEqual({ done: true });
  });

  it("joins a second run of a key whose effect is still running", async () => {
    const journal = new Journal(memoryStore());
    let release!: (v: string) => void;
    let calls = 0;
    const effect = () => {
      calls++;
      return new Promise<string>((r) => (release = r));
    };
    const first = journal.run("tool:a", effect);
    const second = journal.run("tool:a", effect);
    release("once");
    expect(await Promise.all([first, second])).toEqual(["once", "once"]);
    expect(calls).toBe(1);
  });

  it("record keeps the first result of a key; clear forgets every entry", () => {
    const journal = new Journal(memoryStore());
    expect(journal.record("tool:a", 1)).toBe(1);
    expect(journal.record("tool:a", 2)).toBe(1);
    expect(journal.record(journalKey.model(3), null)).toBeNull();
    expect(journal.has("model:3")).toBe(true);
    journal.clear();
    expect(journal.has("tool:a")).toBe(false);
    expect(journal.has("model:3")).toBe(false);
  });

  it("names keys by model call and tool call id", () => {
    expect(journalKey.model(0)).toBe("model:0");
    expect(journalKey.tool("call_1")).toBe("tool:call_1");
  });
});
