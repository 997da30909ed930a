/**
 * The broker contract of dispatch limits and fairness (README "Limits and fairness"): what
 * `Broker.claim` does under `setLimits`, and the order it hands out tasks of several concurrency
 * keys in. Each test uses its own queue names; the broker is shared by the file.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Broker, QueueEntry } from "../../src/broker/broker.js";
import type { EffectiveLimits, LimitTable } from "../../src/core/dispatch-limits.js";
import { EventLog, type MakeBroker } from "./contract.js";

const TYPE = "limited.job";
const OTHER = "other.job";

function keyed(queue: string, key: string | undefined, count: number, options: { type?: string; priority?: number; prefix?: string } = {}): QueueEntry[] {
  const prefix = options.prefix ?? key ?? "plain";
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    queue,
    type: options.type ?? TYPE,
    priority: options.priority ?? 0,
    ...(key === undefined ? {} : { key }),
  }));
}

function table(types: Record<string, EffectiveLimits> = {}, queues: Record<string, EffectiveLimits> = {}): LimitTable {
  return { types: new Map(Object.entries(types)), queues: new Map(Object.entries(queues)) };
}

/** Claims one task at a time until none is left: the dispatch order. */
async function claimOneByOne(broker: Broker, queue: string, types: string[] = [TYPE]): Promise<string[]> {
  const order: string[] = [];
  for (;;) {
    const [id] = await broker.claim(queue, types, 1, Date.now() + 60_000);
    if (id === undefined) return order;
    order.push(id);
  }
}

