/**
 * The benchmark's Taskwire tasks. They do nothing but count themselves (for the completion
 * detector, see `workers/finish-counter.ts`), so the figures measure the queue alone. Their
 * BullMQ counterparts are the processors in `workers/bullmq-worker.ts`.
 */
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { defineTask } from "../src/worker/index.js";
import { wallClockMs } from "./clock.js";
import { finished } from "./workers/finish-counter.js";

/** A no-op: empty input, empty output, no retries. */
export const noop = defineTask({ name: "bench.noop", input: StructSchema, output: StructSchema, retries: 0 }, async () => {
  finished.add();
  return {};
});

/** Returns the time it started (`wallClockMs`), for the pickup-latency scenario. */
export const stamp = defineTask({ name: "bench.stamp", input: StructSchema, output: StructSchema, retries: 0 }, async () => {
  const startedAt = wallClockMs();
  finished.add();
  return { startedAt };
});
