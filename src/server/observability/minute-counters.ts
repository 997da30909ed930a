/**
 * Per-minute counters of the fleet's activity, for `AdminService.GetOverview`: tasks finished
 * by outcome, attempts started and a histogram of their queue wait, per minute. Each server
 * counts what its own store writes did (fed by `observed-store.ts`, like the Prometheus
 * counters) and adds its counts to one row per minute in PostgreSQL now and then
 * (`duties/minute-stats-flush.ts`), so reading the last hour is reading 60 small rows, however
 * many tasks are stored.
 */
import type { TaskRecord } from "../../core/task-types.js";

/**
 * Upper bounds (ms) of the queue-wait histogram's buckets; a last bucket holds everything
 * longer. Written once here, the store keeps one count per bucket in this order.
 */
export const WAIT_BUCKETS_MS: readonly number[] = [
  5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000,
];

/** The counts of one minute. */
export interface MinuteCounts {
  /** The minute's start, epoch ms. */
  minute: number;
  succeeded: number;
  failed: number;
  cancelled: number;
  started: number;
  /** One count per {@link WAIT_BUCKETS_MS} bucket, plus the last (longer) one. */
  waitBuckets: number[];
}

const MINUTE_MS = 60_000;

/** A minute with nothing counted. */
export function emptyMinute(minute: number): MinuteCounts {
  return { minute, succeeded: 0, failed: 0, cancelled: 0, started: 0, waitBuckets: new Array<number>(WAIT_BUCKETS_MS.length + 1).fill(0) };
}

/** Adds `from` into `into` (same minute). */
export function addMinute(into: MinuteCounts, from: MinuteCounts): void {
  into.succeeded += from.succeeded;
  into.failed += from.failed;
  into.cancelled += from.cancelled;
  into.started += from.started;
  from.waitBuckets.forEach((count, i) => (into.waitBuckets[i] = (into.waitBuckets[i] ?? 0) + count));
}

/**
 * The `quantile` (0 to 1) of a histogram, as its bucket's upper bound in ms; the last bucket
 * (longer than the largest bound) reads as the largest bound. Undefined for an empty histogram.
 */
export function waitQuantileMs(buckets: readonly number[], quantile: number): number | undefined {
  const total = buckets.reduce((sum, n) => sum + n, 0);
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(quantile * total));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i] ?? 0;
    if (seen >= rank) return WAIT_BUCKETS_MS[Math.min(i, WAIT_BUCKETS_MS.length - 1)];
  }
  return WAIT_BUCKETS_MS.at(-1);
}

/** This server's counts not yet written to the store. */
export class MinuteCounters {
  readonly #pending = new Map<number, MinuteCounts>();

  #at(ms: number): MinuteCounts {
    const minute = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
    let counts = this.#pending.get(minute);
    if (counts === undefined) {
      counts = emptyMinute(minute);
      this.#pending.set(minute, counts);
    }
    return counts;
  }

  /** An attempt of `task` started at `startedMs`; its wait counts from when it became runnable. */
  started(task: TaskRecord, startedMs: number): void {
    const counts = this.#at(startedMs);
    counts.started++;
    const waitMs = Math.max(0, startedMs - task.scheduledAt.getTime());
    let bucket = WAIT_BUCKETS_MS.findIndex((bound) => waitMs <= bound);
    if (bucket === -1) bucket = WAIT_BUCKETS_MS.length;
    counts.waitBuckets[bucket] = (counts.waitBuckets[bucket] ?? 0) + 1;
  }

  /** `task` reached a terminal state (counted in the minute of `atMs`, default now). */
  finished(task: TaskRecord, atMs = Date.now()): void {
    const counts = this.#at(atMs);
    if (task.state === "SUCCEEDED") counts.succeeded++;
    else if (task.state === "FAILED") counts.failed++;
    else if (task.state === "CANCELLED") counts.cancelled++;
  }

  /** Takes the pending counts (the counters start again from zero). */
  take(): MinuteCounts[] {
    const taken = [...this.#pending.values()];
    this.#pending.clear();
    return taken;
  }

  /** Puts back counts that could not be written, to be written with the next ones. */
  restore(counts: readonly MinuteCounts[]): void {
    for (const minute of counts) addMinute(this.#at(minute.minute), minute);
  }
}
