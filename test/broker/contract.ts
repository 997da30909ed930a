/**
 * The behaviour every `Broker` must have, written against the interface only, so that the
 * Redis broker and the in-process broker run the same suite:
 *
 * ```ts
 * describeBrokerContract("RedisBroker", async () => { ...; return { broker, cleanup } });
 * ```
 *
 * Times given to the broker (`now`, `leaseUntil`, `runAt`) are plain epoch milliseconds chosen
 * by the caller, so most tests use small synthetic ones; `requeue` decides "due" against the
 * real clock, so its tests use `Date.now()` plus or minus an hour.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Broker, QueueEntry } from "../../src/broker/broker.js";
import { PRIORITY_MAX, PRIORITY_MIN } from "../../src/core/limits.js";

/** What the suite needs from an implementation: a fresh, empty broker, and its clean-up. */
export type MakeBroker = () => Promise<{ broker: Broker; cleanup: () => Promise<void> }>;

const HOUR = 3_600_000;

/** The task type of entries that do not name another. */
export const T = "job";

/** Values pushed by a listener, with a way to await the one you expect (never a sleep). */
export class EventLog<T> {
  readonly values: T[] = [];
  readonly #waiters: { match: (value: T) => boolean; resolve: (value: T) => void }[] = [];

  /** Records a value and wakes whoever waits for it. Pass as (or call from) a listener. */
  readonly push = (value: T): void => {
    this.values.push(value);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(value)) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(value);
      }
    }
  };

  /** The first value (already seen or still to come) that `match` accepts. */
  next(match: (value: T) => boolean = () => true, timeoutMs = 5_000): Promise<T> {
    const seen = this.values.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no matching event within ${timeoutMs} ms; seen: ${JSON.stringify(this.values)}`));
      }, timeoutMs);
      const waiter = {
        match,
        resolve: (value: T) => {
          clearTimeout(timer);
          resolve(value);
        },
      };
      this.#waiters.push(waiter);
    });
  }
}

/** `count` entries of one queue with ids `<prefix>-0`, `<prefix>-1`, …, of type `type`. */
export function entries(queue: string, count: number, priority = 0, prefix = "task", type = T): QueueEntry[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${i}`, queue, type, priority }));
}

/** Claims tasks of `types` until there are none left, `batch` at a time. */
export async function drain(broker: Broker, queue: string, batch = 100, leaseUntil = 10_000, types: readonly string[] = [T]): Promise<string[]> {
  const claimed: string[] = [];
  for (;;) {
    const ids = await broker.claim(queue, types, batch, leaseUntil);
    if (ids.length === 0) return claimed;
    claimed.push(...ids);
  }
}

