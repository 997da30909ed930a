/**
 * Redis helpers of the bench: connection options, key sizes and clean-up. Keys are always
 * found with SCAN on a pattern, never KEYS, so a shared Redis is not blocked.
 */
import type { ConnectionOptions } from "bullmq";
import type { Redis } from "ioredis";

/**
 * BullMQ's connection settings for `url`: the URL itself (as Taskwire's server gets it), with
 * `maxRetriesPerRequest: null`, which BullMQ requires so that blocking commands are retried.
 */
export function bullmqConnection(url: string): ConnectionOptions {
  return { url, maxRetriesPerRequest: null };
}

/** Every key matching `pattern` (glob, as SCAN MATCH). */
export async function* scanKeys(redis: Redis, pattern: string): AsyncGenerator<string[]> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 5000);
    if (keys.length > 0) yield keys;
    cursor = next;
  } while (cursor !== "0");
}

/** Bytes and number of the keys matching `pattern`: the sum of `MEMORY USAGE <key> SAMPLES 0` (exact, nested values included). */
export async function keyBytes(redis: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let bytes = 0;
  let keys = 0;
  for await (const batch of scanKeys(redis, pattern)) {
    const pipeline = redis.pipeline();
    for (const key of batch) pipeline.memory("USAGE", key, "SAMPLES", 0);
    for (const [error, value] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      bytes += Number(value ?? 0);
    }
    keys += batch.length;
  }
  return { bytes, keys };
}

/** Deletes the keys matching `pattern` (UNLINK: freed in the background). */
export async function deleteKeys(redis: Redis, pattern: string): Promise<void> {
  for await (const batch of scanKeys(redis, pattern)) await redis.unlink(...batch);
}

/** A field of `INFO <section>`, e.g. `redis_version` or `used_memory`. */
export async function redisInfo(redis: Redis, section: string, field: string): Promise<string | undefined> {
  const text = await redis.info(section);
  return new RegExp(`^${field}:(.*)$`, "m").exec(text)?.[1]?.trim();
}
