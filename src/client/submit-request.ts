/**
 * Submission options and their translation into a `SubmitRequest`.
 */
import { create } from "@bufbuild/protobuf";
import type { Any } from "@bufbuild/protobuf/wkt";
import { SubmitRequestSchema, type SubmitRequest } from "../../gen/taskwire/v1/task_service_pb.js";
import { toDuration, toTimestamp } from "./durations.js";
import { ParentFailurePolicy } from "../../gen/taskwire/v1/task_pb.js";

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
  /**
   * Tasks this one depends on (ids or handles): it stays WAITING until they finish, and runs once
   * all SUCCEEDED. At most the server's `--max-parents` (32 by default). @default none
   */
  dependsOn?: readonly (string | { readonly id: string })[];
  /**
   * In `submitBatch` only: indexes of EARLIER items of the same batch this one depends on (a
   * whole graph in one atomic call; `client.chain`, `group`, `chord`, `flow` and `graph` build
   * them for you). @default none
   */
  dependsOnItems?: readonly number[];
  /**
   * What the task does when a parent FAILED or was CANCELLED: `"cancel"` it (and, by their own
   * policies, its waiting descendants), or `"run"` it anyway. @default "cancel"
   */
  onParentFailure?: "cancel" | "run";
  /**
   * The task's concurrency key (a tenant, a repository, a user; at most 128 printable
   * characters): per-key limits of its type or queue count the running tasks of one key, and
   * a queue serves its keys round-robin within a priority (README "Limits and fairness"). @default none
   */
  concurrencyKey?: string;
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
    dependsOn: (options.dependsOn ?? []).map((parent) => (typeof parent === "string" ? parent : parent.id)),
    dependsOnItems: [...(options.dependsOnItems ?? [])],
    onParentFailure: parentFailurePolicy(options.onParentFailure),
    concurrencyKey: options.concurrencyKey ?? "",
  });
}

function parentFailurePolicy(policy: SubmitOptions["onParentFailure"]): ParentFailurePolicy {
  switch (policy) {
    case undefined:
      return ParentFailurePolicy.UNSPECIFIED;
    case "cancel":
      return ParentFailurePolicy.CANCEL;
    case "run":
      return ParentFailurePolicy.RUN;
    default:
      throw new RangeError(`onParentFailure must be "cancel" or "run", got ${String(policy)}`);
  }
}
