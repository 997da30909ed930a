/**
 * A Redis of a test's own (`redis-server` on a free port, no persistence), for tests that stop
 * Redis to see what the server does; the shared Redis on 6379 is never stopped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";

/** A private `redis-server` process that can be stopped and started again on the same port. */
export interface PrivateRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops the process (SIGTERM) and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: nothing is saved). */
  start(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open and nothing answers, as a hung Redis. */
  pause(): void;
  /** Lets a paused Redis go on (SIGCONT), its data kept; what was sent meanwhile runs now. */
  resume(): void;
}

/** A port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts `redis-server --port <free port> --save ''` and waits until it accepts connections. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async (): Promise<void> => {
    const process = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = process;
    exited = new Promise((resolve) => process.once("exit", () => resolve()));
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          process.stdout?.off("data", onData);
          resolve();
        }
      };
      process.stdout?.on("data", onData);
      process.once("exit", (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
    });
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT"); // a paused Redis handles no SIGTERM
        child.kill("SIGTERM");
      }
      await exited;
    },
    start,
    pause() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGSTOP");
    },
    resume() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGCONT");
    },
  };
}
