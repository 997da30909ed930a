/**
 * HTTP/2 sessions of the SDKs. Worker streams and client calls exchange small messages whose
 * latency is the throughput (an assignment waits for a grant, a grant for a completion), so the
 * socket disables Nagle's algorithm: without it, each small write can wait for the peer's
 * delayed ACK (tens of milliseconds).
 */
import { Http2SessionManager } from "@connectrpc/connect-node";
import { connect as connectTcp, isIP } from "node:net";
import { connect as connectTls, type SecureContextOptions } from "node:tls";

/** PEM certificates of the authorities to trust for `https:` servers, as `tls.connect` takes them. */
export type CaCertificates = NonNullable<SecureContextOptions["ca"]>;

/** Options of {@link createSessionManager}. */
export interface SessionOptions {
  /**
   * Trust these certificate authorities (PEM) instead of the system's, for `https:` URLs: the
   * certificate of a server with a self-signed certificate, or of a private CA. @default the system's
   */
  ca?: CaCertificates;
  /** Ping the server this often to notice a dead connection. */
  pingIntervalMs?: number;
  /** Give up on the connection when a ping gets no answer within this time. */
  pingTimeoutMs?: number;
}

/**
 * Memory one HTTP/2 session may buffer, in megabytes. Node's default (10) is smaller than the
 * server's largest message (8 MiB by default, up to 256 MiB): a larger message failed on the
 * client itself with `NGHTTP2_ENHANCE_YOUR_CALM` (INTERNAL) before the server could refuse it with
 * `RESOURCE_EXHAUSTED` naming its limit.
 */
const MAX_SESSION_MEMORY_MB = 300;

/** A session manager for `url` whose sockets send small writes at once. */
export function createSessionManager(url: string, options: SessionOptions = {}): Http2SessionManager {
  const { ca, ...pingOptions } = options;
  return new Http2SessionManager(url, pingOptions, {
    maxSessionMemory: MAX_SESSION_MEMORY_MB,
    createConnection(authority: URL) {
      const port = Number(authority.port) || (authority.protocol === "https:" ? 443 : 80);
      const host = authority.hostname.replace(/^\[(.*)\]$/, "$1");
      const socket =
        authority.protocol === "https:"
          ? // SNI takes host names only (RFC 6066); an IP address is still checked against the certificate.
            connectTls({ host, port, servername: isIP(host) === 0 ? host : undefined, ALPNProtocols: ["h2"], ca })
          : connectTcp({ host, port });
      socket.setNoDelay(true);
      return socket;
    },
  });
}
