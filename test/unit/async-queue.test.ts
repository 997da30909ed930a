import { describe, expect, it } from "vitest";
import { AsyncQueue } from "../../src/core/async-queue.js";

describe("AsyncQueue", () => {
  it("delivers pushed items in order and stops after end", async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const n of queue) seen.push(n);
    })();
    queue.push(2);
    queue.push(3);
    queue.end();
    queue.push(4);
    await consumer;
    expect(seen).toEqual([1, 2, 3]);
  });

  it("throws a failure to the consumer after the queued items", async () => {
    const queue = new AsyncQueue<number>();
    queue.push(1);
    queue.fail(new Error("gone"));
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const n of queue) seen.push(n);
      })(),
    ).rejects.toThrow("gone");
    expect(seen).toEqual([1]);
  });

  it("wakes a waiting consumer on end", async () => {
    const queue = new AsyncQueue<number>();
    const next = queue[Symbol.asyncIterator]().next();
    queue.end();
    await expect(next).resolves.toEqual({ value: undefined, done: true });
  });
});
