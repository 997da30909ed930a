/**
 * The in-process broker of the embedded default: the dispatch index of one server, in memory,
 * rebuilt from the store at start. Same semantics as `RedisBroker` (both pass
 * `test/broker/contract.ts`): per queue and type a runnable set ordered by priority then
 * arrival, per queue a delayed set by run time and leases by deadline (`./memory-queue.ts`);
 * wake-ups, task events and control messages delivered asynchronously and in order
 * (`./local-pub-sub.ts`); duty leases in a map with expiry times.
 *
 * Costs: `enqueue`, `schedule`, `renew` O(log n) per entry, `claim` O(k (t + log n)) for k tasks
 * over t types; roughly 130 bytes per queued task with its id (see `./compact-heap.ts`).
 */
import { UnavailableError } from "../../core/errors.js";
import { silentLogger } from "../../core/logger.js";
import type { Logger } from "../../core/logger.js";
import type {
  Broker,
  ControlTarget,
  DelayedEntry,
  IndexEpoch,
  LeaseRef,
  QueueCounts,
  QueueEntry,
  TaskEventPayload,
  Unsubscribe,
} from "../broker.js";
import { checkDuration, checkEntry, checkEpochToken, checkName, checkQueue, checkTime, checkType } from "../entry-checks.js";
import { limitSignature, NO_LIMITS, type LimitTable } from "../../core/dispatch-limits.js";
import type { Counted, LimitGate, QueueLimits } from "./limit-gate.js";
import { LocalPubSub } from "./local-pub-sub.js";
import { MemoryQueue } from "./memory-queue.js";
import type { RequeueEntry } from "./memory-queue.js";

/** Options of {@link MemoryBroker}. */
export interface MemoryBrokerOptions {
  /**
   * Receives errors thrown by wake and task-event listeners (logged under
   * `{ component: "memory-broker" }`). @default a silent logger
   */
  logger?: Logger;
}

/**
 * Channel of wake-ups; task channels are `task:<id>` and control channels `control:server:<id>`
 * and {@link FLEET_CONTROL_CHANNEL}, which cannot clash with it or with each other.
 */
const WAKE_CHANNEL = "wake";
/** Channel of the control messages for every server. */
const FLEET_CONTROL_CHANNEL = "control:fleet";

/**
 * {@link Broker} in this process's memory; see the file header. Each call is atomic as a
 * whole (multi-queue batches included). Calls after {@link MemoryBroker.close} reject with
 * `UnavailableError` (`SHUTTING_DOWN`).
 */
export class MemoryBroker implements Broker {
  readonly #queues = new Map<string, MemoryQueue>();
  readonly #bus: LocalPubSub<string | Uint8Array>;
  /** The index epoch marker, and when it expires (Infinity: never). */
  #epoch: { value: IndexEpoch; expiresAt: number } | undefined;
  /** Duty leases by name: holder, and when the lease expires. */
  readonly #dutyLeases = new Map<string, { holder: string; expiresAt: number }>();
  #closing: Promise<void> | undefined;
  /** The limits in force (`setLimits`). */
  #limits: LimitTable = NO_LIMITS;
  #limitSignature = limitSignature(NO_LIMITS);
  /** Per queue, the timer of the wake-up at the time a rate lets a task start again. */
  readonly #rateWakes = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();

  constructor(options: MemoryBrokerOptions = {}) {
    const logger = (options.logger ?? silentLogger()).child({ component: "memory-broker" });
    this.#bus = new LocalPubSub((error, channel) => logger.error({ err: error, channel }, "broker listener threw"));
  }