export function describeLimitsContract(name: string, makeBroker: MakeBroker): void {
  describe(`${name}: limits and fairness`, () => {
    let broker: Broker;
    let cleanup: () => Promise<void>;
    const wakes = new EventLog<string>();
    const q = () => `lim-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      ({ broker, cleanup } = await makeBroker());
      await broker.onWake(wakes.push);
    }, 60_000);
    afterAll(async () => {
      await cleanup();
    });

    describe("fairness", () => {
      it("serves keys round-robin within a priority: 10 tasks of B right after 100 of A all start within the first 20", async () => {
        broker.setLimits(table());
        const queue = q();
        await broker.enqueue(keyed(queue, "A", 100));
        await broker.enqueue(keyed(queue, "B", 10));
        const order = await claimOneByOne(broker, queue);
        expect(order).toHaveLength(110);
        const lastB = Math.max(...order.map((id, i) => (id.startsWith("B-") ? i : -1)));
        expect(lastB).toBeLessThan(20);
        // Each key keeps its own order.
        expect(order.filter((id) => id.startsWith("A-"))).toEqual(keyed(queue, "A", 100).map((e) => e.id));
        expect(order.filter((id) => id.startsWith("B-"))).toEqual(keyed(queue, "B", 10).map((e) => e.id));
      });

      it("alternates keys one by one, and a key that arrives later joins the round", async () => {
        const queue = q();
        await broker.enqueue([...keyed(queue, "A", 3), ...keyed(queue, "B", 3)]);
        expect(await broker.claim(queue, [TYPE], 2, Date.now() + 60_000)).toEqual(["A-0", "B-0"]);
        await broker.enqueue(keyed(queue, "C", 2));
        expect(await claimOneByOne(broker, queue)).toEqual(["A-1", "B-1", "C-0", "A-2", "B-2", "C-1"]);
      });

      it("priority comes first: a higher priority runs before any key's turn", async () => {
        const queue = q();
        await broker.enqueue(keyed(queue, "A", 3));
        await broker.enqueue(keyed(queue, "B", 1, { priority: 5 }));
        await broker.enqueue(keyed(queue, undefined, 1, { priority: 9 }));
        expect(await claimOneByOne(broker, queue)).toEqual(["plain-0", "B-0", "A-0", "A-1", "A-2"]);
      });

      it("tasks without a key are FIFO across types, and are one key among the others", async () => {
        const queue = q();
        await broker.enqueue([...keyed(queue, undefined, 2, { prefix: "x" }), ...keyed(queue, undefined, 2, { prefix: "y", type: OTHER })]);
        await broker.enqueue(keyed(queue, "K", 2));
        expect(await claimOneByOne(broker, queue, [TYPE, OTHER])).toEqual(["x-0", "K-0", "x-1", "K-1", "y-0", "y-1"]);
      });
    });

    describe("concurrency", () => {
      it("holds a type at its limit, and a lease's release frees a slot with a wake-up", async () => {
        const queue = q();
        broker.setLimits(table({ [TYPE]: { concurrency: 2 } }));
        await broker.enqueue([...keyed(queue, undefined, 5), ...keyed(queue, undefined, 2, { type: OTHER, prefix: "o" })]);
        const first = await broker.claim(queue, [TYPE, OTHER], 10, Date.now() + 60_000);
        // The type's third task does not block the other type behind it.
        expect(first).toEqual(["plain-0", "plain-1", "o-0", "o-1"]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual([]);
        const seen = wakes.values.length;
        await broker.release([{ id: "plain-0", queue }]);
        await wakes.next((value) => value === queue && wakes.values.lastIndexOf(queue) >= seen);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["plain-2"]);
        // A requeue and a remove free slots too.
        await broker.requeue([{ id: "plain-1", queue, type: TYPE, priority: 0 }]);
        await broker.remove([{ id: "plain-2", queue, type: TYPE, priority: 0 }]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["plain-3", "plain-4"]);
      });

      it("holds a key at its per-key limit without blocking the keys behind it", async () => {
        const queue = q();
        broker.setLimits(table({ [TYPE]: { perKey: 1 } }));
        await broker.enqueue(keyed(queue, "A", 50));
        await broker.enqueue([...keyed(queue, "B", 2), ...keyed(queue, undefined, 2)]);
        const claimed = await broker.claim(queue, [TYPE], 10, Date.now() + 60_000);
        expect(claimed.sort()).toEqual(["A-0", "B-0", "plain-0", "plain-1"]);
        await broker.release([{ id: "A-0", queue }]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["A-1"]);
        await broker.remove([{ id: "B-0", queue, type: TYPE, priority: 0 }]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["B-1"]);
      });

      it("holds a queue at its limit, and at a per-key limit across its types", async () => {
        const queue = q();
        broker.setLimits(table({}, { [queue]: { concurrency: 3, perKey: 1 } }));
        await broker.enqueue([...keyed(queue, "A", 3), ...keyed(queue, "A", 3, { type: OTHER, prefix: "oA" }), ...keyed(queue, "B", 3), ...keyed(queue, "C", 3)]);
        const claimed = await broker.claim(queue, [TYPE, OTHER], 10, Date.now() + 60_000);
        expect(claimed).toHaveLength(3);
        expect(new Set(claimed.map((id) => id.replace(/^oA/, "A").split("-")[0]))).toEqual(new Set(["A", "B", "C"]));
        expect(await broker.claim(queue, [TYPE, OTHER], 10, Date.now() + 60_000)).toEqual([]);
      });

      it("counts the leases a rebuild restores with their type and key", async () => {
        const queue = q();
        broker.setLimits(table({ [TYPE]: { concurrency: 2, perKey: 1 } }));
        await broker.lease([{ id: "running-1", queue, type: TYPE, key: "A" }], Date.now() + 60_000);
        await broker.enqueue([...keyed(queue, "A", 2), ...keyed(queue, "B", 2)]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["B-0"]);
      });

      it("applies raised limits at once to keys it held", async () => {
        const queue = q();
        broker.setLimits(table({ [TYPE]: { perKey: 1 } }));
        await broker.enqueue(keyed(queue, "A", 3));
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["A-0"]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual([]);
        broker.setLimits(table({ [TYPE]: { perKey: 3 } }));
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["A-1", "A-2"]);
      });
    });

    describe("rates", () => {
      it("starts at most count per interval, and wakes the queue when the next may start", async () => {
        const queue = q();
        const rate = { count: 3, intervalMs: 200 };
        broker.setLimits(table({ [TYPE]: { rate } }));
        await broker.enqueue(keyed(queue, undefined, 9));
        // Each start's time lies between the clock read before its claim and after it.
        const starts: { before: number; after: number }[] = [];
        while (starts.length < 9) {
          const seen = wakes.values.length;
          const before = Date.now();
          const ids = await broker.claim(queue, [TYPE], 10, Date.now() + 60_000);
          const after = Date.now();
          for (const _ of ids) starts.push({ before, after });
          if (starts.length < 9) await wakes.next((value) => value === queue && wakes.values.lastIndexOf(queue) >= seen);
        }
        // No interval anywhere holds more than `count` starts.
        for (let i = 0; i + rate.count < starts.length; i++) {
          expect((starts[i + rate.count]?.after ?? 0) - (starts[i]?.before ?? 0)).toBeGreaterThanOrEqual(rate.intervalMs);
        }
      });

      it("limits each key's rate without holding the other keys", async () => {
        const queue = q();
        broker.setLimits(table({ [TYPE]: { keyRate: { count: 1, intervalMs: 60_000 } } }));
        await broker.enqueue([...keyed(queue, "A", 3), ...keyed(queue, "B", 3), ...keyed(queue, undefined, 1)]);
        expect((await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).sort()).toEqual(["A-0", "B-0", "plain-0"]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual([]);
      });

      it("limits a queue's rate", async () => {
        const queue = q();
        broker.setLimits(table({}, { [queue]: { rate: { count: 2, intervalMs: 60_000 } } }));
        await broker.enqueue(keyed(queue, undefined, 5));
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["plain-0", "plain-1"]);
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual([]);
        broker.setLimits(table());
        expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["plain-2", "plain-3", "plain-4"]);
      });
    });

    it("keeps a delayed keyed task's key: promoted, it counts under its key", async () => {
      const queue = q();
      broker.setLimits(table({ [TYPE]: { perKey: 1 } }));
      await broker.schedule([{ id: "later-A", queue, type: TYPE, priority: 0, key: "A", runAt: 1 }]);
      await broker.enqueue(keyed(queue, "A", 1));
      expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["A-0"]);
      await broker.promoteDue(queue, Date.now(), 10);
      expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual([]);
      await broker.release([{ id: "A-0", queue }]);
      expect(await broker.claim(queue, [TYPE], 10, Date.now() + 60_000)).toEqual(["later-A"]);
    });
  });
}
