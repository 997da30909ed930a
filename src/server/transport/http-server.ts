/**
 * One port for every protocol: a connection that opens with the HTTP/2 preface goes to a
 * `node:http2` server (gRPC and gRPC-Web over h2c, Connect over HTTP/2); anything else goes to a
 * `node:http` server (Connect/JSON and gRPC-Web over HTTP/1.1).
 */
import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from "node:http";
import {
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from "node:http2";
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from "node:net";
import { closeGracefully } from "./graceful-close.js";
import { closeWhenIdle, DEFAULT_CONNECTION_LIMITS, dropUnlessStarted, http2Settings, type ConnectionLimits } from "./connection-limits.js";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** A request handler both servers share (the Connect adapter). */
export type HttpHandler = (
  request: IncomingMessage | Http2ServerRequest,
  response: ServerResponse | Http2ServerResponse,
) => void;

export interface DualProtocolServer {
  /** Starts listening; resolves with the bound port. */
  listen(host: string, port: number): Promise<number>;
  /** Stops accepting, lets open calls finish for `graceMs`, then closes what remains. Safe to call twice. */
  close(graceMs: number): Promise<void>;
}

/** Starts `server` listening, as {@link DualProtocolServer.listen} does; rejects when it cannot bind. */
export function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** `limits`: streams per HTTP/2 connection and the idle timeout (`connection-limits.ts`). */
export function createDualProtocolServer(handler: HttpHandler, limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS): DualProtocolServer {
  const http2 = createHttp2Server({ settings: http2Settings(limits) }, handler);
  const http1 = createHttp1Server(handler);
  http1.keepAliveTimeout = limits.idleTimeoutMs > 0 ? Math.min(65_000, limits.idleTimeoutMs) : 65_000;
  const sessions = new Set<Http2Session>();
  const sockets = new Set<Socket>();
  http2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    closeWhenIdle(session, limits.idleTimeoutMs);
  });

  const net = createNetServer((socket) => {
    sockets.add(socket);
    // Replies are small and latency-bound (assignments, acks): no Nagle delay.
    socket.setNoDelay(true);
    socket.once("close", () => sockets.delete(socket));
    // A connection that sends nothing is dropped after the idle timeout.
    const started = dropUnlessStarted(socket, limits.idleTimeoutMs);
    socket.once("data", (chunk: Buffer) => {
      started();
      socket.pause();
      socket.unshift(chunk);
      const head = chunk.subarray(0, PREFACE.length);
      if (head.equals(PREFACE.subarray(0, head.length))) {
        // The HTTP/2 session reads the unshifted bytes from the socket's buffer itself; resuming
        // the socket here would drain them into the void.
        http2.emit("connection", socket);
      } else {
        http1.emit("connection", socket);
        socket.resume();
      }
    });
    socket.on("error", () => socket.destroy());
  });

  let closing: Promise<void> | undefined;
  return {
    listen(host, port) {
      return listen(net, host, port);
    },
    close(graceMs) {
      closing ??= closeGracefully({ server: net, sessions, sockets, closeIdleHttp1: () => http1.closeIdleConnections() }, graceMs);
      return closing;
    },
  };
}
