/**
 * How the cleartext server (`http-server.ts`) and the TLS server (`tls-server.ts`) close: drain,
 * grace, force. They stop accepting, ask every HTTP/2 session to finish (GOAWAY: its open calls
 * go on, no new ones start) and close HTTP/1.1 connections as soon as no request is in flight on
 * them; once every connection is gone, or the grace period is over, what remains is destroyed.
 */
import type { Http2Session } from "node:http2";
import type { Server, Socket } from "node:net";

/** What a server keeps track of so that it can be closed gracefully. */
export interface OpenConnections {
  /** The listening server: it stops accepting at once, and calls back once every connection is gone. */
  readonly server: Server;
  /** HTTP/2 sessions, from start to close. */
  readonly sessions: ReadonlySet<Http2Session>;
  /** TCP sockets, from accept to close, to force them closed. */
  readonly sockets: ReadonlySet<Socket>;
  /** Closes the HTTP/1.1 connections with no request in flight; called until nothing is left. */
  closeIdleHttp1(): void;
}

/** How often the drain looks again for HTTP/1.1 connections that became idle. */
const POLL_MS = 25;

/**
 * Stops accepting, lets open calls finish for `graceMs`, then destroys the sessions and sockets
 * that remain. Resolves once the server is closed. Not safe to call twice: the caller keeps the
 * first call's promise.
 */
export async function closeGracefully(open: OpenConnections, graceMs: number): Promise<void> {
  const { server, sessions, sockets } = open;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const session of sessions) session.close();
  open.closeIdleHttp1();
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, graceMs).unref());
  const drained = (async () => {
    while (sessions.size > 0 || sockets.size > 0) {
      open.closeIdleHttp1();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  await Promise.race([drained, deadline]);
  for (const session of sessions) session.destroy();
  for (const socket of sockets) socket.destroy();
  await stopped;
}
