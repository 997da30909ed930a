/**
 * Bounds on connections, shared by the cleartext server (`http-server.ts`) and the TLS server
 * (`tls-server.ts`): how many calls one HTTP/2 connection may carry at once, and how long a
 * connection may stay open carrying none (`ServerConfig.maxStreamsPerConnection`,
 * `ServerConfig.idleTimeoutMs`; README "Security").
 *
 * An idle connection costs the server about 87 KB and nothing stopped them piling up. A
 * connection counts as idle while no call is open on it, whatever it sends (HTTP/2 PINGs keep
 * a socket busy, not a connection useful): an HTTP/2 session is then closed with GOAWAY (clients
 * reconnect on their next call), a connection that has not even started a protocol is
 * destroyed. Open calls are never cut: a worker's stream or a long `StreamProgress` keeps its
 * connection however quiet it is. HTTP/1.1 keep-alive connections have their own, shorter
 * timeout (`keepAliveTimeout`).
 */
import type { Http2Session, ServerHttp2Stream, Settings } from "node:http2";
import type { Socket } from "node:net";
import { DEFAULTS } from "../../config/config.js";

/** The connection limits of a server. */
export interface ConnectionLimits {
  /** `SETTINGS_MAX_CONCURRENT_STREAMS` of every HTTP/2 session: clients queue calls beyond it. */
  maxStreamsPerConnection: number;
  /** A connection with no call open this long is closed; 0: never. */
  idleTimeoutMs: number;
}

/** The HTTP/2 settings a server advertises under `limits`. */
export function http2Settings(limits: ConnectionLimits): Settings {
  return { maxConcurrentStreams: limits.maxStreamsPerConnection };
}

/** Calls `onIdle` once nothing has been open for `idleMs`; `opened()` and `closed()` count what is. */
export class IdleTimer {
  #open = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: () => void,
  ) {
    this.#arm();
  }

  /** Something opened (a call started): not idle. */
  opened(): void {
    this.#open++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Something closed; with nothing left open, idleness starts counting. */
  closed(): void {
    this.#open = Math.max(0, this.#open - 1);
    if (this.#open === 0) this.#arm();
  }

  /** Stops watching (the connection closed). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#open = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    if (this.idleMs <= 0 || this.#open > 0) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.onIdle();
    }, this.idleMs);
    this.#timer.unref();
  }
}

/** Closes `session` with GOAWAY once it has had no open stream for `idleMs` (0: never). */
export function closeWhenIdle(session: Http2Session, idleMs: number): void {
  if (idleMs <= 0) return;
  const timer = new IdleTimer(idleMs, () => {
    if (!session.closed && !session.destroyed) session.close();
  });
  session.on("stream", (stream: ServerHttp2Stream) => {
    timer.opened();
    stream.once("close", () => timer.closed());
  });
  session.once("close", () => timer.stop());
}

/**
 * Destroys `socket` unless `started()` is called within `idleMs` (0: never): a connection that
 * sends nothing (not even a protocol preface or a TLS handshake) is dropped.
 * @returns `started`, to call once the socket began a protocol.
 */
export function dropUnlessStarted(socket: Socket, idleMs: number): () => void {
  if (idleMs <= 0) return () => {};
  const timer = new IdleTimer(idleMs, () => socket.destroy());
  socket.once("close", () => timer.stop());
  return () => timer.stop();
}

/** The limits with `ServerConfig`'s defaults. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxStreamsPerConnection: DEFAULTS.maxStreamsPerConnection,
  idleTimeoutMs: DEFAULTS.idleTimeoutMs,
};