/** Registers the broker contract suite for one implementation. */
export function describeBrokerContract(name: string, makeBroker: MakeBroker): void {
  describe(`${name} (broker contract)`, () => {
    let broker: Broker;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ broker, cleanup } = await makeBroker());
    });

    afterEach(async () => {
      await cleanup();
    });

    describe("order", () => {
      it("claims the highest priority first, FIFO within a priority", async () => {
        await broker.enqueue([
          { id: "a", queue: "q", type: T, priority: 0 },
          { id: "b", queue: "q", type: T, priority: 5 },
          { id: "c", queue: "q", type: T, priority: -3 },
          { id: "d", queue: "q", type: T, priority: 5 },
          { id: "e", queue: "q", type: T, priority: 10 },
          { id: "f", queue: "q", type: T, priority: 0 },
        ]);
        expect(await drain(broker, "q")).toEqual(["e", "b", "d", "a", "f", "c"]);
      });

      it("keeps FIFO within a priority across separate enqueue calls", async () => {
        const ids = Array.from({ length: 50 }, (_, i) => `t${i}`);
        for (const id of ids) await broker.enqueue([{ id, queue: "q", type: T, priority: 3 }]);
        await broker.enqueue([{ id: "urgent", queue: "q", type: T, priority: 4 }]);
        expect(await drain(broker, "q", 7)).toEqual(["urgent", ...ids]);
      });

      it("keeps exact order at the extreme priorities", async () => {
        const priorities = [PRIORITY_MIN, PRIORITY_MAX, PRIORITY_MIN + 1, PRIORITY_MAX - 1, 0, -1, 1];
        const batch: QueueEntry[] = [];
        for (let round = 0; round < 3; round++) {
          for (const priority of priorities) batch.push({ id: `p${priority}-r${round}`, queue: "q", type: T, priority });
        }
        await broker.enqueue(batch.slice(0, 10));
        await broker.enqueue(batch.slice(10));

        const expected = [...priorities]
          .sort((x, y) => y - x)
          .flatMap((priority) => [0, 1, 2].map((round) => `p${priority}-r${round}`));
        expect(await drain(broker, "q", 4)).toEqual(expected);
      });

      it("keeps each queue of a multi-queue batch separate", async () => {
        await broker.enqueue([
          { id: "a1", queue: "alpha", type: T, priority: 0 },
          { id: "b1", queue: "beta", type: T, priority: 0 },
          { id: "a2", queue: "alpha", type: T, priority: 1 },
        ]);
        expect(await drain(broker, "alpha")).toEqual(["a2", "a1"]);
        expect(await drain(broker, "beta")).toEqual(["b1"]);
        expect(await broker.queues()).toEqual(expect.arrayContaining(["alpha", "beta"]));
      });

      it("does not queue an id twice when it is enqueued twice", async () => {
        await broker.enqueue([{ id: "a", queue: "q", type: T, priority: 0 }]);
        await broker.enqueue([{ id: "a", queue: "q", type: T, priority: 0 }]);
        expect(await broker.counts("q")).toEqual({ pending: 1, delayed: 0, leased: 0 });
      });
    });

    describe("claim", () => {
      it("takes at most `count`, then what is left, then nothing", async () => {
        await broker.enqueue(entries("q", 5));
        expect(await broker.claim("q", [T], 3, 1_000)).toEqual(["task-0", "task-1", "task-2"]);
        expect(await broker.claim("q", [T], 10, 1_000)).toEqual(["task-3", "task-4"]);
        expect(await broker.claim("q", [T], 10, 1_000)).toEqual([]);
      });

      it("returns nothing for an empty or unknown queue", async () => {
        expect(await broker.claim("never-used", [T], 5, 1_000)).toEqual([]);
        await broker.enqueue(entries("q", 1));
        await broker.claim("q", [T], 1, 1_000);
        expect(await broker.claim("q", [T], 1, 1_000)).toEqual([]);
      });

      it("leases what it claims", async () => {
        await broker.enqueue(entries("q", 4));
        await broker.claim("q", [T], 3, 1_000);
        expect(await broker.counts("q")).toEqual({ pending: 1, delayed: 0, leased: 3 });
      });

      it("handles batches larger than one script call", async () => {
        await broker.schedule(entries("q", 1_500).map((entry, i) => ({ ...entry, runAt: i })));
        const { promoted, nextRunAt } = await broker.promoteDue("q", 10_000, 1_500);
        expect(promoted).toHaveLength(1_500);
        expect(nextRunAt).toBeNull();
        const claimed = await broker.claim("q", [T], 1_500, 1_000);
        expect(claimed).toEqual(entries("q", 1_500).map((entry) => entry.id));
        await broker.renew(claimed.map((id) => ({ id, queue: "q" })), 5_000);
        expect(await broker.reapExpired("q", 6_000, 1_500, 9_000)).toHaveLength(1_500);
        await broker.remove(entries("q", 1_500));
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 0 });
      });

      it("never hands out one id twice to parallel claims", async () => {
        const all = entries("q", 2_000).map((entry) => entry.id);
        await broker.enqueue(entries("q", 2_000));
        const [first, second] = await Promise.all([drain(broker, "q", 7), drain(broker, "q", 11)]);
        const union = [...first, ...second];
        expect(new Set(union).size).toBe(union.length);
        expect([...union].sort()).toEqual([...all].sort());
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 2_000 });
      });
    });

    describe("types", () => {
      it("claims across the served types by priority, FIFO within a priority across them", async () => {
        await broker.enqueue([
          { id: "a1", queue: "q", type: "a", priority: 0 },
          { id: "b1", queue: "q", type: "b", priority: 0 },
          { id: "a2", queue: "q", type: "a", priority: 5 },
          { id: "c1", queue: "q", type: "c", priority: 0 },
        ]);
        await broker.enqueue([
          { id: "b2", queue: "q", type: "b", priority: 5 },
          { id: "a3", queue: "q", type: "a", priority: 0 },
          { id: "c2", queue: "q", type: "c", priority: 9 },
        ]);
        expect(await drain(broker, "q", 2, 1_000, ["a", "b"])).toEqual(["a2", "b2", "a1", "b1", "a3"]);
        expect(await drain(broker, "q", 2, 1_000, ["c"])).toEqual(["c2", "c1"]);
      });

      it("neither takes nor is blocked by an unserved type of higher priority", async () => {
        await broker.enqueue(entries("q", 3, 50, "foreign", "unserved"));
        await broker.enqueue(entries("q", 4, 0, "mine", "served"));
        expect(await broker.claim("q", ["served"], 2, 1_000)).toEqual(["mine-0", "mine-1"]);
        expect(await broker.claim("q", ["served", "never-queued"], 10, 1_000)).toEqual(["mine-2", "mine-3"]);
        expect(await broker.claim("q", ["served"], 10, 1_000)).toEqual([]);
        expect(await broker.counts("q")).toEqual({ pending: 3, delayed: 0, leased: 4 });
        expect(await broker.claim("q", [], 10, 1_000)).toEqual([]);
        expect(await drain(broker, "q", 10, 1_000, ["unserved"])).toEqual(["foreign-0", "foreign-1", "foreign-2"]);
      });

      it("takes only what `count` allows from the merged types, leaving the rest in order", async () => {
        await broker.enqueue([...entries("q", 30, 1, "a", "a"), ...entries("q", 30, 1, "b", "b")]);
        const first = await broker.claim("q", ["a", "b"], 25, 1_000);
        expect(first).toEqual([...entries("q", 25, 1, "a", "a")].map((entry) => entry.id));
        expect(await drain(broker, "q", 25, 1_000, ["b", "a"])).toEqual([
          ...entries("q", 30, 1, "a", "a").slice(25).map((entry) => entry.id),
          ...entries("q", 30, 1, "b", "b").map((entry) => entry.id),
        ]);
      });

      it("does not take a type's tasks ranked behind what a leading type fills the claim with", async () => {
        await broker.enqueue([
          ...entries("q", 30, 5, "lead", "lead"),
          { id: "m-0", queue: "q", type: "mixed", priority: 5 },
          { id: "m-1", queue: "q", type: "mixed", priority: 0 },
          ...entries("q", 5, 0, "b", "behind"),
        ]);
        const types = ["behind", "lead", "mixed"];
        expect(await broker.claim("q", types, 25, 1_000)).toEqual(entries("q", 25, 5, "lead").map((entry) => entry.id));
        expect(await broker.claim("q", types, 10, 1_000)).toEqual([
          ...entries("q", 30, 5, "lead").slice(25).map((entry) => entry.id),
          "m-0",
          "m-1",
          "b-0",
          "b-1",
          "b-2",
        ]);
        expect(await broker.claim("q", types, 10, 1_000)).toEqual(["b-3", "b-4"]);
      });

      it("claims random subsets of types in the order of a model", async () => {
        let state = 12345;
        const next = (n: number): number => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return (state >>> 16) % n;
        };
        const types = ["t0", "t1", "t2", "t3", "t4"];
        const queued = Array.from({ length: 600 }, (_, i) => ({
          id: `r${i}`,
          queue: "q",
          type: types[next(types.length)] ?? T,
          priority: next(4) - 1,
          arrival: i,
        }));
        for (let start = 0; start < queued.length; start += 150) {
          await broker.enqueue(queued.slice(start, start + 150).map(({ id, queue, type, priority }) => ({ id, queue, type, priority })));
        }
        let left = [...queued];
        while (left.length > 0) {
          const served = types.filter(() => next(2) === 0);
          const count = 1 + next(30);
          const expected = left
            .filter((entry) => served.includes(entry.type))
            .sort((x, y) => y.priority - x.priority || x.arrival - y.arrival)
            .slice(0, count)
            .map((entry) => entry.id);
          expect(await broker.claim("q", served, count, 1_000)).toEqual(expected);
          left = left.filter((entry) => !expected.includes(entry.id));
        }
      });

      it("counts runnable tasks over every type", async () => {
        await broker.enqueue([...entries("q", 2, 0, "a", "a"), ...entries("q", 3, 0, "b", "b")]);
        await broker.schedule([{ id: "later", queue: "q", type: "c", priority: 0, runAt: 50 }]);
        await broker.claim("q", ["b"], 1, 1_000);
        expect(await broker.counts("q")).toEqual({ pending: 4, delayed: 1, leased: 1 });
      });

      it("promotes delayed tasks into their own type, with their priority", async () => {
        await broker.schedule([
          { id: "a-late", queue: "q", type: "a", priority: 0, runAt: 20 },
          { id: "b-high", queue: "q", type: "b", priority: 7, runAt: 10 },
          { id: "a-high", queue: "q", type: "a", priority: 7, runAt: 30 },
        ]);
        await broker.enqueue([{ id: "a-now", queue: "q", type: "a", priority: 0 }]);
        expect((await broker.promoteDue("q", 100, 10)).promoted).toEqual(["b-high", "a-late", "a-high"]);
        expect(await drain(broker, "q", 10, 1_000, ["a"])).toEqual(["a-high", "a-now", "a-late"]);
        expect(await drain(broker, "q", 10, 1_000, ["b"])).toEqual(["b-high"]);
      });

      it("requeues a task into its type, at once or for later", async () => {
        await broker.enqueue([
          { id: "x", queue: "q", type: "a", priority: 1 },
          { id: "y", queue: "q", type: "b", priority: 1 },
        ]);
        expect(await broker.claim("q", ["a", "b"], 2, 1_000)).toEqual(["x", "y"]);
        const now = Date.now();
        await broker.requeue([
          { id: "x", queue: "q", type: "a", priority: 1 },
          { id: "y", queue: "q", type: "b", priority: 1, runAt: now + HOUR },
        ]);
        expect(await broker.claim("q", ["b"], 10, 1_000)).toEqual([]);
        expect(await broker.claim("q", ["a"], 10, 1_000)).toEqual(["x"]);
        await broker.promoteDue("q", now + HOUR, 10);
        expect(await broker.claim("q", ["b"], 10, 1_000)).toEqual(["y"]);
      });

      it("removes delayed members of several types and priorities", async () => {
        await broker.schedule([
          { id: "d1", queue: "q", type: "a", priority: -4, runAt: 50 },
          { id: "d2", queue: "q", type: "b", priority: 9, runAt: 60 },
          { id: "d3", queue: "q", type: "b", priority: 0, runAt: 70 },
        ]);
        await broker.remove([
          { id: "d1", queue: "q", type: "a", priority: -4 },
          { id: "d2", queue: "q", type: "b", priority: 9 },
        ]);
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 1, leased: 0 });
        expect(await broker.promoteDue("q", 1_000, 10)).toEqual({ promoted: ["d3"], nextRunAt: null });
      });

      it("refuses a type name outside TYPE_NAME", async () => {
        await expect(broker.enqueue([{ id: "a", queue: "q", type: "bad|type", priority: 0 }])).rejects.toThrow(RangeError);
        await expect(broker.claim("q", ["bad}type"], 1, 1_000)).rejects.toThrow(RangeError);
      });
    });

    describe("indexMissing", () => {
      it("adds only the tasks in none of the sets, and counts them", async () => {
        await broker.enqueue([
          { id: "queued", queue: "q", type: "a", priority: 0 },
          { id: "leased", queue: "q", type: "a", priority: 5 },
          { id: "behind", queue: "q", type: "a", priority: 0 },
        ]);
        expect(await broker.claim("q", ["a"], 1, 1_000)).toEqual(["leased"]);
        await broker.schedule([{ id: "delayed", queue: "q", type: "b", priority: 0, runAt: Date.now() + HOUR }]);

        const added = await broker.indexMissing([
          { id: "queued", queue: "q", type: "a", priority: 9 },
          { id: "leased", queue: "q", type: "a", priority: 5 },
          { id: "delayed", queue: "q", type: "b", priority: 0 },
          { id: "lost", queue: "q", type: "a", priority: 0 },
          { id: "lost-later", queue: "q", type: "b", priority: 0, runAt: Date.now() + HOUR },
          { id: "elsewhere", queue: "other", type: "a", priority: 0, runAt: Date.now() - HOUR },
        ]);
        expect(added).toBe(3);
        expect(await broker.counts("q")).toEqual({ pending: 3, delayed: 2, leased: 1 });
        // The queued task kept its place (its priority was not raised to 9); the lost one queued last.
        expect(await drain(broker, "q", 10, 1_000, ["a"])).toEqual(["queued", "behind", "lost"]);
        // The lease was not disturbed: it still expires at its own deadline.
        expect(await broker.reapExpired("q", 500, 10, 2_000)).toEqual([]);
        expect(await drain(broker, "other", 10, 1_000, ["a"])).toEqual(["elsewhere"]);
        expect(await broker.queues()).toEqual(expect.arrayContaining(["q", "other"]));
      });

      it("adds nothing the second time, and wakes dispatchers only for runnable additions", async () => {
        const wakes = new EventLog<string>();
        const stop = await broker.onWake(wakes.push);
        const lost = [
          { id: "l1", queue: "woken", type: "a", priority: 0 },
          { id: "l2", queue: "woken", type: "a", priority: 0 },
        ];
        expect(await broker.indexMissing(lost)).toBe(2);
        await wakes.next((queue) => queue === "woken");
        expect(await broker.indexMissing(lost)).toBe(0);
        expect(await broker.indexMissing([{ id: "l3", queue: "quiet", type: "a", priority: 0, runAt: Date.now() + HOUR }])).toBe(1);
        expect(await broker.indexMissing([])).toBe(0);
        // Events arrive in order: once "barrier" is seen, any other wake would have been too.
        await broker.enqueue([{ id: "x", queue: "barrier", type: T, priority: 0 }]);
        await wakes.next((queue) => queue === "barrier");
        expect(wakes.values).toEqual(["woken", "barrier"]);
        await stop();
      });
    });

    describe("delayed tasks", () => {
      it("promotes due tasks in run-time order and reports the next run time", async () => {
        await broker.schedule([
          { id: "late", queue: "q", type: T, priority: 0, runAt: 3_000 },
          { id: "early", queue: "q", type: T, priority: 0, runAt: 1_000 },
          { id: "middle", queue: "q", type: T, priority: 0, runAt: 2_000 },
        ]);
        expect(await broker.promoteDue("q", 999, 10)).toEqual({ promoted: [], nextRunAt: 1_000 });
        expect(await broker.promoteDue("q", 2_000, 10)).toEqual({ promoted: ["early", "middle"], nextRunAt: 3_000 });
        expect(await broker.counts("q")).toEqual({ pending: 2, delayed: 1, leased: 0 });
        expect(await broker.promoteDue("q", 5_000, 10)).toEqual({ promoted: ["late"], nextRunAt: null });
        expect(await broker.promoteDue("q", 5_000, 10)).toEqual({ promoted: [], nextRunAt: null });
      });

      it("promotes at most `limit`", async () => {
        await broker.schedule([1, 2, 3, 4].map((n) => ({ id: `t${n}`, queue: "q", type: T, priority: 0, runAt: n })));
        expect(await broker.promoteDue("q", 100, 2)).toEqual({ promoted: ["t1", "t2"], nextRunAt: 3 });
        expect(await broker.promoteDue("q", 100, 2)).toEqual({ promoted: ["t3", "t4"], nextRunAt: null });
      });

      it("answers an empty queue with nothing", async () => {
        expect(await broker.promoteDue("never-used", 1_000, 10)).toEqual({ promoted: [], nextRunAt: null });
      });

      it("restores each task's priority on promotion, behind what is pending", async () => {
        await broker.enqueue([{ id: "pending-high", queue: "q", type: T, priority: 7 }]);
        await broker.schedule([
          { id: "low", queue: "q", type: T, priority: PRIORITY_MIN, runAt: 10 },
          { id: "high", queue: "q", type: T, priority: 7, runAt: 20 },
          { id: "top", queue: "q", type: T, priority: PRIORITY_MAX, runAt: 30 },
          { id: "mid", queue: "q", type: T, priority: 0, runAt: 40 },
        ]);
        await broker.promoteDue("q", 100, 10);
        expect(await drain(broker, "q")).toEqual(["top", "pending-high", "high", "mid", "low"]);
      });

      it("counts delayed tasks and lists their queue", async () => {
        await broker.schedule([{ id: "a", queue: "later", type: T, priority: 0, runAt: 10 }]);
        expect(await broker.counts("later")).toEqual({ pending: 0, delayed: 1, leased: 0 });
        expect(await broker.queues()).toContain("later");
      });
    });

    describe("requeue", () => {
      it("makes tasks runnable at once without runAt or when due, and delays them otherwise", async () => {
        await broker.enqueue(entries("q", 3));
        await broker.claim("q", [T], 3, 1_000);
        const now = Date.now();
        await broker.requeue([
          { id: "task-0", queue: "q", type: T, priority: 0 },
          { id: "task-1", queue: "q", type: T, priority: 0, runAt: now - HOUR },
          { id: "task-2", queue: "q", type: T, priority: 0, runAt: now + HOUR },
        ]);
        expect(await broker.counts("q")).toEqual({ pending: 2, delayed: 1, leased: 0 });
        expect(await drain(broker, "q")).toEqual(["task-0", "task-1"]);
        expect(await broker.promoteDue("q", now, 10)).toEqual({ promoted: [], nextRunAt: now + HOUR });
        expect(await broker.promoteDue("q", now + HOUR, 10)).toEqual({ promoted: ["task-2"], nextRunAt: null });
      });

      it("keeps the task's priority", async () => {
        await broker.enqueue([{ id: "important", queue: "q", type: T, priority: 9 }]);
        await broker.claim("q", [T], 1, 1_000);
        await broker.enqueue([
          { id: "low", queue: "q", type: T, priority: 1 },
          { id: "higher", queue: "q", type: T, priority: 9 },
        ]);
        await broker.requeue([{ id: "important", queue: "q", type: T, priority: 9 }]);
        expect(await drain(broker, "q")).toEqual(["higher", "important", "low"]);
      });

      it("keeps the priority of a task requeued for later", async () => {
        await broker.enqueue([{ id: "retry", queue: "q", type: T, priority: PRIORITY_MAX }]);
        await broker.claim("q", [T], 1, 1_000);
        const runAt = Date.now() + HOUR;
        await broker.requeue([{ id: "retry", queue: "q", type: T, priority: PRIORITY_MAX, runAt }]);
        await broker.enqueue([{ id: "other", queue: "q", type: T, priority: PRIORITY_MAX - 1 }]);
        await broker.promoteDue("q", runAt, 10);
        expect(await drain(broker, "q")).toEqual(["retry", "other"]);
      });
    });

    describe("remove", () => {
      it("removes tasks from pending, delayed and leases", async () => {
        await broker.enqueue([
          { id: "leased", queue: "q", type: T, priority: 2 },
          { id: "pending", queue: "q", type: T, priority: 2 },
          { id: "stays", queue: "q", type: T, priority: 0 },
        ]);
        expect(await broker.claim("q", [T], 1, 1_000)).toEqual(["leased"]);
        await broker.schedule([{ id: "delayed", queue: "q", type: T, priority: -4, runAt: 50 }]);
        expect(await broker.counts("q")).toEqual({ pending: 2, delayed: 1, leased: 1 });

        await broker.remove([
          { id: "pending", queue: "q", type: T, priority: 2 },
          { id: "delayed", queue: "q", type: T, priority: -4 },
          { id: "leased", queue: "q", type: T, priority: 2 },
        ]);
        expect(await broker.counts("q")).toEqual({ pending: 1, delayed: 0, leased: 0 });
        expect(await drain(broker, "q")).toEqual(["stays"]);
      });

      it("makes removed tasks unclaimable, unpromotable and unreapable", async () => {
        await broker.enqueue([
          { id: "p", queue: "q", type: T, priority: 0 },
          { id: "l", queue: "q", type: T, priority: 0 },
        ]);
        expect(await broker.claim("q", [T], 1, 100)).toEqual(["p"]);
        await broker.schedule([{ id: "d", queue: "q", type: T, priority: 3, runAt: 10 }]);
        await broker.remove([
          { id: "p", queue: "q", type: T, priority: 0 },
          { id: "l", queue: "q", type: T, priority: 0 },
          { id: "d", queue: "q", type: T, priority: 3 },
        ]);
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 0 });
        expect(await broker.claim("q", [T], 10, 1_000)).toEqual([]);
        expect(await broker.promoteDue("q", 1_000, 10)).toEqual({ promoted: [], nextRunAt: null });
        expect(await broker.reapExpired("q", 1_000, 10, 2_000)).toEqual([]);
      });

      it("ignores tasks it does not know", async () => {
        await broker.remove([{ id: "ghost", queue: "q", type: T, priority: 0 }]);
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 0 });
      });
    });

    describe("leases", () => {
      it("renew extends existing leases", async () => {
        await broker.enqueue(entries("q", 2));
        await broker.claim("q", [T], 2, 1_000);
        await broker.renew([{ id: "task-0", queue: "q" }], 5_000);
        expect(await broker.reapExpired("q", 2_000, 10, 9_000)).toEqual(["task-1"]);
        expect(await broker.reapExpired("q", 6_000, 10, 9_000)).toEqual(["task-0"]);
      });

      it("renew does not resurrect released leases", async () => {
        await broker.enqueue(entries("q", 2));
        await broker.claim("q", [T], 2, 1_000);
        await broker.release([{ id: "task-0", queue: "q" }]);
        await broker.renew(
          [
            { id: "task-0", queue: "q" },
            { id: "task-1", queue: "q" },
            { id: "never-claimed", queue: "q" },
          ],
          5_000,
        );
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 1 });
        expect(await broker.reapExpired("q", 10_000, 10, 20_000)).toEqual(["task-1"]);
      });

      it("release drops leases across queues in one call", async () => {
        await broker.enqueue([...entries("a", 2, 0, "a"), ...entries("b", 2, 0, "b")]);
        await broker.claim("a", [T], 2, 1_000);
        await broker.claim("b", [T], 2, 1_000);
        await broker.release([
          { id: "a-0", queue: "a" },
          { id: "b-1", queue: "b" },
        ]);
        expect((await broker.counts("a")).leased).toBe(1);
        expect((await broker.counts("b")).leased).toBe(1);
      });

      it("reapExpired takes only leases whose deadline passed, and pushes their deadline", async () => {
        await broker.enqueue(entries("q", 3));
        await broker.claim("q", [T], 1, 1_000);
        await broker.claim("q", [T], 1, 2_000);
        await broker.claim("q", [T], 1, 3_000);

        expect(await broker.reapExpired("q", 1_000, 10, 10_000)).toEqual([]); // deadline == now: not passed
        expect(await broker.reapExpired("q", 2_500, 10, 10_000)).toEqual(["task-0", "task-1"]);
        // Pushed to 10_000: another reaper at the same time finds nothing.
        expect(await broker.reapExpired("q", 2_500, 10, 10_000)).toEqual([]);
        expect(await broker.reapExpired("q", 5_000, 10, 20_000)).toEqual(["task-2"]);
        expect(await broker.reapExpired("q", 10_001, 10, 30_000)).toEqual(["task-0", "task-1"]);
        expect((await broker.counts("q")).leased).toBe(3);
      });

      it("lease creates missing leases and moves existing ones, and lists their queue", async () => {
        await broker.enqueue(entries("q", 1));
        await broker.claim("q", [T], 1, 1_000);
        await broker.lease(
          [
            { id: "task-0", queue: "q" },
            { id: "restored", queue: "q" },
            { id: "elsewhere", queue: "other" },
          ],
          5_000,
        );
        expect(await broker.counts("q")).toEqual({ pending: 0, delayed: 0, leased: 2 });
        expect(await broker.queues()).toEqual(expect.arrayContaining(["q", "other"]));
        expect(await broker.reapExpired("q", 2_000, 10, 9_000)).toEqual([]);
        expect((await broker.reapExpired("q", 6_000, 10, 9_000)).sort()).toEqual(["restored", "task-0"]);
        // A restored lease is renewed like any other.
        await broker.renew([{ id: "elsewhere", queue: "other" }], 7_000);
        expect(await broker.reapExpired("other", 6_000, 10, 9_000)).toEqual([]);
        expect(await broker.reapExpired("other", 8_000, 10, 9_000)).toEqual(["elsewhere"]);
      });

      it("reapExpired takes at most `limit`, earliest deadline first", async () => {
        await broker.enqueue(entries("q", 3));
        await broker.claim("q", [T], 1, 300);
        await broker.claim("q", [T], 1, 100);
        await broker.claim("q", [T], 1, 200);
        expect(await broker.reapExpired("q", 1_000, 2, 5_000)).toEqual(["task-1", "task-2"]);
        expect(await broker.reapExpired("q", 1_000, 2, 5_000)).toEqual(["task-0"]);
      });
    });

    describe("index epoch", () => {
      it("has no marker at first; one caller wins the rebuild, then marks it ready", async () => {
        expect(await broker.readEpoch()).toBeNull();
        expect(await broker.beginRebuild("first", 60_000)).toBe(true);
        expect(await broker.beginRebuild("second", 60_000)).toBe(false);
        expect(await broker.readEpoch()).toEqual({ state: "rebuilding", token: "first" });
        expect(await broker.extendRebuild("second", 60_000)).toBe(false);
        expect(await broker.extendRebuild("first", 60_000)).toBe(true);
        expect(await broker.endRebuild("second", "ready")).toBe(false);
        expect(await broker.endRebuild("first", "ready")).toBe(true);
        expect(await broker.readEpoch()).toEqual({ state: "ready", token: "first" });
        // Ready is final: nobody can claim, extend or end it.
        expect(await broker.beginRebuild("third", 60_000)).toBe(false);
        expect(await broker.extendRebuild("first", 60_000)).toBe(false);
        expect(await broker.endRebuild("first", "abandoned")).toBe(false);
        expect(await broker.readEpoch()).toEqual({ state: "ready", token: "first" });
      });

      it("lets another caller try once a rebuild is abandoned", async () => {
        expect(await broker.beginRebuild("first", 60_000)).toBe(true);
        expect(await broker.endRebuild("first", "abandoned")).toBe(true);
        expect(await broker.readEpoch()).toBeNull();
        expect(await broker.beginRebuild("second", 60_000)).toBe(true);
      });

      it("lets another caller try once a rebuild's claim expired", async () => {
        expect(await broker.beginRebuild("first", 1)).toBe(true);
        // The claim lasts 1 ms; a new claim succeeds once it is gone.
        const won = await (async () => {
          for (let i = 0; i < 200; i++) {
            if (await broker.beginRebuild("second", 60_000)) return true;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          return false;
        })();
        expect(won).toBe(true);
        expect(await broker.endRebuild("first", "ready")).toBe(false);
        expect(await broker.readEpoch()).toEqual({ state: "rebuilding", token: "second" });
      });

      it("refuses an empty token", async () => {
        await expect(broker.beginRebuild("", 1_000)).rejects.toThrow(RangeError);
      });
    });

    describe("wake-ups", () => {
      it("wakes on enqueue with the queue name", async () => {
        const wakes = new EventLog<string>();
        const stop = await broker.onWake(wakes.push);
        await broker.enqueue(entries("q", 2));
        expect(await wakes.next()).toBe("q");
        await stop();
      });

      it("wakes on promotion and on a due requeue, not on a requeue for later", async () => {
        const wakes = new EventLog<string>();
        const stop = await broker.onWake(wakes.push);

        await broker.schedule([{ id: "d", queue: "promoted", type: T, priority: 0, runAt: 10 }]);
        await broker.promoteDue("promoted", 100, 10);
        await wakes.next((queue) => queue === "promoted");

        await broker.enqueue(entries("setup", 2));
        await wakes.next((queue) => queue === "setup");
        await broker.claim("setup", [T], 2, 1_000);
        await broker.requeue([{ id: "task-0", queue: "setup", type: T, priority: 0, runAt: Date.now() + HOUR }]);
        // Events arrive in order: once "barrier" is seen, a wake for "setup" would have been too.
        await broker.enqueue([{ id: "x", queue: "barrier", type: T, priority: 0 }]);
        await wakes.next((queue) => queue === "barrier");
        expect(wakes.values.filter((queue) => queue === "setup")).toHaveLength(1);

        await broker.requeue([{ id: "task-1", queue: "setup", type: T, priority: 0 }]);
        await wakes.next((queue) => queue === "setup" && wakes.values.filter((q) => q === "setup").length === 2);
        await stop();
      });

      it("stops waking a listener after unsubscribe, and keeps waking the others", async () => {
        const stopped = new EventLog<string>();
        const kept = new EventLog<string>();
        const stop = await broker.onWake(stopped.push);
        const stopKept = await broker.onWake(kept.push);
        await stop();
        await stop(); // safe twice
        await broker.enqueue(entries("q", 1));
        await kept.next((queue) => queue === "q");
        expect(stopped.values).toEqual([]);
        await stopKept();
      });
    });

    describe("task events", () => {
      it("delivers payloads to every subscriber of the task only", async () => {
        const first = new EventLog<Uint8Array>();
        const second = new EventLog<Uint8Array>();
        const other = new EventLog<Uint8Array>();
        const stops = await Promise.all([
          broker.subscribeTaskEvents("t1", first.push),
          broker.subscribeTaskEvents("t1", second.push),
          broker.subscribeTaskEvents("t2", other.push),
        ]);
        await broker.publishTaskEvents([{ taskId: "t1", payload: new Uint8Array([1, 2, 3]) }]);
        await broker.publishTaskEvents([{ taskId: "t2", payload: new Uint8Array([9]) }]);
        expect(Array.from(await first.next())).toEqual([1, 2, 3]);
        expect(Array.from(await second.next())).toEqual([1, 2, 3]);
        expect(Array.from(await other.next())).toEqual([9]);
        expect(other.values).toHaveLength(1);
        for (const stop of stops) await stop();
      });

      it("delivers a batch of events about several tasks, in order per task", async () => {
        const first = new EventLog<Uint8Array>();
        const second = new EventLog<Uint8Array>();
        const stops = await Promise.all([broker.subscribeTaskEvents("b1", first.push), broker.subscribeTaskEvents("b2", second.push)]);
        await broker.publishTaskEvents([
          { taskId: "b1", payload: new Uint8Array([1]) },
          { taskId: "b2", payload: new Uint8Array([10]) },
          { taskId: "b1", payload: new Uint8Array([2]) },
          { taskId: "b2", payload: new Uint8Array([]) },
        ]);
        await broker.publishTaskEvents([]);
        await first.next((payload) => payload[0] === 2);
        await second.next((payload) => payload.length === 0);
        expect(first.values.map((payload) => Array.from(payload))).toEqual([[1], [2]]);
        expect(second.values.map((payload) => Array.from(payload))).toEqual([[10], []]);
        for (const stop of stops) await stop();
      });

      it("keeps the order of one task's events", async () => {
        const events = new EventLog<Uint8Array>();
        const stop = await broker.subscribeTaskEvents("t", events.push);
        for (let i = 0; i < 20; i++) await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([i]) }]);
        await events.next((payload) => payload[0] === 19);
        expect(events.values.map((payload) => payload[0])).toEqual(Array.from({ length: 20 }, (_, i) => i));
        await stop();
      });

      it("stops delivery after unsubscribe", async () => {
        const stopped = new EventLog<Uint8Array>();
        const kept = new EventLog<Uint8Array>();
        const stop = await broker.subscribeTaskEvents("t", stopped.push);
        const stopKept = await broker.subscribeTaskEvents("t", kept.push);
        const barrier = new EventLog<Uint8Array>();
        const stopBarrier = await broker.subscribeTaskEvents("barrier", barrier.push);

        await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([1]) }]);
        await stopped.next();
        await stop();
        await stop(); // safe twice
        await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([2]) }]);
        await kept.next((payload) => payload[0] === 2);
        expect(stopped.values.map((payload) => payload[0])).toEqual([1]);

        // The last listener leaving ends delivery for the task; "barrier" proves nothing is in flight.
        await stopKept();
        await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([3]) }]);
        await broker.publishTaskEvents([{ taskId: "barrier", payload: new Uint8Array([0]) }]);
        await barrier.next();
        expect(kept.values.map((payload) => payload[0])).toEqual([1, 2]);
        await stopBarrier();
      });

      it("subscribes again after the last listener left", async () => {
        const stopFirst = await broker.subscribeTaskEvents("t", () => undefined);
        await stopFirst();
        const events = new EventLog<Uint8Array>();
        const stop = await broker.subscribeTaskEvents("t", events.push);
        await broker.publishTaskEvents([{ taskId: "t", payload: new Uint8Array([7]) }]);
        expect(Array.from(await events.next())).toEqual([7]);
        await stop();
      });
    });

    describe("control plane", () => {
      it("delivers a message for one server to that server's listeners only", async () => {
        const a = new EventLog<Uint8Array>();
        const b = new EventLog<Uint8Array>();
        const stops = [await broker.onControl("server-a", a.push), await broker.onControl("server-b", b.push)];
        await broker.publishControl({ server: "server-a" }, new Uint8Array([1, 2]));
        await broker.publishControl({ server: "server-b" }, new Uint8Array([3]));
        await broker.publishControl({ server: "nobody" }, new Uint8Array([4]));
        expect(Array.from(await a.next())).toEqual([1, 2]);
        expect(Array.from(await b.next())).toEqual([3]);
        // In order: once the fleet message is seen, any other would have been too.
        await broker.publishControl("fleet", new Uint8Array([9]));
        await a.next((payload) => payload[0] === 9);
        await b.next((payload) => payload[0] === 9);
        expect(a.values.map((payload) => Array.from(payload))).toEqual([[1, 2], [9]]);
        expect(b.values.map((payload) => Array.from(payload))).toEqual([[3], [9]]);
        for (const stop of stops) await stop();
      });

      it("stops delivery of both channels after unsubscribe", async () => {
        const stopped = new EventLog<Uint8Array>();
        const kept = new EventLog<Uint8Array>();
        const stop = await broker.onControl("s", stopped.push);
        const stopKept = await broker.onControl("s", kept.push);
        await stop();
        await stop(); // safe twice
        await broker.publishControl({ server: "s" }, new Uint8Array([1]));
        await broker.publishControl("fleet", new Uint8Array([2]));
        await kept.next((payload) => payload[0] === 2);
        expect(stopped.values).toEqual([]);
        await stopKept();
      });
    });

    describe("duty leases", () => {
      it("is held by one holder at a time, extended by its holder, released only by it", async () => {
        expect(await broker.holdDutyLease("retention", "server-a", 60_000)).toBe(true);
        expect(await broker.holdDutyLease("retention", "server-b", 60_000)).toBe(false);
        expect(await broker.holdDutyLease("retention", "server-a", 60_000)).toBe(true);
        expect(await broker.holdDutyLease("reconciler", "server-b", 60_000)).toBe(true);
        await broker.releaseDutyLease("retention", "server-b");
        expect(await broker.holdDutyLease("retention", "server-b", 60_000)).toBe(false);
        await broker.releaseDutyLease("retention", "server-a");
        expect(await broker.holdDutyLease("retention", "server-b", 60_000)).toBe(true);
        expect(await broker.holdDutyLease("retention", "server-a", 60_000)).toBe(false);
      });

      it("lets another holder take it once it expired, and then stays the new holder's", async () => {
        expect(await broker.holdDutyLease("schedules", "server-a", 1)).toBe(true);
        // The lease lasts 1 ms; another holder gets it once it is gone.
        const won = await (async () => {
          for (let i = 0; i < 200; i++) {
            if (await broker.holdDutyLease("schedules", "server-b", 60_000)) return true;
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
          return false;
        })();
        expect(won).toBe(true);
        await broker.releaseDutyLease("schedules", "server-a");
        expect(await broker.holdDutyLease("schedules", "server-a", 60_000)).toBe(false);
      });
    });

    describe("lifecycle", () => {
      it("answers ping", async () => {
        await expect(broker.ping()).resolves.toBeUndefined();
      });

      it("closes twice without error", async () => {
        await broker.close();
        await broker.close();
      });
    });
  });
}
