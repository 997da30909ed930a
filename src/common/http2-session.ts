/**
 * HTTP/2 sessions of the SDKs. Worker streams and client calls exchange small messages whose
 * latency is the throughput (an assignment waits for a grant, a grant for a completion), so the
 * socket disables Nagle's algorithm: without it, each small write can wait for the peer's
 * delayed ACK (tens of milliseconds).
 */
import { Http2SessionManager } from "@connectrpc/connect-node";
import { connect as connectTcp } from "node:net";
import { connect as connectTls } from "node:tls";

/** Options of {@link createSessionManager}. */
export interface SessionOptions {
  /** Ping the server this often to notice a dead connection. */
  pingIntervalMs?: number;
  /** Give up on the connection when a ping gets no answer within this time. */
  pingTimeoutMs?: number;
}

/** A session manager for `url` whose sockets send small writes at once. */
export function createSessionManager(url: string, options: SessionOptions = {}): Http2SessionManager {
  return new Http2SessionManager(url, options, {
    createConnection(authority: URL) {
      const port = Number(authority.port) || (authority.protocol === "https:" ? 443 : 80);
      const host = authority.hostname.replace(/^\[(.*)\]$/, "$1");
      const socket =
        authority.protocol === "https:"
          ? connectTls({ host, port, servername: host, ALPNProtocols: ["h2"] })
          : connectTcp({ host, port });
      socket.setNoDelay(true);
      return socket;
    },
  });
}
