/**
 * The running counts and rate windows of one queue's limits in the in-process broker (the
 * counterpart of `lua/includes/limits.lua` in Redis): what a claim checks before it leases a
 * task, and what a lease's end gives back.
 *
 * Counts are kept per queue (`q`), per type (`t`), per type and key (`tk`) and per queue and
 * key (`qk`), from the leases themselves: a claim counts the task it leases, and whatever drops
 * the lease (release, requeue, remove) uncounts it, so the counts are exact whatever the number
 * of servers and workers. Rates are sliding windows: the start times of the last `count` starts,
 * and a start is allowed when fewer than `count` fall within the last interval, so no interval
 * anywhere holds more than `count` starts; when none is allowed, the window says when the next one is.
 */
import type { EffectiveLimits, RateRule } from "../../core/dispatch-limits.js";

/** What a leased task counts under. */
export interface Counted {
  type: string;
  key: string | undefined;
}

/** The limits a claim applies in one queue. */
export interface QueueLimits {
  queue: EffectiveLimits | undefined;
  types: ReadonlyMap<string, EffectiveLimits>;
}

/** Why a candidate cannot start now. */
export type Refusal =
  /** The queue is full or out of tokens: nothing more from it in this claim. */
  | { scope: "queue"; until?: number }
  /** The type is full or out of tokens: none of its tasks. */
  | { scope: "type"; until?: number }
  /** The key is full or out of tokens (for this type, or in the queue): park it. */
  | { scope: "key"; until?: number };

/** A limit that holds a task back now (ExplainTask). */
export interface LimitHold {
  kind: "concurrency" | "rate";
  scope: "queue" | "type" | "key of type" | "key of queue";
  /** Concurrency: running now; rate: the rate's count. */
  running: number;
  limit: number;
  /** Concurrency: ids of tasks holding the slots. */
  holders: string[];
  /** Rate: when the next start is allowed. */
  until?: number;
}

export class LimitGate {
  readonly #running = new Map<string, number>();
  readonly #windows = new Map<string, number[]>();
  /** Leased ids and what they count under. */
  readonly #leased = new Map<string, Counted>();

  /** Tasks of `scope` running now (for ExplainTask and tests): `q`, `t:<type>`, `tk:<type>\0<key>`, `qk:<key>`. */
  running(name: string): number {
    return this.#running.get(name) ?? 0;
  }

