/**
 * The real Redis of the test machine, and a key prefix of its own for each test, so that
 * test files run in parallel on one Redis without seeing each other's keys.
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

/** Where the tests find Redis. @default "redis://127.0.0.1:6379" (override: `TASKWIRE_TEST_REDIS_URL`) */
export const TEST_REDIS_URL = process.env.TASKWIRE_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** A key prefix no other test uses, e.g. `twtest-3f9c1a2b4d5e`. */
export function uniquePrefix(): string {
  return `twtest-${randomBytes(6).toString("hex")}`;
}

/** A plain connection for a test to look at keys; close it with `quit()`. */
export function openTestRedis(): Redis {
  return new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Escapes glob characters, so that SCAN MATCH takes `text` literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, "\\$&");
}

/** Every key under `prefix` (SCAN, so Redis is never blocked). */
export async function keysWithPrefix(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", `${globLiteral(prefix)}:*`, "COUNT", 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return keys;
}

/** Deletes every key under `prefix`. @returns how many were deleted. */
export async function deleteKeysWithPrefix(prefix: string): Promise<number> {
  const redis = openTestRedis();
  try {
    const keys = await keysWithPrefix(redis, prefix);
    let deleted = 0;
    for (let start = 0; start < keys.length; start += 500) {
      deleted += await redis.del(...keys.slice(start, start + 500));
    }
    return deleted;
  } finally {
    await redis.quit();
  }
}

/** A fresh prefix on the test Redis, and the clean-up that deletes its keys. */
export interface RedisTestSpace {
  readonly url: string;
  readonly prefix: string;
  cleanup(): Promise<void>;
}

/** Gives a test its own prefix on {@link TEST_REDIS_URL}; call `cleanup()` in `afterEach`. */
export function redisTestSpace(): RedisTestSpace {
  const prefix = uniquePrefix();
  return {
    url: TEST_REDIS_URL,
    prefix,
    cleanup: async () => {
      await deleteKeysWithPrefix(prefix);
    },
  };
}
