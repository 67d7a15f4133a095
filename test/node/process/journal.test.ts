import { describe, expect, it } from "vitest";
import { Journal, journalKey, sendDecision } from "../../../src/process/journal";
import { processDb } from "../support/process-db";

const counter = () => {
  let calls = 0;
  const effect = async () => `result ${++calls}`;
  return { effect, calls: () => calls };
};

describe("the journal", () => {
  it("runs an effect once per key and answers the recorded result afterwards", async () => {
    const journal = new Journal(processDb());
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
    const store = processDb();
    const { effect, calls } = counter();
    await new Journal(store).run("model:0", effect);
    const again = new Journal(store);
    expect(await again.run("model:0", effect)).toBe("result 1");
    expect(calls()).toBe(1);
  });

  it("records the result and what persist writes in one transaction", async () => {
    const store = processDb();
    store.sql.exec("CREATE TABLE persisted (body TEXT)");
    const journal = new Journal(store);
    const persist = (value: string) => void store.sql.exec("INSERT INTO persisted (body) VALUES (?)", value);
    await journal.run("tool:a", async () => "done", persist);
    expect(store.sql.exec<{ body: string }>("SELECT body FROM persisted").toArray()).toEqual([{ body: "done" }]);
    // A persist that fails leaves nothing recorded: the effect runs again next time.
    await expect(journal.run("tool:b", async () => "x", () => { throw new Error("disk full"); })).rejects.toThrow("disk full");
    expect(journal.has("tool:b")).toBe(false);
    // persist runs only when the effect runs
    await journal.run("tool:a", async () => "other", persist);
    expect(store.sql.exec<{ n: number }>("SELECT count(*) AS n FROM persisted").one().n).toBe(1);
  });

  it("records nothing for an effect that throws, or that has no result yet", async () => {
    const journal = new Journal(processDb());
    await expect(journal.run("tool:a", async () => { throw new Error("boom"); })).rejects.toThrow("boom");
    expect(journal.has("tool:a")).toBe(false);
    expect(await journal.run("tool:w", async () => undefined)).toBeUndefined();
    expect(journal.has("tool:w")).toBe(false);
    expect(await journal.run("tool:w", async () => ({ done: true }))).toEqual({ done: true });
    expect(journal.get("tool:w")).toEqual({ done: true });
  });

  it("joins a second run of a key whose effect is still running", async () => {
    const journal = new Journal(processDb());
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
    const journal = new Journal(processDb());
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

describe("sent markers (calls that act on the world)", () => {
  it("decides from the marker and the tool's annotations", () => {
    expect(sendDecision(false, false)).toBe("send");
    expect(sendDecision(false, true)).toBe("send");
    expect(sendDecision(true, true)).toBe("resend");
    expect(sendDecision(true, false)).toBe("interrupted");
  });

  it("marks a call sent, durably, before it goes out", async () => {
    const store = processDb();
    const order: string[] = [];
    const durable = Object.assign(store, {
      sync: async () => {
        // The marker is already written when the durability barrier is asked for.
        order.push(`sync:${new Journal(store).has(journalKey.sent("c1"))}`);
      },
    });
    const journal = new Journal(durable);
    expect(await journal.beginSend("c1", false)).toBe("send");
    order.push("fetch");
    expect(order).toEqual(["sync:true", "fetch"]);
    expect(journal.has("sent:tool:c1")).toBe(true);
    // The marker is not a result: the call still has none recorded.
    expect(journal.has(journalKey.tool("c1"))).toBe(false);
  });

  it("after a crash, a destructive call in flight is interrupted and a read-only one is sent again", async () => {
    const store = processDb();
    const before = new Journal(store);
    expect(await before.beginSend("launch", false)).toBe("send");
    expect(await before.beginSend("lookup", true)).toBe("send");
    // The object dies here: neither call recorded a result. A new incarnation over the same storage:
    const after = new Journal(store);
    expect(await after.beginSend("launch", false)).toBe("interrupted");
    expect(await after.beginSend("lookup", true)).toBe("resend");
    // Still interrupted however many times the step is retried before its result is recorded.
    expect(await new Journal(store).beginSend("launch", false)).toBe("interrupted");
  });

  it("drives the journal's run: the interrupted result is recorded like any other and is final", async () => {
    const store = processDb();
    let sent = 0;
    const call = (journal: Journal, repeatable: boolean) =>
      journal.run("tool:c", async () => {
        const decision = await journal.beginSend("c", repeatable);
        if (decision === "interrupted") return "Error: interrupted";
        sent++;
        return undefined; // the object died mid-call: nothing recorded
      });
    expect(await call(new Journal(store), false)).toBeUndefined();
    expect(await call(new Journal(store), false)).toBe("Error: interrupted");
    expect(await call(new Journal(store), true)).toBe("Error: interrupted"); // recorded: never decided again
    expect(sent).toBe(1);
  });

  it("a call whose result is recorded never sends again; markers go when the step's journal is cleared", async () => {
    const store = processDb();
    const journal = new Journal(store);
    let sent = 0;
    const effect = async () => {
      await journal.beginSend("c", false);
      sent++;
      return "done";
    };
    expect(await journal.run("tool:c", effect)).toBe("done");
    expect(await new Journal(store).run("tool:c", effect)).toBe("done");
    expect(sent).toBe(1);
    journal.clear();
    expect(journal.has("sent:tool:c")).toBe(false);
    expect(await journal.beginSend("c", false)).toBe("send");
  });

  it("a marker only exists for a call that asked to send: other calls are unaffected", async () => {
    const store = processDb();
    await new Journal(store).beginSend("a", false);
    const again = new Journal(store);
    expect(await again.beginSend("b", false)).toBe("send");
    expect(journalKey.sent("b")).toBe("sent:tool:b");
  });
});
