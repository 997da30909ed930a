/**
 * Why a server could not start, said in one line that names what failed and where: the port is
 * taken, PostgreSQL or Redis cannot be reached. These are expected on a newcomer's machine and
 * on a bad deploy; the CLI prints them without a stack trace (`src/cli/run.ts`).
 *
 * The port is probed before any storage is opened, so that a second `taskwire server` on the
 * same port fails at once instead of after opening (or creating) a database.
 */
import { createServer } from "node:net";
import { UnavailableError } from "../core/errors.js";
import type { StorageMode } from "../config/config.js";

/** A server could not start for a reason outside it; the message is one line naming what and where. */
export class ServerStartError extends Error {
  override readonly name = "ServerStartError";
}

/** `host:port`, with brackets around an IPv6 host. */
function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The message of a port that cannot be listened on, naming the flag that chooses another. */
function portMessage(host: string, port: number, code: string | undefined): string {
  const where = hostPort(host, port);
  if (code === "EADDRINUSE") return `${where} is already in use (another taskwire server?): stop it, or choose another port with --port (TASKWIRE_PORT)`;
  if (code === "EACCES") return `no permission to listen on ${where} (ports below 1024 need privileges): choose another port with --port (TASKWIRE_PORT)`;
  if (code === "EADDRNOTAVAIL") return `cannot listen on ${where}: no interface of this machine has that address (--host, TASKWIRE_HOST)`;
  return `cannot listen on ${where}: ${code ?? "unknown error"} (--host, --port)`;
}

function codeOf(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/**
 * Resolves once `port` could be bound on `host` (and is released again); port 0 always can.
 * A port taken between this probe and the real listen still fails there, with the same message.
 * @throws ServerStartError naming `--port` when it cannot be bound.
 */
export function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (error) => reject(new ServerStartError(portMessage(host, port, codeOf(error)), { cause: error })));
    // `exclusive`: in a cluster worker, really bind instead of sharing the primary's handle.
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    // Not one URL: a Redis Cluster's `redis+cluster://user:password@host:port,host:port`.
    return /^[a-z+]+:\/\//i.test(url) ? url.replace(/^([a-z+]+:\/\/[^:@/]*:)[^@/]*@/i, "$1***@") : "(unparsable URL)";
  }
}

/** The innermost message worth showing: a socket error's (`connect ECONNREFUSED 127.0.0.1:5432`) rather than a wrapper's. */
export function rootMessage(error: unknown, depth = 0): string {
  if (depth < 8 && error instanceof AggregateError && error.errors.length > 0) return rootMessage(error.errors[0], depth + 1);
  if (depth < 8 && error instanceof Error && error.cause !== undefined) return rootMessage(error.cause, depth + 1);
  return error instanceof Error ? error.message : String(error);
}

/**
 * The error to report for `error`, thrown while starting on `mode`: a {@link ServerStartError}
 * for the expected failures (PostgreSQL or Redis unreachable, the port taken), else `error`.
 */
export function startFailure(error: unknown, mode: StorageMode, host: string, port: number): unknown {
  if (error instanceof ServerStartError) return error;
  const code = codeOf(error);
  if (code === "EADDRINUSE" || code === "EACCES" || code === "EADDRNOTAVAIL") {
    return new ServerStartError(portMessage(host, port, code), { cause: error });
  }
  if (error instanceof UnavailableError && mode.kind === "external") {
    if (error.reason === "STORE_UNAVAILABLE") {
      return new ServerStartError(
        `cannot reach PostgreSQL at ${redactUrl(mode.databaseUrl)}: ${rootMessage(error)} (is it running? TASKWIRE_DATABASE_URL, --database-url)`,
        { cause: error },
      );
    }
    if (error.reason === "BROKER_UNAVAILABLE") {
      // ioredis rejects a failed first connection with "Connection is closed." only; the socket's
      // own error (ECONNREFUSED…) is in the log line of the broker just above.
      const root = rootMessage(error);
      const why = /^Connection is closed\.?$/.test(root) ? "" : `: ${root}`;
      return new ServerStartError(`cannot reach Redis at ${redactUrl(mode.redisUrl)}${why} (is it running? TASKWIRE_REDIS_URL, --redis-url)`, { cause: error });
    }
  }
  return error;
}
