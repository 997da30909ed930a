/**
 * The pub/sub side of the Redis broker: wake-ups (`<prefix>:wake`), task events
 * (`<prefix>:task:<id>`) and control messages (`<prefix>:control:…`). Publishing goes over the
 * broker's command connection; listening over one subscriber connection, opened on the first
 * subscription and shared by every listener of the broker. Channel names: `./keys.ts`.
 *
 * On a Redis Cluster (Redis 7 or later), the two kinds of traffic take two kinds of pub/sub:
 * - Task events use sharded pub/sub (SPUBLISH/SSUBSCRIBE): a task's channel hashes to one
 *   slot, its messages stay on the master serving it (and its replicas), and only the servers
 *   following that task listen there. They are the bulk of the traffic (every progress
 *   report), which plain PUBLISH would copy to every node of the cluster.
 * - Wake-ups and control messages stay on plain PUBLISH/SUBSCRIBE, which a cluster delivers to
 *   subscribers on any node: every server must hear every wake-up and every fleet message
 *   anyway (sharding them would make each server subscribe on every master), they are few (one
 *   per script call that made tasks runnable, and operators' actions), and the wake-up is
 *   published by the Lua scripts themselves, atomically with the change, where SPUBLISH would
 *   need a channel in the script's slot, i.e. one per queue, whose names no server knows ahead.
 */
import { Cluster } from "ioredis";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { checkName } from "../entry-checks.js";
import type { ControlTarget, TaskEventPayload, Unsubscribe } from "../broker.js";
import { closeConnection, errorMessage, openConnection } from "./connection.js";
import type { RedisClient } from "./connection.js";
import type { RedisKeys } from "./keys.js";
import type { RedisTarget } from "./redis-target.js";
import type { RedisScripts } from "./scripts.js";

/** What {@link RedisPubSub} borrows from the broker that owns it. */
export interface RedisPubSubOptions {
  /** The broker's command connection, for PUBLISH (and SPUBLISH on a cluster). */
  readonly commands: RedisClient;
  /** Where the subscriber connection goes (the broker's Redis or cluster). */
  readonly target: RedisTarget;
  readonly keys: RedisKeys;
  /** The broker's scripts (`publish-0.lua` sends a batch of task events in one call). */
  readonly scripts: RedisScripts;
  /** The broker's logger (scope `redis-broker`). */
  readonly logger: Logger;
  /** `commandTimeout` of the subscriber connection, as of the command connection. */
  readonly commandTimeoutMs: number;
  /** The broker's runner: refuses calls once the broker is closed, maps connection trouble to `UnavailableError`. */
  readonly run: <T>(operation: string, call: () => Promise<T>) => Promise<T>;
}

/** How a channel is subscribed to: plain SUBSCRIBE, or SSUBSCRIBE (sharded, on a cluster). */
type ChannelKind = "plain" | "sharded";

interface Channel {
  readonly kind: ChannelKind;
  readonly listeners: Set<(message: Buffer) => void>;
  /** Settles when Redis confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<void>;
}

/**
 * Wake-ups, task events and control messages of one {@link RedisBroker}. Several listeners of
 * one channel share one SUBSCRIBE; the last one to leave sends the UNSUBSCRIBE.
 */
export class RedisPubSub {
  readonly #options: RedisPubSubOptions;
  readonly #channels = new Map<string, Channel>();
  #subscriber: RedisClient | undefined;
  #closed = false;
  /** On a cluster, task events go over sharded pub/sub (see the file header). */
  readonly #taskEvents: ChannelKind;

  constructor(options: RedisPubSubOptions) {
    this.#options = options;
    this.#taskEvents = options.target.kind === "cluster" ? "sharded" : "plain";
  }

  /** Listens on `<prefix>:wake`; the returned function stops this listener (and the SUBSCRIBE with the last one). */
  onWake(listener: (queue: string) => void): Promise<Unsubscribe> {
    return this.#listen(this.#options.keys.wakeChannel(), "plain", (message) => listener(message.toString("utf8")));
  }

  /**
   * One script call for the whole batch (PUBLISH per event inside it); on a cluster one SPUBLISH
   * per event, auto-pipelined per master, in order per channel.
   */
  async publishTaskEvents(events: readonly TaskEventPayload[]): Promise<void> {
    if (events.length === 0) return;
    const { keys, scripts, run, commands } = this.#options;
    const messages = events.map(({ taskId, payload }) => ({
      channel: keys.taskChannel(taskId),
      message: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    }));
    if (this.#taskEvents === "sharded") {
      await run("publishTaskEvents", () => Promise.all(messages.map(({ channel, message }) => commands.spublish(channel, message))));
    } else {
      await run("publishTaskEvents", () => scripts.publish(messages));
    }
  }

