/**
 * Submission options and their translation into a `SubmitRequest`.
 */
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { SubmitRequestSchema, type SubmitRequest } from "../../gen/taskwire/v1/task_service_pb.js";
import { toDuration, toTimestamp } from "./durations.js";

/**
 * Per-submission settings. What is left out takes the task type's defaults, as registered by the
 * workers that serve it.
 */
export interface SubmitOptions {
  /** Queue to run on. @default the type's queue, else by priority: > 5 `high_priority`, < 0 `low_priority`, otherwise `default` */
  queue?: string;
  /** Higher runs first; equal priorities run in submission order. @default the type's priority */
  priority?: number;
  /** Run after this delay: milliseconds or a string like "10s". Exclusive with `runAt`. @default at once */
  delay?: number | string;
  /** Run at this time. Exclusive with `delay`. @default at once */
  runAt?: Date;
  /** Per-attempt timeout: milliseconds or a string like "30s". @default the type's timeout */
  timeout?: number | string;
  /** Maximum number of attempts, counting the first. @default the type's */
  maxAttempts?: number;
  /** Resubmitting with the same key returns the existing task instead of creating one. */
  idempotencyKey?: string;
  /** Labels to filter by in `listTasks` (at most 32; keys of letters, digits and `_ . - / :`, values of at most 128 characters). */
  labels?: Record<string, string>;
}

/**
 * Builds the request for one submission.
 * @throws RangeError on a malformed duration or date, or when both `delay` and `runAt` are given.
 */
export function buildSubmitRequest(type: string, input: Any, options: SubmitOptions = {}): SubmitRequest {
  if (options.delay !== undefined && options.runAt !== undefined) {
    throw new RangeError("delay and runAt are exclusive: give one of them");
  }
  return create(SubmitRequestSchema, {
    type,
    input,
    queue: options.queue ?? "",
    priority: options.priority,
    schedule:
      options.runAt !== undefined
        ? { case: "runAt", value: toTimestamp(options.runAt, "runAt") }
        : options.delay !== undefined
          ? { case: "delay", value: toDuration(options.delay, "delay") }
          : { case: undefined },
    timeout: options.timeout === undefined ? undefined : toDuration(options.timeout, "timeout"),
    maxAttempts: options.maxAttempts,
    idempotencyKey: options.idempotencyKey ?? "",
    labels: options.labels ?? {},
  });
}
