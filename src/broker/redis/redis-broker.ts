/**
 * The Redis broker: sorted sets per queue and type changed by Lua scripts (`./lua/`), leases by
 * deadline, duty leases as expiring strings, and pub/sub for wake-ups, task events and control
 * messages, so several servers share one dispatch index. Key layout: `./keys.ts`.
 */
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
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
import { createKeys } from "./keys.js";
import type { RedisKeys } from "./keys.js";
import { defineScripts } from "./scripts.js";
import type { RedisScripts } from "./scripts.js";

/** What {@link RedisBroker.connect} needs. */
export interface RedisBrokerOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` for TLS. */
  url: string;
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
 * How many reconnection attempts a command waits for before it fails. ioredis' default (20)
 * would hold callers for many seconds while Redis is down; failing soon lets them surface
 * `UNAVAILABLE` and retry on their own schedule.
 */
const MAX_RETRIES_PER_REQUEST = 2;
/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** {@link RedisBrokerOptions.commandTimeoutMs} when not given. */
const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/** The message of ioredis' error for a command past its `commandTimeout`. */
const COMMAND_TIMED_OUT = "Command timed out";

/** A Redis reply error that means "not now" rather than "wrong call". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|OOM)\b/;

interface Channel {
  readonly listeners: Set<(message: Buffer) => void>;
  /** Settles when Redis confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<void>;
}

/**
 * {@link Broker} on Redis: one command connection (auto-pipelined) and one subscriber
 * connection, created on the first subscription.
 *
 * Batches that span several queues become one script call per queue (and per
 * {@link MAX_ENTRIES_PER_SCRIPT_CALL} entries), all sent at once; each call is atomic, the
 * batch as a whole is not. Failures to reach Redis reject with `UnavailableError`
 * (`BROKER_UNAVAILABLE`); calls after {@link RedisBroker.close} with `SHUTTING_DOWN`.
 */
export class RedisBroker implements Broker {
  readonly #redis: Redis;
  readonly #url: string;
  readonly #keys: RedisKeys;
  readonly #scripts: RedisScripts;
  readonly #logger: Logger;
  readonly #channels = new Map<string, Channel>();
  readonly #commandTimeoutMs: number;
  #subscriber: Redis | undefined;
  #closing: Promise<void> | undefined;

  private constructor(redis: Redis, url: string, keys: RedisKeys, scripts: RedisScripts, logger: Logger, commandTimeoutMs: number) {
    this.#redis = redis;
    this.#url = url;
    this.#keys = keys;
    this.#scripts = scripts;
    this.#logger = logger;
    this.#commandTimeoutMs = commandTimeoutMs;
  }

  /**
   * Connects to Redis and registers the scripts.
   * @throws UnavailableError (`BROKER_UNAVAILABLE`) when Redis cannot be reached.
   */
  static async connect(options: RedisBrokerOptions): Promise<RedisBroker> {
    const keys = createKeys(options.prefix);
    const logger = options.logger.child({ component: "redis-broker" });
    const commandTimeout = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    const redis = openConnection(options.url, "command", logger, { enableAutoPipelining: true, lazyConnect: true, commandTimeout });
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
    return new RedisBroker(redis, options.url, keys, scripts, logger, commandTimeout);
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

  /** Reads `<prefix>:epoch`; a value of another shape counts as no marker. */
  async readEpoch(): Promise<IndexEpoch | null> {
    const value = await this.#run("readEpoch", () => this.#redis.get(this.#keys.epoch()));
    return value === null ? null : parseEpoch(value);
  }

  /** `SET <prefix>:epoch rebuilding:<token> NX PX <ttlMs>`. */
  async beginRebuild(token: string, ttlMs: number): Promise<boolean> {
    checkEpochToken(token);
    const reply = await this.#run("beginRebuild", () =>
      this.#redis.set(this.#keys.epoch(), epochValue("rebuilding", token), "PX", Math.max(1, Math.ceil(ttlMs)), "NX"),
    );
    return reply === "OK";
  }

  async extendRebuild(token: string, ttlMs: number): Promise<boolean> {
    checkEpochToken(token);
    const claim = epochValue("rebuilding", token);
    return this.#run("extendRebuild", () => this.#scripts.epochSwap(claim, claim, Math.max(1, Math.ceil(ttlMs))));
  }

  async endRebuild(token: string, outcome: "ready" | "abandoned"): Promise<boolean> {
    checkEpochToken(token);
    const next = outcome === "ready" ? epochValue("ready", token) : "";
    return this.#run("endRebuild", () => this.#scripts.epochSwap(epochValue("rebuilding", token), next, 0));
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

  /** Listens on `<prefix>:wake`; the returned function stops this listener (and the SUBSCRIBE with the last one). */
  async onWake(listener: (queue: string) => void): Promise<Unsubscribe> {
    return this.#listen(this.#keys.wakeChannel(), (message) => listener(message.toString("utf8")));
  }

  /** One script call for the whole batch (PUBLISH per event inside it). */
  async publishTaskEvents(events: readonly TaskEventPayload[]): Promise<void> {
    if (events.length === 0) return;
    const messages = events.map(({ taskId, payload }) => ({
      channel: this.#keys.taskChannel(taskId),
      message: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    }));
    await this.#run("publishTaskEvents", () => this.#scripts.publish(messages));
  }

  /** Listens on `<prefix>:task:<id>`; payloads arrive as sent, byte for byte. */
  async subscribeTaskEvents(taskId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    return this.#listen(this.#keys.taskChannel(taskId), (message) =>
      listener(new Uint8Array(message.buffer, message.byteOffset, message.byteLength)),
    );
  }

  /** PUBLISH on `<prefix>:control:server:<id>` or `<prefix>:control:fleet`. */
  async publishControl(target: ControlTarget, payload: Uint8Array): Promise<void> {
    const channel = this.#controlChannel(target);
    const message = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    await this.#run("publishControl", () => this.#redis.publish(channel, message));
  }

  /** Listens on the server's channel and the fleet's, over the subscriber connection; the returned function stops both. */
  async onControl(serverId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    checkName("server id", serverId);
    const deliver = (message: Buffer): void => listener(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
    const own = await this.#listen(this.#keys.serverControlChannel(serverId), deliver);
    try {
      const fleet = await this.#listen(this.#keys.fleetControlChannel(), deliver);
      return async () => {
        await Promise.all([own(), fleet()]);
      };
    } catch (error) {
      await own();
      throw error;
    }
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
    this.#channels.clear();
    const connections = [this.#redis, this.#subscriber].filter((connection) => connection !== undefined);
    await Promise.all(connections.map(closeConnection));
  }

  #checkOpen(): void {
    if (this.#closing !== undefined) throw new UnavailableError("SHUTTING_DOWN", "the Redis broker is closed");
  }

  /** Runs Redis calls of `operation`, turning connection trouble into `UnavailableError`. */
  async #run<T>(operation: string, call: () => Promise<T>): Promise<T> {
    this.#checkOpen();
    try {
      return await call();
    } catch (error) {
      if (isReplyError(error) && !TRANSIENT_REPLY.test(error.message)) throw error;
      const message = errorMessage(error) === COMMAND_TIMED_OUT
        ? `Redis did not answer within ${this.#commandTimeoutMs} ms (${operation})`
        : `Redis ${operation} failed: ${errorMessage(error)}`;
      throw new UnavailableError("BROKER_UNAVAILABLE", message, { cause: error });
    }
  }

  #controlChannel(target: ControlTarget): string {
    if (target === "fleet") return this.#keys.fleetControlChannel();
    checkName("server id", target.server);
    return this.#keys.serverControlChannel(target.server);
  }

  /** SADD of the queue names, so that `queues()` lists them. */
  async #registerQueues(entries: readonly { queue: string }[]): Promise<void> {
    await this.#redis.sadd(this.#keys.queues(), ...new Set(entries.map((entry) => entry.queue)));
  }

  async #listen(name: string, handler: (message: Buffer) => void): Promise<Unsubscribe> {
    this.#checkOpen();
    const subscriber = this.#subscriberConnection();
    let channel = this.#channels.get(name);
    if (channel === undefined) {
      channel = { listeners: new Set(), subscribed: subscriber.subscribe(name).then(() => undefined) };
      this.#channels.set(name, channel);
    }
    const current = channel;
    // A wrapper per call, so that the same listener registered twice is removed once per Unsubscribe.
    const listener = (message: Buffer): void => handler(message);
    current.listeners.add(listener);

    const leave = async (): Promise<void> => {
      current.listeners.delete(listener);
      if (current.listeners.size > 0 || this.#channels.get(name) !== current) return;
      this.#channels.delete(name);
      if (this.#closing !== undefined) return;
      try {
        await subscriber.unsubscribe(name);
      } catch (error) {
        // Delivery to this listener stopped already; a stale SUBSCRIBE only costs ignored messages.
        this.#logger.warn({ err: error, channel: name }, "UNSUBSCRIBE failed");
      }
    };

    try {
      await current.subscribed;
    } catch (error) {
      await leave();
      throw new UnavailableError("BROKER_UNAVAILABLE", `Redis SUBSCRIBE failed: ${errorMessage(error)}`, { cause: error });
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      await leave();
    };
  }

  #subscriberConnection(): Redis {
    if (this.#subscriber === undefined) {
      const subscriber = openConnection(this.#url, "subscriber", this.#logger, { commandTimeout: this.#commandTimeoutMs });
      subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => this.#deliver(channel.toString("utf8"), message));
      this.#subscriber = subscriber;
    }
    return this.#subscriber;
  }

  #deliver(name: string, message: Buffer): void {
    const channel = this.#channels.get(name);
    if (channel === undefined) return;
    for (const listener of [...channel.listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.#logger.error({ err: error, channel: name }, "broker listener threw");
      }
    }
  }
}

function openConnection(url: string, role: "command" | "subscriber", logger: Logger, options: RedisOptions): Redis {
  const connection = new Redis(url, {
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    connectTimeout: CONNECT_TIMEOUT_MS,
    ...options,
  });
  // ioredis emits "error" on every failed reconnection; log the first of each outage only.
  let down = false;
  connection.on("error", (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ err: error, connection: role, url: redactUrl(url) }, "Redis connection error");
  });
  connection.on("ready", () => {
    if (!down) return;
    down = false;
    logger.info({ connection: role }, "Redis connection restored");
  });
  return connection;
}

async function closeConnection(connection: Redis): Promise<void> {
  if (connection.status === "end") return;
  if (connection.status !== "ready") {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
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

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL without its password, for messages and logs. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable Redis URL)";
  }
}