  /** Listens on `<prefix>:task:<id>`; payloads arrive as sent, byte for byte. */
  subscribeTaskEvents(taskId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    return this.#listen(this.#options.keys.taskChannel(taskId), this.#taskEvents, (message) =>
      listener(new Uint8Array(message.buffer, message.byteOffset, message.byteLength)),
    );
  }

  /** PUBLISH on `<prefix>:control:server:<id>` or `<prefix>:control:fleet`. */
  async publishControl(target: ControlTarget, payload: Uint8Array): Promise<void> {
    const channel = this.#controlChannel(target);
    const message = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const { commands, run } = this.#options;
    await run("publishControl", () => commands.publish(channel, message));
  }

  /** Listens on the server's channel and the fleet's, over the subscriber connection; the returned function stops both. */
  async onControl(serverId: string, listener: (payload: Uint8Array) => void): Promise<Unsubscribe> {
    checkName("server id", serverId);
    const { keys } = this.#options;
    const deliver = (message: Buffer): void => listener(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
    const own = await this.#listen(keys.serverControlChannel(serverId), "plain", deliver);
    try {
      const fleet = await this.#listen(keys.fleetControlChannel(), "plain", deliver);
      return async () => {
        await Promise.all([own(), fleet()]);
      };
    } catch (error) {
      await own();
      throw error;
    }
  }

  /** Forgets every listener and closes the subscriber connection; later subscriptions are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#channels.clear();
    if (this.#subscriber !== undefined) await closeConnection(this.#subscriber);
  }

  #controlChannel(target: ControlTarget): string {
    const { keys } = this.#options;
    if (target === "fleet") return keys.fleetControlChannel();
    checkName("server id", target.server);
    return keys.serverControlChannel(target.server);
  }

  async #listen(name: string, kind: ChannelKind, handler: (message: Buffer) => void): Promise<Unsubscribe> {
    if (this.#closed) throw new UnavailableError("SHUTTING_DOWN", "the Redis broker is closed");
    const subscriber = this.#subscriberConnection();
    let channel = this.#channels.get(name);
    if (channel === undefined) {
      const subscribing = kind === "sharded" ? subscriber.ssubscribe(name) : subscriber.subscribe(name);
      channel = { kind, listeners: new Set(), subscribed: withinTimeout(subscribing, this.#options.commandTimeoutMs) };
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
      if (this.#closed) return;
      try {
        const unsubscribing = current.kind === "sharded" ? subscriber.sunsubscribe(name) : subscriber.unsubscribe(name);
        await withinTimeout(unsubscribing, this.#options.commandTimeoutMs);
      } catch (error) {
        // Delivery to this listener stopped already; a stale SUBSCRIBE only costs ignored messages.
        this.#options.logger.warn({ err: error, channel: name }, "UNSUBSCRIBE failed");
      }
    };

    try {
      await current.subscribed;
    } catch (error) {
      await leave();
      const command = current.kind === "sharded" ? "SSUBSCRIBE" : "SUBSCRIBE";
      throw new UnavailableError("BROKER_UNAVAILABLE", `Redis ${command} failed: ${errorMessage(error)}`, { cause: error });
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      await leave();
    };
  }

  #subscriberConnection(): RedisClient {
    if (this.#subscriber === undefined) {
      const { target, logger, commandTimeoutMs } = this.#options;
      const subscriber = openConnection(target, "subscriber", logger, { commandTimeout: commandTimeoutMs, shardedSubscribers: true });
      subscriber.on("messageBuffer", (channel: Buffer, message: Buffer) => this.#deliver(channel.toString("utf8"), message));
      if (subscriber instanceof Cluster) {
        subscriber.on("smessageBuffer", (channel: Buffer, message: Buffer) => this.#deliver(channel.toString("utf8"), message));
      }
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
        this.#options.logger.error({ err: error, channel: name }, "broker listener threw");
      }
    }
  }
}

/**
 * Settles with `promise`, or rejects once `timeoutMs` passed: a cluster client holds a
 * (un)subscription while it has no node, and no per-node `commandTimeout` applies to it then. A
 * subscription that succeeds later only brings messages no listener waits for.
 */
function withinTimeout(promise: Promise<unknown>, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
