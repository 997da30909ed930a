/**
 * The Redis broker: sorted sets per queue and type changed by Lua scripts (`./lua/`), leases by
 * deadline, duty leases as expiring strings, and pub/sub for wake-ups, task events and control
 * messages (`./redis-pubsub.ts`), so several servers share one dispatch index. Key layout:
 * `./keys.ts`; connections: `./connection.ts`.
 */
import { NO_LIMITS, type LimitTable } from "../../core/dispatch-limits.js";
import { Cluster } from "ioredis";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { checkDuration, checkEntry, checkEpochToken, checkName, checkQueue, checkTime, checkType } from "../entry-checks.js";
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
import { ClusterEpochCopies } from "./cluster-epoch.js";
import { closeConnection, DEFAULT_COMMAND_TIMEOUT_MS, errorMessage, openConnection, redactUrl, runRedis } from "./connection.js";
import type { RedisClient } from "./connection.js";
import { createKeys } from "./keys.js";
import type { RedisKeys } from "./keys.js";
import { RedisPubSub } from "./redis-pubsub.js";
import { parseRedisTarget } from "./redis-target.js";
import type { RedisTarget } from "./redis-target.js";
import { defineScripts } from "./scripts.js";
import type { RedisScripts } from "./scripts.js";

/** What {@link RedisBroker.connect} needs. */
export interface RedisBrokerOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS; a Redis Cluster as
   * `redis+cluster://[user:password@]host:port[,host:port…]` (`rediss+cluster://`), see `./redis-target.ts`.
   */
  url: string;
  /**
   * The URL names a node of a Redis Cluster (`ServerConfig.redisCluster`); implied by a
   * `redis+cluster://` URL. @default false
   */
  cluster?: boolean;
  /** First part of every key and channel (see `./keys.ts`); `ServerConfig.redisPrefix` defaults to `"taskwire"`. */
  prefix: string;
  /** Receives connection trouble; the broker logs under `{ component: "redis-broker" }`. */
  logger: Logger;
  /**
   * How long a command may wait for its reply before it fails with `UnavailableError`
   * (ioredis' `commandTimeout`): a Redis that hangs (stopped, swapping, a network that drops
   * packets) keeps the connection open and answers nothing, and no caller may wait for it forever.
   * The command itself is not taken back: it may still run once Redis answers. `ServerConfig.redisTimeoutMs`.
   * @default 5_000 (ms)
   */
  commandTimeoutMs?: number;
}

/**
 * Entries of one queue sent in one script call at most. Larger batches are split, so that no
 * single script blocks Redis for long; atomicity is per script call.
 */
export const MAX_ENTRIES_PER_SCRIPT_CALL = 1000;

/**
 * {@link Broker} on Redis: one command connection (auto-pipelined) and, in {@link RedisPubSub},
 * one subscriber connection, created on the first subscription. On a Redis Cluster both are
 * ioredis `Cluster` clients: every script touches the keys of one queue, which share the
 * queue's hash tag and hence one slot (`./keys.ts`); the index marker has a copy on every
 * master (`./cluster-epoch.ts`).
 *
 * Batches that span several queues become one script call per queue (and per
 * {@link MAX_ENTRIES_PER_SCRIPT_CALL} entries), all sent at once; each call is atomic, the
 * batch as a whole is not. Failures to reach Redis reject with `UnavailableError`
 * (`BROKER_UNAVAILABLE`); calls after {@link RedisBroker.close} with `SHUTTING_DOWN`.
 */
export class RedisBroker implements Broker {
  readonly #redis: RedisClient;
  readonly #url: string;
  /** On a cluster, the per-master copies of the index marker's token. */
  readonly #epochCopies: ClusterEpochCopies | undefined;
  readonly #keys: RedisKeys;
  readonly #scripts: RedisScripts;
  readonly #commandTimeoutMs: number;
  readonly #pubsub: RedisPubSub;
  #closing: Promise<void> | undefined;
  #limits: LimitTable = NO_LIMITS;
  #warnedLimits = false;
  readonly #logger: Logger;

