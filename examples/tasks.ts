/**
 * Example task types, served by `taskwire worker start --tasks examples/tasks.ts`.
 *
 * Three take free-form JSON (`google.protobuf.Struct`); `factorial` is typed with protobuf
 * wrapper types, so its input is a `UInt32Value` and its output a `StringValue` (the result has
 * thousands of digits, too big for any number type).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { StringValueSchema, StructSchema, UInt32ValueSchema } from "@bufbuild/protobuf/wkt";
import { defineTask, NonRetryableError } from "../src/worker/index.js";

/**
 * Sleeps `seconds` (default 10) in `steps` steps (default one per second), reporting progress
 * after each. Stops as soon as it is cancelled, times out or its worker shuts down.
 *
 * `taskwire submit examples.long_running --input '{"seconds": 20}' --follow`
 */
export const longRunning = defineTask(
  {
    name: "examples.long_running",
    input: StructSchema,
    output: StructSchema,
    timeout: "10m",
    description: "Sleeps for {seconds}, reporting progress at every step",
  },
  async (input, ctx) => {
    const seconds = numberField(input, "seconds", 10);
    const steps = Math.max(1, Math.round(numberField(input, "steps", Math.ceil(seconds))));
    for (let step = 1; step <= steps; step++) {
      // Rejects when ctx.signal aborts: cancel, timeout or shutdown.
      await sleep((seconds * 1000) / steps, undefined, { signal: ctx.signal });
      ctx.progress({ percent: (step / steps) * 100, message: `step ${step} of ${steps}`, current: step, total: steps });
    }
    return { seconds, steps };
  },
);

/**
 * n! for n up to 20 000, as a decimal string.
 *
 * `taskwire submit examples.factorial --input 20 --wait` (the CLI encodes the JSON `20` as a
 * `UInt32Value`), or typed from TypeScript: `client.submit(factorial, { value: 20 })`.
 */
export const factorial = defineTask(
  {
    name: "examples.factorial",
    input: UInt32ValueSchema,
    output: StringValueSchema,
    description: "n! as a decimal string",
  },
  async ({ value: n }, ctx) => {
    if (n > 20_000) throw new NonRetryableError(`n must be at most 20000, got ${n}`);
    let result = 1n;
    for (let i = 2; i <= n; i++) {
      result *= BigInt(i);
      if (i % 2_000 === 0) {
        ctx.signal.throwIfAborted();
        ctx.progress({ percent: (i / n) * 100, current: i, total: n });
        await sleep(0); // lets the worker send progress and receive a cancel
      }
    }
    return { value: result.toString() };
  },
);

/**
 * Processes `items` (any JSON values), or the numbers 1 to `count`, in chunks of `chunkSize`
 * (default 10), reporting progress as current/total, and returns a summary.
 *
 * `taskwire submit examples.process_data --input '{"count": 500}' --follow`
 */
export const processData = defineTask(
  {
    name: "examples.process_data",
    input: StructSchema,
    output: StructSchema,
    description: "Processes {items} or {count} numbers in chunks and summarizes them",
  },
  async (input, ctx) => {
    const items = itemsOf(input);
    const chunkSize = Math.max(1, Math.round(numberField(input, "chunkSize", 10)));
    let sum = 0;
    let numbers = 0;
    let chunks = 0;
    for (let start = 0; start < items.length; start += chunkSize) {
      const chunk = items.slice(start, start + chunkSize);
      await sleep(50, undefined, { signal: ctx.signal }); // stands for real work on the chunk
      for (const item of chunk) {
        if (typeof item === "number") {
          sum += item;
          numbers++;
        }
      }
      chunks++;
      const done = start + chunk.length;
      ctx.progress({ current: done, total: items.length, message: `chunk ${chunks}` });
    }
    ctx.log.info(`processed ${items.length} items in ${chunks} chunks`);
    return { processed: items.length, chunks, numbers, sum, mean: numbers === 0 ? 0 : sum / numbers };
  },
);

/**
 * Fails with a retryable error on its first `failTimes` attempts (default 2), then succeeds:
 * shows retries with back-off, and every attempt's error kept on the task.
 *
 * `taskwire submit examples.flaky --input '{"failTimes": 3}' --wait`
 */
export const flaky = defineTask(
  {
    name: "examples.flaky",
    input: StructSchema,
    output: StructSchema,
    retries: 5,
    backoff: { initial: "200ms", max: "2s" },
    description: "Fails {failTimes} times, then succeeds",
  },
  async (input, ctx) => {
    const failTimes = numberField(input, "failTimes", 2);
    if (ctx.attempt <= failTimes) {
      throw new Error(`transient failure on attempt ${ctx.attempt} (succeeds after ${failTimes})`);
    }
    return { attempts: ctx.attempt };
  },
);

/** A number field of a JSON input; a value of the wrong type fails the task without retries. */
function numberField(input: JsonObject, name: string, fallback: number): number {
  const value = input[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new NonRetryableError(`"${name}" must be a non-negative number, got ${JSON.stringify(value)}`);
  }
  return value;
}

function itemsOf(input: JsonObject): JsonValue[] {
  const items = input["items"];
  if (Array.isArray(items)) return items;
  if (items !== undefined) throw new NonRetryableError(`"items" must be an array`);
  const count = numberField(input, "count", 100);
  return Array.from({ length: Math.floor(count) }, (_, index) => index + 1);
}