  /** The ids counted under `name`, for ExplainTask: which tasks hold the slots. */
  holders(match: (counted: Counted) => boolean): string[] {
    const ids: string[] = [];
    for (const [id, counted] of this.#leased) if (match(counted)) ids.push(id);
    return ids;
  }

  /** Whether `id`'s lease is counted. */
  counts(id: string): boolean {
    return this.#leased.has(id);
  }

  /** Why a task of `type` and `key` cannot start at `now` under `limits`, or undefined when it can. */
  check(limits: QueueLimits, type: string, key: string | undefined, now: number): Refusal | undefined {
    const queue = limits.queue;
    if (queue?.concurrency !== undefined && this.running("q") >= queue.concurrency) return { scope: "queue" };
    if (queue?.rate !== undefined) {
      const until = this.#nextStart("rq", queue.rate, now);
      if (until !== undefined) return { scope: "queue", until };
    }
    const own = limits.types.get(type);
    if (own?.concurrency !== undefined && this.running(`t:${type}`) >= own.concurrency) return { scope: "type" };
    if (own?.rate !== undefined) {
      const until = this.#nextStart(`rt:${type}`, own.rate, now);
      if (until !== undefined) return { scope: "type", until };
    }
    if (key === undefined) return undefined;
    if (own?.perKey !== undefined && this.running(typeKey(type, key)) >= own.perKey) return { scope: "key" };
    if (queue?.perKey !== undefined && this.running(`qk:${key}`) >= queue.perKey) return { scope: "key" };
    if (own?.keyRate !== undefined) {
      const until = this.#nextStart(`r${typeKey(type, key)}`, own.keyRate, now);
      if (until !== undefined) return { scope: "key", until };
    }
    if (queue?.keyRate !== undefined) {
      const until = this.#nextStart(`rqk:${key}`, queue.keyRate, now);
      if (until !== undefined) return { scope: "key", until };
    }
    return undefined;
  }

  /**
   * Every limit that would hold back a task of `type` and `key` at `now` (ExplainTask): full
   * concurrency limits with their holders (at most 20), and rates with the time of their next start.
   */
  explain(limits: QueueLimits, type: string, key: string | undefined, now: number): LimitHold[] {
    const holds: LimitHold[] = [];
    const queue = limits.queue;
    const own = limits.types.get(type);
    const full = (scope: LimitHold["scope"], name: string, limit: number | undefined, match: (counted: Counted) => boolean) => {
      const running = this.running(name);
      if (limit !== undefined && running >= limit) holds.push({ kind: "concurrency", scope, running, limit, holders: this.holders(match).slice(0, 20) });
    };
    const rated = (scope: LimitHold["scope"], name: string, rate: RateRule | undefined) => {
      const until = rate === undefined ? undefined : this.#nextStart(name, rate, now);
      if (rate !== undefined && until !== undefined) holds.push({ kind: "rate", scope, running: rate.count, limit: rate.count, holders: [], until });
    };
    full("queue", "q", queue?.concurrency, () => true);
    rated("queue", "rq", queue?.rate);
    full("type", `t:${type}`, own?.concurrency, (c) => c.type === type);
    rated("type", `rt:${type}`, own?.rate);
    if (key !== undefined) {
      full("key of type", typeKey(type, key), own?.perKey, (c) => c.type === type && c.key === key);
      full("key of queue", `qk:${key}`, queue?.perKey, (c) => c.key === key);
      rated("key of type", `r${typeKey(type, key)}`, own?.keyRate);
      rated("key of queue", `rqk:${key}`, queue?.keyRate);
    }
    return holds;
  }

  /** Counts a lease taken at `now`, and its start in the rate windows that apply. */
  take(limits: QueueLimits, id: string, type: string, key: string | undefined, now: number): void {
    this.count(id, { type, key });
    const queue = limits.queue;
    const own = limits.types.get(type);
    if (queue?.rate !== undefined) this.#record("rq", queue.rate, now);
    if (own?.rate !== undefined) this.#record(`rt:${type}`, own.rate, now);
    if (key !== undefined) {
      if (own?.keyRate !== undefined) this.#record(`r${typeKey(type, key)}`, own.keyRate, now);
      if (queue?.keyRate !== undefined) this.#record(`rqk:${key}`, queue.keyRate, now);
    }
  }

  /** Counts a lease (a claim, or a rebuild restoring one); a lease counted already is left as it is. */
  count(id: string, counted: Counted): void {
    if (this.#leased.has(id)) return;
    this.#leased.set(id, counted);
    for (const name of names(counted)) this.#running.set(name, (this.#running.get(name) ?? 0) + 1);
  }

  /** Uncounts a lease that ended. @returns what it counted under, or undefined when it was not counted. */
  uncount(id: string): Counted | undefined {
    const counted = this.#leased.get(id);
    if (counted === undefined) return undefined;
    this.#leased.delete(id);
    for (const name of names(counted)) {
      const left = (this.#running.get(name) ?? 0) - 1;
      if (left > 0) this.#running.set(name, left);
      else this.#running.delete(name);
    }
    return counted;
  }

  /** Drops everything. */
  clear(): void {
    this.#running.clear();
    this.#windows.clear();
    this.#leased.clear();
  }

  /** When the next start is allowed under `rate`; undefined when one is now. */
  #nextStart(name: string, rate: RateRule, now: number): number | undefined {
    const window = this.#windows.get(name);
    if (window === undefined) return undefined;
    const since = now - rate.intervalMs;
    while (window.length > 0 && (window[0] ?? 0) <= since) window.shift();
    if (window.length === 0) {
      this.#windows.delete(name);
      return undefined;
    }
    if (window.length < rate.count) return undefined;
    // The oldest of the last `count` starts leaves the window one interval after it.
    return (window[window.length - rate.count] ?? now) + rate.intervalMs;
  }

  #record(name: string, rate: RateRule, now: number): void {
    let window = this.#windows.get(name);
    if (window === undefined) {
      window = [];
      this.#windows.set(name, window);
    }
    window.push(now);
    if (window.length > rate.count) window.splice(0, window.length - rate.count);
  }
}

/** The counter of a type and key. */
export function typeKey(type: string, key: string): string {
  return `tk:${type}\u0000${key}`;
}

function names(counted: Counted): string[] {
  const result = ["q", `t:${counted.type}`];
  if (counted.key !== undefined) result.push(typeKey(counted.type, counted.key), `qk:${counted.key}`);
  return result;
}