  private constructor(redis: RedisClient, target: RedisTarget, url: string, keys: RedisKeys, scripts: RedisScripts, logger: Logger, commandTimeoutMs: number) {
    this.#redis = redis;
    this.#url = url;
    this.#epochCopies = redis instanceof Cluster ? new ClusterEpochCopies(redis, keys) : undefined;
    this.#keys = keys;
    this.#scripts = scripts;
    this.#commandTimeoutMs = commandTimeoutMs;
    this.#logger = logger;
    this.#pubsub = new RedisPubSub({
      commands: redis,
      target,
      keys,
      scripts,
      logger,
      commandTimeoutMs,
      run: (operation, call) => this.#run(operation, call),
    });
  }

  /**
   * Connects to Redis (or every master of a cluster) and registers the scripts.
   * @throws UnavailableError (`BROKER_UNAVAILABLE`) when Redis cannot be reached.
   * @throws RangeError when the URL is malformed (`ServerConfig` checks it first).
   */
  static async connect(options: RedisBrokerOptions): Promise<RedisBroker> {
    const keys = createKeys(options.prefix);
    const target = parseRedisTarget(options.url, options.cluster ?? false);
    const logger = options.logger.child({ component: "redis-broker" });
    const commandTimeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const redis = openConnection(target, "command", logger, { enableAutoPipelining: true, lazyConnect: true, commandTimeout });
    // Registering needs no connection; a failure here is a broken install, not an outage.
    const scripts = await defineScripts(redis, keys).catch((error: unknown) => {
      redis.disconnect();
      throw error;
    });
    try {
      await redis.connect();
    } catch (error) {
      redis.disconnect();
      throw new UnavailableError("BROKER_UNAVAILABLE", `cannot connect to Redis at ${redactUrl(options.url)}: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    return new RedisBroker(redis, target, options.url, keys, scripts, logger, commandTimeout);
  }

  async enqueue(entries: readonly QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) checkEntry(entry);
    await this.#run("enqueue", () =>
      Promise.all([this.#registerQueues(entries), ...byQueue(entries).map(([queue, batch]) => this.#scripts.enqueue(queue, batch))]),
    );
  }

  async schedule(entries: readonly DelayedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) {
      checkEntry(entry);
      checkTime("runAt", entry.runAt);
    }
    await this.#run("schedule", () =>
      Promise.all([this.#registerQueues(entries), ...byQueue(entries).map(([queue, batch]) => this.#scripts.schedule(queue, batch))]),
    );
  }

  async promoteDue(queue: string, now: number, limit: number): Promise<{ promoted: string[]; nextRunAt: number | null }> {
    checkQueue(queue);
    checkTime("now", now);
    return this.#run("promoteDue", () => this.#scripts.promoteDue(queue, now, Math.max(0, Math.floor(limit))));
  }

  /**
   * Keeps the limits in force. Not enforced by this broker's claim yet: limits, concurrency
   * keys and fairness are enforced by the in-process broker only (README "Limits and fairness").
   */
  setLimits(limits: LimitTable): void {
    this.#limits = limits;
    if (!this.#warnedLimits && (limits.types.size > 0 || limits.queues.size > 0)) {
      this.#warnedLimits = true;
      this.#logger.warn(
        { types: [...limits.types.keys()], queues: [...limits.queues.keys()] },
        "dispatch limits are set, but the Redis broker does not enforce limits, concurrency keys or fairness yet (the in-process broker does)",
      );
    }
  }

  /** The limits last set (`setLimits`). */
  get limits(): LimitTable {
    return this.#limits;
  }

  /** One script call (`claim-1.lua`), which reads the head of each given type's runnable set. */
  async claim(queue: string, types: readonly string[], count: number, leaseUntil: number): Promise<string[]> {
    checkQueue(queue);
    for (const type of types) checkType(type);
    checkTime("leaseUntil", leaseUntil);
    if (!(count >= 1) || types.length === 0) return [];
    const distinct = [...new Set(types)];
    return this.#run("claim", () => this.#scripts.claim(queue, distinct, Math.floor(count), leaseUntil));
  }

  async renew(leases: readonly LeaseRef[], leaseUntil: number): Promise<void> {
    if (leases.length === 0) return;
    for (const lease of leases) checkQueue(lease.queue);
    checkTime("leaseUntil", leaseUntil);
    await this.#run("renew", () =>
      Promise.all(byQueue(leases).map(([queue, batch]) => this.#scripts.renew(queue, idsOf(batch), leaseUntil))),
    );
  }

  async lease(leases: readonly LeaseRef[], leaseUntil: number): Promise<void> {
    if (leases.length === 0) return;
    for (const lease of leases) checkQueue(lease.queue);
    checkTime("leaseUntil", leaseUntil);
    await this.#run("lease", () =>
      Promise.all([
        this.#registerQueues(leases),
        ...byQueue(leases).map(([queue, batch]) => this.#scripts.lease(queue, idsOf(batch), leaseUntil)),
      ]),
    );
  }

  async release(leases: readonly LeaseRef[]): Promise<void> {
    if (leases.length === 0) return;
    for (const lease of leases) checkQueue(lease.queue);
    await this.#run("release", () => Promise.all(byQueue(leases).map(([queue, batch]) => this.#scripts.release(queue, idsOf(batch)))));
  }

  async requeue(entries: readonly (QueueEntry & { runAt?: number })[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) {
      checkEntry(entry);
      if (entry.runAt !== undefined) checkTime("runAt", entry.runAt);
    }
    const now = Date.now();
    await this.#run("requeue", () =>
      Promise.all([this.#registerQueues(entries), ...byQueue(entries).map(([queue, batch]) => this.#scripts.requeue(queue, batch, now))]),
    );
  }

  async remove(entries: readonly QueueEntry[]): Promise<void> {
    if (entries.length === 0) return;
    for (const entry of entries) checkEntry(entry);
    await this.#run("remove", () => Promise.all(byQueue(entries).map(([queue, batch]) => this.#scripts.remove(queue, batch))));
  }

  async reapExpired(queue: string, now: number, limit: number, reclaimUntil: number): Promise<string[]> {
    checkQueue(queue);
    checkTime("now", now);
    checkTime("reclaimUntil", reclaimUntil);
    if (!(limit >= 1)) return [];
    return this.#run("reapExpired", () => this.#scripts.reapExpired(queue, now, Math.floor(limit), reclaimUntil));
  }

  /**
   * Reads `<prefix>:epoch`; a value of another shape counts as no marker. On a cluster, a
   * `ready` marker whose token some master lacks (it lost its data) counts as no marker too.
   */
  async readEpoch(): Promise<IndexEpoch | null> {
    return this.#run("readEpoch", async () => {
      const value = await this.#redis.get(this.#keys.epoch());
      const epoch = value === null ? null : parseEpoch(value);
      if (epoch?.state === "ready" && this.#epochCopies !== undefined && !(await this.#epochCopies.complete(epoch.token))) return null;
      return epoch;
    });
  }

  /**
   * `SET <prefix>:epoch rebuilding:<token> NX PX <ttlMs>`. On a cluster, also takes over a
   * `ready` marker whose token some master lacks (compare-and-set, so one server wins).
   */
  async beginRebuild(token: string, ttlMs: number): Promise<boolean> {
    checkEpochToken(token);
    const claim = epochValue("rebuilding", token);
    const ttl = Math.max(1, Math.ceil(ttlMs));
    return this.#run("beginRebuild", async () => {
      if ((await this.#redis.set(this.#keys.epoch(), claim, "PX", ttl, "NX")) === "OK") return true;
      const copies = this.#epochCopies;
      if (copies === undefined) return false;
      const value = await this.#redis.get(this.#keys.epoch());
      const epoch = value === null ? null : parseEpoch(value);
      if (epoch?.state !== "ready" || (await copies.complete(epoch.token))) return false;
      return this.#scripts.epochSwap(epochValue("ready", epoch.token), claim, ttl);
    });
  }

  async extendRebuild(token: string, ttlMs: number): Promise<boolean> {
    checkEpochToken(token);
    const claim = epochValue("rebuilding", token);
    return this.#run("extendRebuild", () => this.#scripts.epochSwap(claim, claim, Math.max(1, Math.ceil(ttlMs))));
  }

  /** On a cluster, a `ready` outcome first writes the token's copy on every master. */
  async endRebuild(token: string, outcome: "ready" | "abandoned"): Promise<boolean> {
    checkEpochToken(token);
    const next = outcome === "ready" ? epochValue("ready", token) : "";
    return this.#run("endRebuild", async () => {
      if (outcome === "ready") await this.#epochCopies?.write(token);
      return this.#scripts.epochSwap(epochValue("rebuilding", token), next, 0);
    });
  }

  async queues(): Promise<string[]> {
    const names = await this.#run("queues", () => this.#redis.smembers(this.#keys.queues()));
    return names.sort();
  }

  /** One script call (`counts-3.lua`), so the three sizes are of one instant. */
  async counts(queue: string): Promise<QueueCounts> {
    checkQueue(queue);
    return this.#run("counts", () => this.#scripts.counts(queue));
  }

  /** One script call per queue (and per {@link MAX_ENTRIES_PER_SCRIPT_CALL} entries): each is atomic. */
  async indexMissing(entries: readonly (QueueEntry & { runAt?: number })[]): Promise<number> {
    if (entries.length === 0) return 0;
    for (const entry of entries) {
      checkEntry(entry);
      if (entry.runAt !== undefined) checkTime("runAt", entry.runAt);
    }
    const now = Date.now();
    const [, ...added] = await this.#run("indexMissing", () =>
      Promise.all([
        this.#registerQueues(entries),
        ...byQueue(entries).map(([queue, batch]) => this.#scripts.indexMissing(queue, batch, now)),
      ]),
    );
    return added.reduce((sum, count) => sum + count, 0);
  }

  /** Listens on `<prefix>:wake` (see {@link RedisPubSub.onWake}). */
  onWake(listener: (queue: string) => void): Promise<Unsubscribe> {
    return this.#pubsub.onWake(listener);
  }

  /** One script call for the whole batch (see {@link RedisPubSub.publishTaskEvents}). */
  publishTaskEvents(events: readonly TaskEventPayload[]): Promise<void> {
    return this.#pubsub.publishTaskEvents(events);
  }

  /** Listens on `<prefix>:task:<id>` (see {@link RedisPubSub.subscribeTaskEvents}). */
  subscribeTaskEvents(taskId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    return this.#pubsub.subscribeTaskEvents(taskId, listener);
  }

  /** PUBLISH on the server's or the fleet's control channel (see {@link RedisPubSub.publishControl}). */
  publishControl(target: ControlTarget, payload: Uint8Array): Promise<void> {
    return this.#pubsub.publishControl(target, payload);
  }

  /** Listens on the server's and the fleet's control channels (see {@link RedisPubSub.onControl}). */
  onControl(serverId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    return this.#pubsub.onControl(serverId, listener);
  }

  /** One script call (`hold-duty-lease-1.lua`) on `<prefix>:duty:<name>`. */
  async holdDutyLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkName("duty name", name);
    checkName("duty holder", holder);
    checkDuration("ttlMs", ttlMs);
    return this.#run("holdDutyLease", () => this.#scripts.holdDutyLease(name, holder, Math.ceil(ttlMs)));
  }

  /** One script call (`release-duty-lease-1.lua`): deletes the lease only while `holder` holds it. */
  async releaseDutyLease(name: string, holder: string): Promise<void> {
    checkName("duty name", name);
    checkName("duty holder", holder);
    await this.#run("releaseDutyLease", () => this.#scripts.releaseDutyLease(name, holder));
  }

  /**
   * Sends `PING`. Fails at once, without waiting for a reconnection, when the command
   * connection is not ready.
   * @throws UnavailableError when Redis cannot be reached or the broker is closed.
   */
  async ping(): Promise<void> {
    this.#checkOpen();
    if (this.#redis.status !== "ready") {
      throw new UnavailableError("BROKER_UNAVAILABLE", `Redis at ${redactUrl(this.#url)} is not connected (${this.#redis.status})`);
    }
    await this.#run("ping", () => this.#redis.ping());
  }

  /** Closes both connections (QUIT when connected); later calls return the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    await Promise.all([this.#pubsub.close(), closeConnection(this.#redis)]);
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new UnavailableError("SHUTTING_DOWN", "the Redis broker is closed");
  }

  /** Runs Redis calls of `operation`, turning connection trouble into `UnavailableError`. */
  async #run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    return runRedis(operation, this.#commandTimeoutMs, call);
  }

  /** SADD of the queue names, so that `queues()` lists them. */
  async #registerQueues(entries: readonly { queue: string }[]): Promise<void> {
    await this.#redis.sadd(this.#keys.queues(), ...new Set(entries.map((entry) => entry.queue)));
  }
}

/** Groups entries by queue, in slices of at most {@link MAX_ENTRIES_PER_SCRIPT_CALL}. */
function byQueue<T extends { readonly queue: string }>(entries: readonly T[]): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const entry of entries) {
    const group = groups.get(entry.queue);
    if (group === undefined) groups.set(entry.queue, [entry]);
    else group.push(entry);
  }
  const batches: [string, T[]][] = [];
  for (const [queue, group] of groups) {
    for (let start = 0; start < group.length; start += MAX_ENTRIES_PER_SCRIPT_CALL) {
      batches.push([queue, group.slice(start, start + MAX_ENTRIES_PER_SCRIPT_CALL)]);
    }
  }
  return batches;
}

/** The stored form of a marker: `<state>:<token>`. */
function epochValue(state: IndexEpoch["state"], token: string): string {
  return `${state}:${token}`;
}

function parseEpoch(value: string): IndexEpoch | null {
  const colon = value.indexOf(":");
  const state = value.slice(0, colon);
  const token = value.slice(colon + 1);
  if (colon < 0 || token === "" || (state !== "ready" && state !== "rebuilding")) return null;
  return { state, token };
}

function idsOf(leases: readonly LeaseRef[]): string[] {
  return leases.map((lease) => lease.id);
}
