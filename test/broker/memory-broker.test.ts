/**
 * The in-process broker: the broker contract (the same suite as Redis), then what only an
 * in-memory index has to prove: the heap's order, lazy deletion, and size.
 */
import { describe, expect, it } from "vitest";
import type { QueueEntry } from "../../src/broker/broker.js";
import { CompactHeap } from "../../src/broker/memory/compact-heap.js";
import { MemoryBroker } from "../../src/broker/memory/memory-broker.js";
import { OrderedIdSet } from "../../src/broker/memory/ordered-id-set.js";
import { UnavailableError } from "../../src/core/errors.js";
import { describeBrokerContract, drain, entries, EventLog, T } from "./contract.js";

describeBrokerContract("MemoryBroker", async () => {
  const broker = new MemoryBroker();
  return { broker, cleanup: () => broker.close() };
});

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Priorities drawn from a few values, so that FIFO within a priority is exercised too. */
function randomEntries(count: number, next: () => number, queue = "q"): QueueEntry[] {
  return Array.from({ length: count }, (_, i) => ({ id: `t${i}`, queue, type: T, priority: Math.floor(next() * 21) - 10 }));
}

/** The order the broker must claim `batch` in: priority descending, then arrival. */
function dispatchOrder(batch: readonly QueueEntry[]): string[] {
  return batch
    .map((entry, arrival) => ({ ...entry, arrival }))
    .sort((a, b) => b.priority - a.priority || a.arrival - b.arrival)
    .map((entry) => entry.id);
}

describe("CompactHeap", () => {
  it("pops 10,000 random keys in (rank, stamp) order, with their ids and payloads", () => {
    const next = random(1);
    const heap = new CompactHeap();
    const pushed = Array.from({ length: 10_000 }, (_, stamp) => ({
      id: `e${stamp}`,
      rank: Math.floor(next() * 100) - 50,
      stamp,
      aux: Math.floor(next() * 2 ** 31) * (next() < 0.5 ? -1 : 1),
    }));
    for (const element of pushed) heap.push(element.id, element.rank, element.stamp, element.aux);
    expect(heap.size).toBe(10_000);

    const popped: typeof pushed = [];
    while (heap.size > 0) {
      popped.push({ id: heap.peekId() ?? "", rank: heap.peekRank(), stamp: heap.peekStamp(), aux: heap.peekAux() });
      heap.pop();
    }
    expect(popped).toEqual([...pushed].sort((a, b) => a.rank - b.rank || a.stamp - b.stamp));
    expect(heap.peekId()).toBeUndefined();
  });

  it("keeps its order through interleaved pushes and pops, and through retain", () => {
    const next = random(2);
    const heap = new CompactHeap();
    const model: { id: string; rank: number; stamp: number }[] = [];
    let stamp = 0;
    for (let round = 0; round < 5_000; round++) {
      if (next() < 0.6 || model.length === 0) {
        const element = { id: `e${stamp}`, rank: Math.floor(next() * 1e6), stamp: stamp++ };
        heap.push(element.id, element.rank, element.stamp, 0);
        model.push(element);
      } else {
        model.sort((a, b) => a.rank - b.rank || a.stamp - b.stamp);
        expect(heap.peekId()).toBe(model.shift()?.id);
        heap.pop();
      }
    }
    heap.retain((_id, kept) => kept % 3 !== 0);
    const expected = model.filter((element) => element.stamp % 3 !== 0).sort((a, b) => a.rank - b.rank || a.stamp - b.stamp);
    const ids: string[] = [];
    while (heap.size > 0) {
      ids.push(heap.peekId() ?? "");
      heap.pop();
    }
    expect(ids).toEqual(expected.map((element) => element.id));
  });
});

