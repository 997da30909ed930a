/**
 * A TCP load balancer in front of several servers, as in production: each new connection goes
 * to the next backend in turn that accepts it, so a worker whose server went away (stopped
 * listening) lands on another one when it reconnects. With one backend it is a proxy whose
 * line can be cut (a network partition: the backend keeps its data, nobody reaches it).
 */
import { connect, createServer, type AddressInfo, type Socket } from "node:net";

/** A running balancer. */
export interface TcpBalancer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Connections made to each backend port so far. */
  readonly routed: ReadonlyMap<number, number>;
  /** Drops every open connection and stops listening (connections are refused) until {@link TcpBalancer.restore}. */
  cut(): Promise<void>;
  /** Listens again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a balancer on a free port, over the backends' ports on 127.0.0.1. */
export async function startTcpBalancer(backends: readonly number[]): Promise<TcpBalancer> {
  const routed = new Map<number, number>();
  const sockets = new Set<Socket>();
  let next = 0;

  /** Connects to the first backend, from the next in turn, that accepts. */
  const open = (tried = 0): Promise<Socket> =>
    new Promise((resolve, reject) => {
      if (tried >= backends.length) {
        reject(new Error("no backend accepts connections"));
        return;
      }
      const port = backends[next++ % backends.length] as number;
      const upstream = connect(port, "127.0.0.1");
      upstream.once("connect", () => {
        upstream.removeAllListeners("error");
        routed.set(port, (routed.get(port) ?? 0) + 1);
        resolve(upstream);
      });
      upstream.once("error", () => {
        upstream.destroy();
        open(tried + 1).then(resolve, reject);
      });
    });

  const server = createServer((downstream) => {
    sockets.add(downstream);
    downstream.once("close", () => sockets.delete(downstream));
    downstream.pause();
    open().then(
      (upstream) => {
        sockets.add(upstream);
        upstream.once("close", () => sockets.delete(upstream));
        upstream.setNoDelay(true);
        downstream.setNoDelay(true);
        downstream.pipe(upstream).on("error", () => upstream.destroy());
        upstream.pipe(downstream).on("error", () => downstream.destroy());
        upstream.on("error", () => downstream.destroy());
        downstream.on("error", () => upstream.destroy());
        upstream.once("close", () => downstream.destroy());
        downstream.once("close", () => upstream.destroy());
        downstream.resume();
      },
      () => downstream.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routed,
    async cut() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    async restore() {
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    },
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
