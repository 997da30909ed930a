/**
 * One TLS port for every protocol (`TASKWIRE_TLS_CERT`/`TASKWIRE_TLS_KEY`): ALPN picks HTTP/2
 * (gRPC, gRPC-Web, Connect) or HTTP/1.1 (Connect/JSON, gRPC-Web), both served by
 * `http2.createSecureServer({ allowHTTP1: true })`. The cleartext counterpart, which tells the
 * protocols apart by the HTTP/2 preface, is `http-server.ts`; both drain the same way
 * (`graceful-close.ts`).
 */
import type { Http2ServerResponse, Http2Session } from "node:http2";
import { createSecureServer } from "node:http2";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { closeGracefully } from "./graceful-close.js";
import { closeWhenIdle, DEFAULT_CONNECTION_LIMITS, http2Settings, IdleTimer, type ConnectionLimits } from "./connection-limits.js";
import { listen, type DualProtocolServer, type HttpHandler } from "./http-server.js";
import type { TlsCredentials } from "./tls-credentials.js";

/** A server of `handler` over TLS; see the file header. */
export function createTlsServer(
  handler: HttpHandler,
  credentials: TlsCredentials,
  limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
): DualProtocolServer {
  const server = createSecureServer(
    {
      cert: credentials.cert,
      key: credentials.key,
      allowHTTP1: true,
      settings: http2Settings(limits),
      // A connection that does not complete its handshake (sends nothing) is dropped: within the
      // idle timeout, and never later than TLS's default of 2 minutes.
      handshakeTimeout: limits.idleTimeoutMs > 0 ? Math.min(120_000, limits.idleTimeoutMs) : 120_000,
    },
    handler,
  );
  /** Idleness of HTTP/1.1 connections (no request in flight); HTTP/2 sessions watch their own streams. */
  const idleHttp1 = new WeakMap<TLSSocket, IdleTimer>();
  const sessions = new Set<Http2Session>();
  /** TCP sockets, from accept to close (TLS handshakes included), to force them closed. */
  const sockets = new Set<Socket>();
  /** HTTP/1.1 connections and how many of their requests are in flight, to close the idle ones. */
  const http1 = new Map<TLSSocket, number>();

  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    // Replies are small and latency-bound (assignments, acks): no Nagle delay.
    socket.setNoDelay(true);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    closeWhenIdle(session, limits.idleTimeoutMs);
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    if (socket.alpnProtocol === "h2") return;
    http1.set(socket, 0);
    if (limits.idleTimeoutMs > 0) idleHttp1.set(socket, new IdleTimer(limits.idleTimeoutMs, () => socket.destroy()));
    socket.once("close", () => {
      http1.delete(socket);
      idleHttp1.get(socket)?.stop();
    });
  });
  server.on("request", (request, response: Http2ServerResponse) => {
    if (request.httpVersionMajor !== 1) return;
    const socket = request.socket as TLSSocket;
    http1.set(socket, (http1.get(socket) ?? 0) + 1);
    idleHttp1.get(socket)?.opened();
    response.once("close", () => {
      if (http1.has(socket)) http1.set(socket, Math.max(0, (http1.get(socket) ?? 1) - 1));
      idleHttp1.get(socket)?.closed();
    });
  });

  /** Closes the HTTP/1.1 connections with no request in flight, as `closeIdleConnections()` does for `node:http`. */
  const closeIdleHttp1 = (): void => {
    for (const [socket, inFlight] of http1) if (inFlight === 0) socket.destroy();
  };

  let closing: Promise<void> | undefined;
  return {
    listen(host, port) {
      return listen(server, host, port);
    },
    close(graceMs) {
      closing ??= closeGracefully({ server, sessions, sockets, closeIdleHttp1 }, graceMs);
      return closing;
    },
  };
}
