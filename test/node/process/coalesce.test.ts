import { describe, expect, it } from "vitest";
import { Coalescer } from "../../../src/process/tools/coalesce";

describe("Coalescer", () => {
  it("answers calls made in the same moment with one flush, in order; a later call is a batch of its own", async () => {
    const batches: number[][] = [];
    const c = new Coalescer<number, string>(async (items) => (batches.push(items), items.map((i) => `r${i}`)));
    expect(await Promise.all([c.run(1), c.run(2), c.run(3)])).toEqual(["r1", "r2", "r3"]);
    expect(await c.run(4)).toBe("r4");
    expect(batches).toEqual([[1, 2, 3], [4]]);
  });

  it("splits at maxBatch, and a failed flush rejects only its own batch", async () => {
    const c = new Coalescer<number, number>(async (items) => {
      if (items.includes(3)) throw new Error("boom");
      return items;
    }, 2);
    const out = await Promise.allSettled([c.run(1), c.run(2), c.run(3), c.run(4)]);
    expect(out.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "rejected"]);
  });

  it("refuses an answer of the wrong length", async () => {
    const c = new Coalescer<number, number>(async () => [1]);
    await expect(Promise.all([c.run(1), c.run(2)])).rejects.toThrow(/answered with 1/);
  });
});
