import { describe, expect, it } from "vitest";
import { Batcher } from "../../src/core/batcher.js";

describe("Batcher", () => {
  it("writes a lone item at once and groups items that arrive during a flush", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batcher = new Batcher<number, number>(async (items) => {
      batches.push(items);
      if (batches.length === 1) await gate;
      return items.map((n) => n * 2);
    });
    const first = batcher.add(1);
    await Promise.resolve(); // the first flush starts
    const rest = [batcher.add(2), batcher.add(3), batcher.add(4)];
    release();
    expect(await first).toBe(2);
    expect(await Promise.all(rest)).toEqual([4, 6, 8]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it("writes the items added in one turn together, even with flush slots free", async () => {
    const batches: number[][] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        return items;
      },
      { concurrency: 2 },
    );
    const all = [1, 2, 3, 4, 5].map((n) => batcher.add(n));
    expect(await Promise.all(all)).toEqual([1, 2, 3, 4, 5]);
    expect(batches).toEqual([[1, 2, 3, 4, 5]]);
  });

  it("splits at maxBatch", async () => {
    const sizes: number[] = [];
    const batcher = new Batcher<number, number>(
      async (items) => {
        sizes.push(items.length);
        return items;
      },
      { maxBatch: 3 },
    );
    await batcher.addAll([1, 2, 3, 4, 5, 6, 7]);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(7);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(3);
  });

  it("rejects every item of a failed batch and keeps working", async () => {
    let fail = true;
    const batcher = new Batcher<number, number>(async (items) => {
      if (fail) throw new Error("boom");
      return items;
    });
    await expect(batcher.add(1)).rejects.toThrow("boom");
    fail = false;
    await expect(batcher.add(2)).resolves.toBe(2);
  });

  it("refuses a flush that returns the wrong number of results", async () => {
    const batcher = new Batcher<number, number>(async () => []);
    await expect(batcher.add(1)).rejects.toThrow(/0 results for 1 items/);
  });
});
