/**
 * BullMQ under test: the same Redis as Taskwire under its own key prefix, `Queue` in the bench
 * process (as a producer service would hold it), the `Worker` in a worker process, and
 * `QueueEvents` for waiting on results. Jobs are added with BullMQ's defaults: completed jobs
 * and their return values are kept (`removeOnComplete` unset), one attempt.
 *
 * BullMQ's acknowledgement means "in Redis"; it is as durable as the Redis persistence settings
 * (the bench does not change them), where Taskwire's means "committed in PostgreSQL".
 */
import { randomBytes } from "node:crypto";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { wallClockMs } from "../clock.js";
import type { WorkerHost } from "../processes.js";
import { deleteKeys, keyBytes, bullmqConnection } from "./redis-tools.js";
import type { QueueSystem, RoundTrip } from "./system.js";

export class BullmqSystem implements QueueSystem {
  readonly name = "bullmq";
  readonly #prefix = `bmbench-${randomBytes(4).toString("hex")}`;
  readonly #redis: Redis;
  readonly #queues = new Map<string, Queue>();
  readonly #events = new Map<string, QueueEvents>();
  #closed = false;

  constructor(
    private readonly redisUrl: string,
    private readonly host: WorkerHost,
  ) {
    this.#redis = new Redis(redisUrl);
  }

  #queue(name: string): Queue {
    let queue = this.#queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: bullmqConnection(this.redisUrl), prefix: this.#prefix });
      this.#queues.set(name, queue);
    }
    return queue;
  }

  async #queueEvents(name: string): Promise<QueueEvents> {
    let events = this.#events.get(name);
    if (!events) {
      events = new QueueEvents(name, { connection: bullmqConnection(this.redisUrl), prefix: this.#prefix });
      this.#events.set(name, events);
      await events.waitUntilReady();
    }
    return events;
  }

  /** `addBulk`; the Taskwire priorities 1 (least urgent) … 10 become BullMQ's 10 … 1 (1 is BullMQ's most urgent). */
  async submitBatch(queue: string, count: number, priorities?: readonly number[]): Promise<void> {
    const jobs = Array.from({ length: count }, (_, i) => {
      const priority = priorities?.[i];
      return { name: "noop", data: {}, opts: priority === undefined ? undefined : { priority: 11 - priority } };
    });
    await this.#queue(queue).addBulk(jobs);
  }

  startWorker(queue: string, concurrency: number, task: "noop" | "stamp" = "noop"): Promise<void> {
    return this.host.startWorker({ url: this.redisUrl, prefix: this.#prefix }, queue, concurrency, task);
  }

  workerFinished(count: number, timeoutMs: number): Promise<boolean> {
    return this.host.finished(count, timeoutMs);
  }

  stopWorker(): Promise<void> {
    return this.host.stopWorker();
  }

  completedCount(queue: string): Promise<number> {
    return this.#redis.zcard(`${this.#prefix}:${queue}:completed`);
  }

  /** The completed set is scored by `finishedOn`. */
  async finishTimes(queue: string, first: number, last: number): Promise<[number, number]> {
    const key = `${this.#prefix}:${queue}:completed`;
    const [from, to] = await Promise.all([
      this.#redis.zrange(key, first, first, "WITHSCORES"),
      this.#redis.zrange(key, last, last, "WITHSCORES"),
    ]);
    if (from[1] === undefined || to[1] === undefined) throw new Error(`${queue}: no completion ranked ${first} or ${last}`);
    return [Number(from[1]), Number(to[1])];
  }

  async roundTrip(queue: string): Promise<RoundTrip> {
    const events = await this.#queueEvents(queue);
    const submitted = wallClockMs();
    const job = await this.#queue(queue).add("stamp", {});
    const result: unknown = await job.waitUntilFinished(events, 10_000);
    const received = wallClockMs();
    const startedAt = (result as { startedAt?: unknown } | null)?.startedAt;
    if (typeof startedAt !== "number") throw new Error("the stamp job returned no start time");
    return { toStart: startedAt - submitted, toResult: received - submitted };
  }

  async redisBytes(queue: string): Promise<number> {
    return (await keyBytes(this.#redis, `${this.#prefix}:${queue}:*`)).bytes;
  }

  async rss(): Promise<Awaited<ReturnType<QueueSystem["rss"]>>> {
    return { worker: await this.host.rss() };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.host.stopWorker();
    } finally {
      await Promise.all([...this.#queues.values()].map((q) => q.close()));
      await Promise.all([...this.#events.values()].map((e) => e.close()));
      await deleteKeys(this.#redis, `${this.#prefix}:*`);
      await this.#redis.quit();
    }
  }
}
