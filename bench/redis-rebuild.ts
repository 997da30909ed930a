/**
 * `npm run bench:rebuild [-- --tasks 100000 --rounds 3]`: how long a server takes to rebuild the
 * dispatch index from PostgreSQL after Redis was lost, for N queued tasks (default 100,000).
 *
 * The tasks are inserted once into a schema of their own; each round then deletes the
 * deployment's keys (what a FLUSHALL does to it) and times the production path, an
 * `IndexGuard` check: no marker → claim the rebuild → rebuild (`index-rebuild.ts`) → mark it
 * ready. Prints the median (min–max) and checks that every task is back in its queue.
 *
 * Uses the PostgreSQL and Redis of the benchmarks (`TASKWIRE_BENCH_DATABASE_URL`,
 * `TASKWIRE_BENCH_REDIS_URL`), under a fresh schema and key prefix, both removed at the end.
 */
import { randomBytes } from "node:crypto";
import { cpus, totalmem } from "node:os";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { Redis } from "ioredis";
import { uuidv7 } from "uuidv7";
import { RedisBroker } from "../src/broker/redis/redis-broker.js";
import { silentLogger } from "../src/core/logger.js";
import type { NewTask } from "../src/core/task-types.js";
import { IndexGuard } from "../src/server/engine/index-guard.js";
import { createPostgresStore } from "../src/store/postgres-store.js";

const { values } = parseArgs({ options: { tasks: { type: "string", default: "100000" }, rounds: { type: "string", default: "3" } } });
const TASKS = Number(values.tasks);
const ROUNDS = Number(values.rounds);
const QUEUES = ["default", "high_priority", "low_priority", "reports"];
const REDIS_URL = process.env.TASKWIRE_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";
const DATABASE_URL = process.env.TASKWIRE_BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const INSERT_BATCH = 5_000;

/** A queued task as a submission would store it: a small Struct input, spread over four queues. */
function newTask(i: number, now: Date): NewTask {
  return {
    id: uuidv7(),
    type: "bench.noop",
    queue: QUEUES[i % QUEUES.length] as string,
    priority: i % 7,
    state: "QUEUED",
    inputTypeUrl: "type.googleapis.com/google.protobuf.Struct",
    input: new Uint8Array(24),
    maxAttempts: 3,
    timeoutMs: null,
    backoff: { initialMs: 1000, maxMs: 300_000, multiplier: 2, jitter: 0.2 },
    idempotencyKey: null,
    createdAt: now,
    scheduledAt: now,
  };
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== "0");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  const id = randomBytes(4).toString("hex");
  const schema = `bench_rebuild_${id}`;
  const prefix = `bench-rebuild-${id}`;
  const logger = silentLogger();
  const store = createPostgresStore({ url: DATABASE_URL, schema, logger });
  const admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const redis = new Redis(REDIS_URL);
  let broker: RedisBroker | undefined;
  try {
    await store.migrate();
    const now = new Date();
    const insertStarted = performance.now();
    for (let start = 0; start < TASKS; start += INSERT_BATCH) {
      const size = Math.min(INSERT_BATCH, TASKS - start);
      await store.insertTasks(Array.from({ length: size }, (_, i) => newTask(start + i, now)));
    }
    console.log(`inserted ${TASKS.toLocaleString("en")} queued tasks in ${((performance.now() - insertStarted) / 1000).toFixed(1)} s`);
    await admin.unsafe(`analyze "${schema}".tasks`);

    broker = await RedisBroker.connect({ url: REDIS_URL, prefix, logger });
    const times: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      await deleteKeys(redis, prefix);
      const guard = new IndexGuard(broker, store, logger, { leaseTimeoutMs: 30_000 });
      const started = performance.now();
      const report = await guard.check();
      const ms = performance.now() - started;
      const counts = await Promise.all(QUEUES.map((queue) => broker!.counts(queue)));
      const pending = counts.reduce((sum, c) => sum + c.pending, 0);
      if (report === undefined || pending !== TASKS) throw new Error(`round ${round}: ${pending} of ${TASKS} tasks indexed`);
      times.push(ms);
      console.log(`round ${round}: rebuilt ${pending.toLocaleString("en")} queued tasks in ${ms.toFixed(0)} ms`);
    }
    const rate = Math.round(TASKS / (median(times) / 1000));
    console.log(
      `\nRedis index rebuild, ${TASKS.toLocaleString("en")} queued tasks in ${QUEUES.length} queues: ` +
        `median ${median(times).toFixed(0)} ms (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}; ` +
        `${rate.toLocaleString("en")} tasks/s), ${ROUNDS} rounds. Machine: ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, ` +
        `${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
    );
  } finally {
    await broker?.close();
    await deleteKeys(redis, prefix).catch(() => undefined);
    await redis.quit();
    await store.close();
    await admin.unsafe(`drop schema if exists "${schema}" cascade`).catch(() => undefined);
    await admin.end();
  }
}

await main();