  async enqueue(entries: readonly QueueEntry[]): Promise<void> {
    this.#checkOpen();
    for (const entry of entries) checkEntry(entry);
    for (const [queue, batch] of byQueue(entries)) {
      if (this.#queue(queue).enqueue(batch) > 0) this.#wake(queue);
    }
  }

  async schedule(entries: readonly DelayedEntry[]): Promise<void> {
    this.#checkOpen();
    for (const entry of entries) {
      checkEntry(entry);
      checkTime("runAt", entry.runAt);
    }
    for (const [queue, batch] of byQueue(entries)) this.#queue(queue).schedule(batch);
  }

  async promoteDue(queue: string, now: number, limit: number): Promise<{ promoted: string[]; nextRunAt: number | null }> {
    this.#checkOpen();
    checkQueue(queue);
    checkTime("now", now);
    const state = this.#queues.get(queue);
    if (state === undefined) return { promoted: [], nextRunAt: null };
    const result = state.promoteDue(now, Math.max(0, Math.floor(limit)));
    if (result.promoted.length > 0) this.#wake(queue);
    return result;
  }

  /** A table equal to the one in force changes nothing; a new one frees every parked key and wakes every queue. */
  setLimits(limits: LimitTable): void {
    const signature = limitSignature(limits);
    if (signature === this.#limitSignature) return;
    this.#limits = limits;
    this.#limitSignature = signature;
    for (const queue of this.#queues.values()) queue.limitsChanged();
    for (const name of this.#queues.keys()) this.#wake(name);
  }

  /**
   * Claims within the limits in force; when a rate limit cut the claim short, the queue is woken
   * (on this server) at the time the rate lets the next task start, so no dispatcher polls for it.
   */
  async claim(queue: string, types: readonly string[], count: number, leaseUntil: number): Promise<string[]> {
    this.#checkOpen();
    checkQueue(queue);
    for (const type of types) checkType(type);
    checkTime("leaseUntil", leaseUntil);
    if (!(count >= 1)) return [];
    const state = this.#queues.get(queue);
    if (state === undefined) return [];
    const { ids, retryAt } = state.claim(types, Math.floor(count), leaseUntil, this.#queueLimits(queue), Date.now());
    if (retryAt !== null) this.#wakeAt(queue, retryAt);
    return ids;
  }

  /** The running counts of a queue's limits (`./limit-gate.ts`), for ExplainTask and tests; undefined: the queue never held a task. */
  limitGate(queue: string): LimitGate | undefined {
    return this.#queues.get(queue)?.gate;
  }

  async renew(leases: readonly LeaseRef[], leaseUntil: number): Promise<void> {
    this.#checkOpen();
    for (const lease of leases) checkQueue(lease.queue);
    checkTime("leaseUntil", leaseUntil);
    for (const [queue, batch] of byQueue(leases)) this.#queues.get(queue)?.renew(idsOf(batch), leaseUntil);
  }

  async lease(leases: readonly LeaseRef[], leaseUntil: number): Promise<void> {
    this.#checkOpen();
    for (const lease of leases) checkQueue(lease.queue);
    checkTime("leaseUntil", leaseUntil);
    for (const [queue, batch] of byQueue(leases)) this.#queue(queue).lease(batch, leaseUntil);
  }

  async release(leases: readonly LeaseRef[]): Promise<void> {
    this.#checkOpen();
    for (const lease of leases) checkQueue(lease.queue);
    for (const [queue, batch] of byQueue(leases)) {
      const freed = this.#queues.get(queue)?.release(idsOf(batch)) ?? [];
      this.#wakeIfFreed(queue, freed);
    }
  }

  async requeue(entries: readonly RequeueEntry[]): Promise<void> {
    this.#checkOpen();
    for (const entry of entries) {
      checkEntry(entry);
      if (entry.runAt !== undefined) checkTime("runAt", entry.runAt);
    }
    const now = Date.now();
    for (const [queue, batch] of byQueue(entries)) {
      const freed: Counted[] = [];
      if (this.#queue(queue).requeue(batch, now, freed) > 0) this.#wake(queue);
      else this.#wakeIfFreed(queue, freed);
    }
  }

  async remove(entries: readonly QueueEntry[]): Promise<void> {
    this.#checkOpen();
    for (const entry of entries) checkEntry(entry);
    for (const [queue, batch] of byQueue(entries)) {
      const freed: Counted[] = [];
      this.#queues.get(queue)?.remove(batch, freed);
      this.#wakeIfFreed(queue, freed);
    }
  }

  async indexMissing(entries: readonly RequeueEntry[]): Promise<number> {
    this.#checkOpen();
    for (const entry of entries) {
      checkEntry(entry);
      if (entry.runAt !== undefined) checkTime("runAt", entry.runAt);
    }
    const now = Date.now();
    let added = 0;
    for (const [queue, batch] of byQueue(entries)) {
      const result = this.#queue(queue).indexMissing(batch, now);
      added += result.added;
      if (result.runnable > 0) this.#wake(queue);
    }
    return added;
  }

  async reapExpired(queue: string, now: number, limit: number, reclaimUntil: number): Promise<string[]> {
    this.#checkOpen();
    checkQueue(queue);
    checkTime("now", now);
    checkTime("reclaimUntil", reclaimUntil);
    if (!(limit >= 1)) return [];
    return this.#queues.get(queue)?.reapExpired(now, Math.floor(limit), reclaimUntil) ?? [];
  }

  /** The marker; an in-process index is lost only with its process, so a new broker has none. */
  async readEpoch(): Promise<IndexEpoch | null> {
    this.#checkOpen();
    return this.#liveEpoch()?.value ?? null;
  }

  async beginRebuild(token: string, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkEpochToken(token);
    if (this.#liveEpoch() !== undefined) return false;
    this.#epoch = { value: { state: "rebuilding", token }, expiresAt: Date.now() + Math.max(1, ttlMs) };
    return true;
  }

  async extendRebuild(token: string, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkEpochToken(token);
    const epoch = this.#ownRebuild(token);
    if (epoch === undefined) return false;
    epoch.expiresAt = Date.now() + Math.max(1, ttlMs);
    return true;
  }

  async endRebuild(token: string, outcome: "ready" | "abandoned"): Promise<boolean> {
    this.#checkOpen();
    checkEpochToken(token);
    if (this.#ownRebuild(token) === undefined) return false;
    this.#epoch = outcome === "ready" ? { value: { state: "ready", token }, expiresAt: Infinity } : undefined;
    return true;
  }

  /** Every queue that held a task since the broker was created, sorted. */
  async queues(): Promise<string[]> {
    this.#checkOpen();
    return [...this.#queues.keys()].sort();
  }

  async counts(queue: string): Promise<QueueCounts> {
    this.#checkOpen();
    checkQueue(queue);
    return this.#queues.get(queue)?.counts() ?? { pending: 0, delayed: 0, leased: 0 };
  }

  /** Calls `listener` (asynchronously, never inside the call that made tasks runnable) with the queue name. */
  async onWake(listener: (queue: string) => void): Promise<Unsubscribe> {
    return this.#listen(WAKE_CHANNEL, (message) => {
      if (typeof message === "string") listener(message);
    });
  }

  /** Subscribers receive a copy of each payload taken now, so the caller may reuse its buffer. */
  async publishTaskEvents(events: readonly TaskEventPayload[]): Promise<void> {
    this.#checkOpen();
    for (const { taskId, payload } of events) this.#bus.publish(taskChannel(taskId), payload.slice());
  }

  async subscribeTaskEvents(taskId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    return this.#listen(taskChannel(taskId), (message) => {
      if (typeof message !== "string") listener(message);
    });
  }

  /** Listeners receive a copy of the payload taken now, asynchronously, in publication order. */
  async publishControl(target: ControlTarget, payload: Uint8Array): Promise<void> {
    this.#checkOpen();
    if (target !== "fleet") checkName("server id", target.server);
    this.#bus.publish(target === "fleet" ? FLEET_CONTROL_CHANNEL : serverControlChannel(target.server), payload.slice());
  }

  async onControl(serverId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    checkName("server id", serverId);
    const deliver = (message: string | Uint8Array): void => {
      if (typeof message !== "string") listener(message);
    };
    this.#checkOpen();
    const stops = [this.#bus.subscribe(serverControlChannel(serverId), deliver), this.#bus.subscribe(FLEET_CONTROL_CHANNEL, deliver)];
    return async () => {
      for (const stop of stops) stop();
    };
  }

  async holdDutyLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    this.#checkOpen();
    checkName("duty name", name);
    checkName("duty holder", holder);
    checkDuration("ttlMs", ttlMs);
    const now = Date.now();
    const lease = this.#dutyLeases.get(name);
    if (lease !== undefined && lease.expiresAt > now && lease.holder !== holder) return false;
    this.#dutyLeases.set(name, { holder, expiresAt: now + Math.ceil(ttlMs) });
    return true;
  }

  async releaseDutyLease(name: string, holder: string): Promise<void> {
    this.#checkOpen();
    checkName("duty name", name);
    checkName("duty holder", holder);
    const lease = this.#dutyLeases.get(name);
    if (lease !== undefined && lease.holder === holder && lease.expiresAt > Date.now()) this.#dutyLeases.delete(name);
  }

  /** @throws UnavailableError (`SHUTTING_DOWN`) once closed. */
  async ping(): Promise<void> {
    this.#checkOpen();
  }

  /** Drops the index and every subscription; later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    for (const wake of this.#rateWakes.values()) clearTimeout(wake.timer);
    this.#rateWakes.clear();
    this.#bus.clear();
    this.#dutyLeases.clear();
    for (const queue of this.#queues.values()) queue.clear();
    this.#queues.clear();
  }

  /** The marker unless it expired (an expired one is dropped). */
  #liveEpoch(): { value: IndexEpoch; expiresAt: number } | undefined {
    if (this.#epoch !== undefined && this.#epoch.expiresAt <= Date.now()) this.#epoch = undefined;
    return this.#epoch;
  }

  /** The marker while it is `rebuilding` with `token`. */
  #ownRebuild(token: string): { value: IndexEpoch; expiresAt: number } | undefined {
    const epoch = this.#liveEpoch();
    return epoch?.value.state === "rebuilding" && epoch.value.token === token ? epoch : undefined;
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new UnavailableError("SHUTTING_DOWN", "the in-process broker is closed");
  }

  /** The queue's index, created (and listed by `queues()` from then on) when missing. */
  #queue(name: string): MemoryQueue {
    let queue = this.#queues.get(name);
    if (queue === undefined) {
      queue = new MemoryQueue();
      this.#queues.set(name, queue);
    }
    return queue;
  }

  #wake(queue: string): void {
    this.#bus.publish(WAKE_CHANNEL, queue);
  }

  #queueLimits(queue: string): QueueLimits {
    return { queue: this.#limits.queues.get(queue), types: this.#limits.types };
  }

  /** Slots freed under a concurrency limit go to the next eligible task at once: wake the queue. */
  #wakeIfFreed(queue: string, freed: readonly Counted[]): void {
    if (freed.length === 0) return;
    const own = this.#limits.queues.get(queue);
    const limited =
      own?.concurrency !== undefined ||
      own?.perKey !== undefined ||
      freed.some((counted) => {
        const type = this.#limits.types.get(counted.type);
        return type?.concurrency !== undefined || (counted.key !== undefined && type?.perKey !== undefined);
      });
    if (limited) this.#wake(queue);
  }

  /** Wakes `queue` at `at` (the earliest asked for wins); the timer does not keep the process alive. */
  #wakeAt(queue: string, at: number): void {
    const pending = this.#rateWakes.get(queue);
    if (pending !== undefined && pending.at <= at) return;
    if (pending !== undefined) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#rateWakes.delete(queue);
      if (this.#closing === undefined) this.#wake(queue);
    }, Math.max(0, at - Date.now()));
    timer.unref?.();
    this.#rateWakes.set(queue, { at, timer });
  }

  async #listen(channel: string, listener: (message: string | Uint8Array) => void): Promise<Unsubscribe> {
    this.#checkOpen();
    const stop = this.#bus.subscribe(channel, listener);
    return async () => stop();
  }
}

function taskChannel(taskId: string): string {
  return `task:${taskId}`;
}

function serverControlChannel(serverId: string): string {
  return `control:server:${serverId}`;
}

/** Groups entries by queue, keeping their order within each. */
function byQueue<T extends { readonly queue: string }>(entries: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const entry of entries) {
    const group = groups.get(entry.queue);
    if (group === undefined) groups.set(entry.queue, [entry]);
    else group.push(entry);
  }
  return groups;
}

function idsOf(entries: readonly { readonly id: string }[]): string[] {
  return entries.map((entry) => entry.id);
}
