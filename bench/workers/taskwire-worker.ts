/**
 * Worker process of the Taskwire side: hosts the SDK's `Worker` serving the bench tasks, one
 * queue at a time, as `taskwire worker start --tasks bench/tasks.ts` would. Started by
 * `WorkerHost` (bench/processes.ts); see `protocol.ts`.
 */
import { createLogger } from "../../src/core/logger.js";
import { Worker } from "../../src/worker/index.js";
import { noop, stamp } from "../tasks.js";
import { finished } from "./finish-counter.js";
import { serveHost, type HostRequest } from "./protocol.js";

let current: { worker: Worker; run: Promise<void> } | undefined;
const logger = createLogger(process.env.TASKWIRE_LOG_LEVEL ?? "warn");

async function start(request: Extract<HostRequest, { op: "start" }>): Promise<void> {
  if (current) throw new Error("a worker is already running in this process");
  finished.reset();
  const worker = new Worker({ url: request.target.url, tasks: [noop, stamp], queues: [request.queue], concurrency: request.concurrency, prefetch: request.prefetch ?? 0, logger });
  const connected = new Promise<void>((resolve, reject) => {
    const stop = worker.onStateChange((state) => {
      if (state === "RUNNING") resolve();
      else if (state === "FAILED" || state === "STOPPED") reject(new Error(`the worker ended (${state}) before it connected`));
      else return;
      stop();
    });
  });
  const run = worker.run();
  current = { worker, run };
  run.catch(() => {}); // a failure surfaces through `connected` or `stop`
  await connected;
}

async function stop(): Promise<void> {
  if (!current) return;
  const { worker, run } = current;
  current = undefined;
  await worker.shutdown();
  await run;
}

serveHost(async (request) => {
  switch (request.op) {
    case "start":
      return start(request);
    case "finished":
      return finished.reached(request.count, request.timeoutMs);
    case "stop":
      return stop();
  }
});