describe("OrderedIdSet", () => {
  it("skips deleted and moved ids, and keeps NX adds in place", () => {
    const set = new OrderedIdSet();
    for (const [id, rank] of [["a", 1], ["b", 1], ["c", 0], ["d", 2]] as const) set.add(id, rank);
    expect(set.add("a", -100)).toBe(false); // in place: still after "c"
    expect(set.delete("c")).toBe(true);
    expect(set.delete("c")).toBe(false);
    set.set("b", 3); // moved behind "d"
    set.add("c", 1); // back, behind "a"
    expect(set.size).toBe(4);
    const order: string[] = [];
    for (let member = set.pop(); member !== undefined; member = set.pop()) order.push(member.id);
    expect(order).toEqual(["a", "c", "d", "b"]);
    expect(set.size).toBe(0);
  });

  it("stays correct through many removes (lazy deletion and rebuilds)", () => {
    const next = random(3);
    const set = new OrderedIdSet();
    const live = new Map<string, { rank: number; order: number }>();
    let order = 0;
    for (let round = 0; round < 50_000; round++) {
      const id = `t${Math.floor(next() * 5_000)}`;
      const roll = next();
      if (roll < 0.45) {
        const rank = Math.floor(next() * 10);
        if (set.add(id, rank)) live.set(id, { rank, order: order++ });
        else expect(live.has(id)).toBe(true);
      } else if (roll < 0.8) {
        expect(set.delete(id)).toBe(live.delete(id));
      } else if (roll < 0.95) {
        const rank = Math.floor(next() * 10);
        set.set(id, rank);
        live.set(id, { rank, order: order++ });
      } else {
        let first: [string, { rank: number; order: number }] | undefined;
        for (const entry of live) {
          const [, key] = entry;
          if (first === undefined || key.rank < first[1].rank || (key.rank === first[1].rank && key.order < first[1].order)) first = entry;
        }
        expect(set.pop()?.id).toBe(first?.[0]);
        if (first) live.delete(first[0]);
      }
      expect(set.size).toBe(live.size);
    }
  });
});

