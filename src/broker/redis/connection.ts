/**
 * Opening, closing and calling Redis connections, shared by the broker's command side
 * (`./redis-broker.ts`) and its pub/sub side (`./redis-pubsub.ts`): the timeouts every
 * connection gets, the one log line per outage, and the translation of connection trouble
 * into `UnavailableError`.
 */
import { Redis } from "ioredis";
import type { RedisOptions } from "ioredis";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";

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

/** A Redis reply error that means "not now" rather than "wrong call". */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|OOM)\b/;

/** What a connection is for, in its log lines. */
export type ConnectionRole = "command" | "subscriber";

/** Opens a connection to `url` (lazily when `options.lazyConnect`) that logs the first error of each outage. */
export function openConnection(url: string, role: ConnectionRole, logger: Logger, options: RedisOptions): Redis {
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

/** QUIT when connected, else drops the connection; never throws. */
export async function closeConnection(connection: Redis): Promise<void> {
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

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable Redis URL)";
  }
}
