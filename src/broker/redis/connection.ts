/**
 * Opening, closing and calling Redis connections, shared by the broker's command side
 * (`./redis-broker.ts`) and its pub/sub side (`./redis-pubsub.ts`): one Redis or a Redis
 * Cluster (`./redis-target.ts`), the timeouts every connection gets, the one log line per
 * outage, and the translation of connection trouble into `UnavailableError`.
 */
import { Cluster, Redis } from "ioredis";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { RedisTarget } from "./redis-target.js";

/**
 * How many reconnection attempts a command waits for before it fails. ioredis' default (20)
 * would hold callers for many seconds while Redis is down; failing soon lets them surface
 * `UNAVAILABLE` and retry on their own schedule.
 */
const MAX_RETRIES_PER_REQUEST = 2;
/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 5_000;
/** `RedisBrokerOptions.commandTimeoutMs` when not given. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5_000;

/** The message of ioredis' error for a command past its `commandTimeout`. */
const COMMAND_TIMED_OUT = "Command timed out";

/**
 * How long a cluster client waits between attempts to reach the cluster after it lost every
 * node (ioredis' `clusterRetryStrategy`): growing, at most this.
 */
const MAX_CLUSTER_RETRY_DELAY_MS = 2_000;

/** A Redis reply error that means "not now" rather than "wrong call". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|OOM)\b/;

/** What a connection is for, in its log lines. */
export type ConnectionRole = "command" | "subscriber";

/** A connection to one Redis, or a client of a Redis Cluster (a connection per master, routed by slot). */
export type RedisClient = Redis | Cluster;

/** How a connection is opened. */
export interface ConnectionOptions {
  /** Connect on `connect()` rather than at once. @default false */
  readonly lazyConnect?: boolean;
  /** ioredis' auto-pipelining (per node on a cluster). @default false */
  readonly enableAutoPipelining?: boolean;
  /** How long a command may wait for its reply, in ms. */
  readonly commandTimeout: number;
  /** On a cluster: sharded pub/sub (SSUBSCRIBE) through a connection to each master. @default false */
  readonly shardedSubscribers?: boolean;
}

/**
 * Opens a connection to `target` (lazily when `options.lazyConnect`) that logs the first error
 * of each outage. A cluster client reconnects without end (at most every
 * {@link MAX_CLUSTER_RETRY_DELAY_MS}), as a single connection does; commands fail meanwhile.
 */
export function openConnection(target: RedisTarget, role: ConnectionRole, logger: Logger, options: ConnectionOptions): RedisClient {
  const nodeOptions = {
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: options.commandTimeout,
  };
  const where = target.kind === "single" ? redactUrl(target.url) : target.nodes.map((node) => `${node.host}:${node.port}`).join(",");
  const connection: RedisClient =
    target.kind === "single"
      ? new Redis(target.url, { ...nodeOptions, lazyConnect: options.lazyConnect ?? false, enableAutoPipelining: options.enableAutoPipelining ?? false })
      : new Cluster(
          target.nodes.map((node) => ({ host: node.host, port: node.port })),
          {
            lazyConnect: options.lazyConnect ?? false,
            enableAutoPipelining: options.enableAutoPipelining ?? false,
            shardedSubscribers: options.shardedSubscribers ?? false,
            // A command held while the client has no node has no timeout (`commandTimeout` applies
            // per node): the command connection fails it at once instead, as one Redis fails it
            // after MAX_RETRIES_PER_REQUEST reconnections. Subscriptions wait (bounded by their caller).
            enableOfflineQueue: role === "subscriber",
            clusterRetryStrategy: (attempt: number) => Math.min(100 * attempt, MAX_CLUSTER_RETRY_DELAY_MS),
            redisOptions: {
              ...nodeOptions,
              ...(target.username === undefined ? {} : { username: target.username }),
              ...(target.password === undefined ? {} : { password: target.password }),
              ...(target.tls ? { tls: {} } : {}),
            },
          },
        );
  // ioredis emits "error" on every failed reconnection; log the first of each outage only.
  let down = false;
  connection.on("error", (error: unknown) => {
    if (down) return;
    down = true;
    logger.warn({ err: error, connection: role, url: where }, "Redis connection error");
  });
  connection.on("ready", () => {
    if (!down) return;
    down = false;
    logger.info({ connection: role }, "Redis connection restored");
  });
  return connection;
}

/** QUIT when connected, else drops the connection; never throws. */
export async function closeConnection(connection: RedisClient): Promise<void> {
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

/**
 * Runs Redis calls of `operation`, turning connection trouble (and transient replies such as
 * `LOADING`) into `UnavailableError` (`BROKER_UNAVAILABLE`); other reply errors are rethrown as they are.
 */
export async function runRedis<T>(operation: string, commandTimeoutMs: number, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isReplyError(error) && !TRANSIENT_REPLY.test(error.message)) throw error;
    const message = errorMessage(error) === COMMAND_TIMED_OUT
      ? `Redis did not answer within ${commandTimeoutMs} ms (${operation})`
      : `Redis ${operation} failed: ${errorMessage(error)}`;
    throw new UnavailableError("BROKER_UNAVAILABLE", message, { cause: error });
  }
}

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** The message of a thrown value. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The URL without its password, for messages and logs (also a cluster URL of several nodes). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
}
