/**
 * Worker process of the durable peers (issue 16): graphile-worker and BullMQ on its PostgreSQL
 * backend, one at a time, each used with the settings its documentation gives for throughput.
 * Started by `WorkerHost` (bench/processes.ts); see `protocol.ts`. The target's `prefix` says
 * which peer (`graphile:<schema>` or `bullmq-pg:<schema>`); its `url` is the PostgreSQL URL.
 *
 * - graphile-worker: `concurrentJobs` as asked, a local queue (`localQueue.size`: a batch of
 *   jobs locked and fetched per query) and batched completion (`completeJobBatchDelay: 0`, the
 *   completions of one turn deleted in one statement), as its performance page describes.
 *   Completed jobs are deleted, so the handler stamps its finish times (the bench's clock),
 *   which the bench reads with `finishTimes`.
 * - BullMQ on PostgreSQL: a `Worker` with `createPostgresBackend`, completed jobs kept (its
 *   default), as on Redis. Loaded through CommonJS, where BullMQ can load `pg` itself and honour
 *   the schema of the connection options.
 */
import { createRequire } from "node:module";
import { Logger, run, type Runner } from "graphile-worker";
import { wallClockMs } from "../clock.js";
import { finished } from "./finish-counter.js";
import { serveHost, type HostRequest } from "./protocol.js";

interface BullmqWorker {
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
  on(event: "error", listener: (error: unknown) => void): void;
}
const bullmq = createRequire(import.meta.url)("bullmq") as {
  Worker: new (name: string, processor: () => Promise<unknown>, options: object, backend: unknown) => BullmqWorker;
  createPostgresBackend: unknown;
};

/** Jobs graphile-worker fetches and locks per query (its local queue). */
const GRAPHILE_LOCAL_QUEUE = 500;

let stopCurrent: (() => Promise<void>) | undefined;
/** Finish times of this run's handler calls (graphile-worker keeps no record of them). */
const finishes: number[] = [];

function done(): void {
  finishes.push(wallClockMs());
  finished.add();
}

async function start(request: Extract<HostRequest, { op: "start" }>): Promise<void> {
  if (stopCurrent) throw new Error("a worker is already running in this process");
  finished.reset();
  finishes.length = 0;
  const [peer, schema] = (request.target.prefix ?? "").split(":");
  if (peer === "graphile") {
    const runner: Runner = await run({
      noHandleSignals: true,
      logger: new Logger(() => () => {}),
      taskList: { [request.queue]: async () => done() },
      preset: {
        worker: {
          connectionString: request.target.url,
          schema,
          concurrentJobs: request.concurrency,
          maxPoolSize: Math.min(20, request.concurrency + 2),
          pollInterval: 1000,
          localQueue: { size: Math.max(GRAPHILE_LOCAL_QUEUE, request.concurrency + 1) },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    stopCurrent = () => runner.stop();
    return;
  }
  if (peer === "bullmq-pg") {
    const worker = new bullmq.Worker(
      request.queue,
      async () => {
        done();
        return {};
      },
      { connection: { connectionString: request.target.url, schema }, concurrency: request.concurrency },
      bullmq.createPostgresBackend,
    );
    worker.on("error", (error) => process.stderr.write(`bullmq (PostgreSQL) worker error: ${String(error)}\n`));
    await worker.waitUntilReady();
    stopCurrent = () => worker.close();
    return;
  }
  throw new Error(`unknown peer ${request.target.prefix ?? ""}`);
}

async function stop(): Promise<void> {
  const stopping = stopCurrent;
  stopCurrent = undefined;
  await stopping?.();
}

serveHost(async (request) => {
  switch (request.op) {
    case "start":
      return start(request);
    case "finished":
      return finished.reached(request.count, request.timeoutMs);
    case "finishTimes":
      return [finishes[request.first], finishes[request.last]];
    case "stop":
      return stop();
  }
});
