import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/lib/batcher";

describe("Batcher: calls that arrive together run as one", () => {
  it("gathers the calls of one moment into one run, in order, and answers each", async () => {
    const runs: number[][] = [];
    const b = new Batcher<number, string>(async (items) => {
      runs.push(items);
      return items.map((i) => `#${i}`);
    });
    const answers = await Promise.all([b.submit(1), b.submit(2), b.submit(3)]);
    expect(answers).toEqual(["#1", "#2", "#3"]);
    expect(runs).toEqual([[1, 2, 3]]);
    // A later call is a run of its own.
    expect(await b.submit(4)).toBe("#4");
    expect(runs).toEqual([[1, 2, 3], [4]]);
  });

  it("rejects only the call whose answer is an Error, and every call when the run throws", async () => {
    const picky = new Batcher<number, number>(async (items) => items.map((i) => (i === 2 ? new Error("no 2") : i * 10)));
    const settled = await Promise.allSettled([picky.submit(1), picky.submit(2), picky.submit(3)]);
    expect(settled.map((s) => s.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((settled[1] as PromiseRejectedResult).reason.message).toBe("no 2");
    const broken = new Batcher<number, number>(async () => {
      throw new Error("store down");
    });
    const all = await Promise.allSettled([broken.submit(1), broken.submit(2)]);
    expect(all.map((s) => s.status)).toEqual(["rejected", "rejected"]);
    // The batcher goes on after a failed run.
    const fine = new Batcher<number, number>(async (items) => items);
    expect(await fine.submit(7)).toBe(7);
  });
});
