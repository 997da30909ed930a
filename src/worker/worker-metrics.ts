/**
 * A worker's own Prometheus series, served on `metricsPort` (`taskwire worker start
 * --metrics-port`) when asked: what this process ran, how long, and its slots and connection,
 * next to Node's process metrics. Labels are task types and results only (bounded; no task ids).
 * The server's `/metrics` has the fleet's view; this is the view from inside one worker (its
 * handlers' run times without the network, its reconnects). Keep in line with the README's "Metrics".
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import type { AttemptOutcome } from "./task-runner.js";

/** Seconds, as the server's `taskwire_task_run_duration_seconds`. */
const RUN_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/** The `result` label of an outcome: `succeeded`, `cancelled`, or the failure's error kind in lower case. */
export function outcomeResult(outcome: AttemptOutcome): string {
  if (outcome.kind === "output") return "succeeded";
  if (outcome.kind === "cancelled") return "cancelled";
  return (ErrorKind[outcome.failure.kind] ?? "unspecified").toLowerCase();
}

/** What the gauges read when scraped. */
export interface WorkerMetricSources {
  running(): number;
  held(): number;
  slots: number;
  connected(): boolean;
}

/** One worker's series; see the file header. */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly #attempts: Counter<"type" | "result">;
  readonly #runTime: Histogram<"type">;
  readonly #reconnects: Counter;
  readonly #sources: WorkerMetricSources;
  #server: Server | undefined;

  constructor(sources: WorkerMetricSources) {
    this.#sources = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.#attempts = new Counter({
      name: "taskwire_worker_attempts_total",
      help: "Attempts this worker ran to the end, by result: succeeded, cancelled, or the error kind.",
      labelNames: ["type", "result"],
      registers,
    });
    this.#runTime = new Histogram({
      name: "taskwire_worker_attempt_duration_seconds",
      help: "Time a handler ran, from its start to its outcome.",
      labelNames: ["type"],
      buckets: RUN_BUCKETS,
      registers,
    });
    this.#reconnects = new Counter({
      name: "taskwire_worker_reconnects_total",
      help: "Streams this worker opened again after one broke or a server drained it.",
      registers,
    });
    new Gauge({
      name: "taskwire_worker_attempts_running",
      help: "Attempts running now.",
      registers,
      collect() {
        this.set(sources.running());
      },
    });
    new Gauge({
      name: "taskwire_worker_attempts_held",
      help: "Attempts held: running, or prefetched and waiting for a slot.",
      registers,
      collect() {
        this.set(sources.held());
      },
    });
    new Gauge({
      name: "taskwire_worker_slots",
      help: "Slots this worker grants the server: concurrency plus prefetch.",
      registers,
      collect() {
        this.set(sources.slots);
      },
    });
    new Gauge({
      name: "taskwire_worker_connected",
      help: "1 while the worker's stream to a server is open and taking work, else 0.",
      registers,
      collect() {
        this.set(sources.connected() ? 1 : 0);
      },
    });
  }

  /** An attempt of `type` ran for `seconds` and ended with `outcome`. */
  attemptEnded(type: string, outcome: AttemptOutcome, seconds: number): void {
    this.#attempts.inc({ type, result: outcomeResult(outcome) });
    this.#runTime.observe({ type }, seconds);
  }

  /** The worker opened a stream again. */
  reconnected(): void {
    this.#reconnects.inc();
  }

  /**
   * Serves `GET /metrics` and `GET /health` on `host:port` (0: a free port). `/health` answers
   * 200 `{"status":"SERVING"}` while the worker's stream is open and taking work, else 503
   * `{"status":"NOT_SERVING"}` (connecting, reconnecting, draining): what `taskwire health
   * --worker` and container health checks read. @returns the port.
   */
  async listen(host: string, port: number): Promise<number> {
    const server = createServer((request, response) => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        response.writeHead(405, { "Content-Type": "text/plain; charset=utf-8", Allow: "GET, HEAD" }).end("only GET /metrics and GET /health are served here\n");
        return;
      }
      if (request.url === "/health") {
        const serving = this.#sources.connected();
        response
          .writeHead(serving ? 200 : 503, { "Content-Type": "application/json", "Cache-Control": "no-store" })
          .end(request.method === "HEAD" ? "" : `${JSON.stringify({ status: serving ? "SERVING" : "NOT_SERVING" })}\n`);
        return;
      }
      if (request.url !== "/metrics") {
        response.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("only GET /metrics and GET /health are served here\n");
        return;
      }
      this.registry.metrics().then(
        (body) => response.writeHead(200, { "Content-Type": this.registry.contentType, "Cache-Control": "no-store" }).end(request.method === "HEAD" ? "" : body),
        () => response.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" }).end("the metrics could not be collected\n"),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    // Scrapes must not keep a stopping worker alive.
    server.unref();
    this.#server = server;
    return (server.address() as AddressInfo).port;
  }

  /** Stops serving; safe to call twice. */
  close(): void {
    this.#server?.close();
    this.#server?.closeAllConnections();
    this.#server = undefined;
  }
}