describe("MemoryBroker", () => {
  it("claims 10,000 random priorities in dispatch order", async () => {
    const broker = new MemoryBroker();
    const batch = randomEntries(10_000, random(4));
    await broker.enqueue(batch.slice(0, 4_000));
    await broker.enqueue(batch.slice(4_000));
    expect(await drain(broker, "q", 333)).toEqual(dispatchOrder(batch));
    await broker.close();
  });

  it("claims around removed tasks, and re-enqueued ones go to the back", async () => {
    const broker = new MemoryBroker();
    const batch = randomEntries(10_000, random(5));
    await broker.enqueue(batch);
    const removed = batch.filter((_, index) => index % 3 === 0);
    await broker.remove(removed);
    expect(await broker.counts("q")).toEqual({ pending: 10_000 - removed.length, delayed: 0, leased: 0 });
    const back = removed.slice(0, 10);
    await broker.enqueue(back);

    const kept = batch.filter((_, index) => index % 3 !== 0);
    expect(await drain(broker, "q", 500)).toEqual(dispatchOrder([...kept, ...back]));
    await broker.close();
  });

  it("enqueues and claims 100,000 tasks", async () => {
    const broker = new MemoryBroker();
    const batch = entries("bulk", 100_000, 0);
    for (let start = 0; start < batch.length; start += 1_000) await broker.enqueue(batch.slice(start, start + 1_000));
    expect(await broker.counts("bulk")).toEqual({ pending: 100_000, delayed: 0, leased: 0 });
    const claimed = await drain(broker, "bulk", 1_000);
    expect(claimed).toEqual(batch.map((entry) => entry.id));
    expect(await broker.counts("bulk")).toEqual({ pending: 0, delayed: 0, leased: 100_000 });
    await broker.release(claimed.map((id) => ({ id, queue: "bulk" })));
    expect(await broker.counts("bulk")).toEqual({ pending: 0, delayed: 0, leased: 0 });
    await broker.close();
  });

  it("renews leases many times without losing their order", async () => {
    const broker = new MemoryBroker();
    await broker.enqueue(entries("q", 100));
    const leases = (await broker.claim("q", [T], 100, 1_000)).map((id) => ({ id, queue: "q" }));
    for (let round = 1; round <= 100; round++) await broker.renew(leases, 1_000 + round);
    await broker.renew(leases.slice(50), 500);
    expect(await broker.reapExpired("q", 1_000, 100, 5_000)).toEqual(leases.slice(50).map((lease) => lease.id));
    expect(await broker.reapExpired("q", 1_101, 100, 5_000)).toEqual(leases.slice(0, 50).map((lease) => lease.id));
    await broker.close();
  });

  it("moves a delayed task when it is scheduled again, and removes it whatever priority is given", async () => {
    const broker = new MemoryBroker();
    await broker.schedule([{ id: "d", queue: "q", type: T, priority: 1, runAt: 100 }]);
    await broker.schedule([{ id: "d", queue: "q", type: T, priority: 2, runAt: 50 }]);
    expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 1, leased: 0 });
    expect(await broker.promoteDue("q", 60, 10)).toEqual({ promoted: ["d"], nextRunAt: null });
    await broker.claim("q", [T], 1, 1_000);
    await broker.requeue([{ id: "d", queue: "q", type: T, priority: 2, runAt: Date.now() + 60_000 }]);
    await broker.remove([{ id: "d", queue: "q", type: T, priority: 0 }]);
    expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 0 });
    await broker.close();
  });

  it("calls listeners after the publishing call returned, never inside it", async () => {
    const broker = new MemoryBroker();
    const wakes = new EventLog<string>();
    const events = new EventLog<Uint8Array>();
    const stops = [await broker.onWake(wakes.push), await broker.subscribeTaskEvents("t", events.push)];
    const payload = new Uint8Array([1]);
    const published = broker.publishTaskEvents([{ taskId: "t", payload: payload }]);
    const enqueued = broker.enqueue(entries("q", 1));
    payload[0] = 99; // the broker took its own copy
    expect(wakes.values).toEqual([]);
    expect(events.values).toEqual([]);
    await Promise.all([published, enqueued]);
    expect(Array.from(await events.next())).toEqual([1]);
    expect(await wakes.next()).toBe("q");
    for (const stop of stops) await stop();
    await broker.close();
  });

  it("does not deliver to a listener that subscribed after the publication", async () => {
    const broker = new MemoryBroker();
    const early = new EventLog<Uint8Array>();
    const late = new EventLog<Uint8Array>();
    await broker.subscribeTaskEvents("t", early.push);
    await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([1]) }]);
    await broker.subscribeTaskEvents("t", late.push);
    await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([2]) }]);
    await early.next((payload) => payload[0] === 2);
    expect(late.values.map((payload) => payload[0])).toEqual([2]);
    await broker.close();
  });

  it("keeps delivering to other listeners when one throws", async () => {
    const broker = new MemoryBroker();
    const kept = new EventLog<string>();
    await broker.onWake(() => {
      throw new Error("listener bug");
    });
    await broker.onWake(kept.push);
    await broker.enqueue(entries("q", 1));
    expect(await kept.next()).toBe("q");
    await broker.close();
  });

  it("refuses every call once closed, with SHUTTING_DOWN, and delivers nothing more", async () => {
    const broker = new MemoryBroker();
    const wakes = new EventLog<string>();
    await broker.onWake(wakes.push);
    await broker.enqueue(entries("q", 1));
    await Promise.all([broker.close(), broker.close()]);
    const calls: (() => Promise<unknown>)[] = [
      () => broker.ping(),
      () => broker.enqueue(entries("q", 1)),
      () => broker.claim("q", [T], 1, 1_000),
      () => broker.counts("q"),
      () => broker.queues(),
      () => broker.onWake(() => undefined),
      () => broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array() }]),
    ];
    for (const call of calls) {
      const error: unknown = await call().catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ reason: "SHUTTING_DOWN" });
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(wakes.values).toEqual([]);
  });

  it("refuses malformed entries as the Redis broker does", async () => {
    const broker = new MemoryBroker();
    await expect(broker.enqueue([{ id: "a", queue: "bad queue", type: T, priority: 0 }])).rejects.toBeInstanceOf(RangeError);
    await expect(broker.enqueue([{ id: "a", queue: "q", type: T, priority: 0.5 }])).rejects.toBeInstanceOf(RangeError);
    await expect(broker.schedule([{ id: "a", queue: "q", type: T, priority: 0, runAt: Number.NaN }])).rejects.toBeInstanceOf(RangeError);
    expect(await broker.queues()).toEqual([]);
    await broker.close();
  });
});
