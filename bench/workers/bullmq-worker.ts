/**
 * Worker process of the BullMQ side: hosts a BullMQ `Worker` on one queue at a time, used as
 * BullMQ's documentation shows (a processor function, `concurrency`, default job retention:
 * completed jobs and their return values are kept, like Taskwire's recorded results). Started
 * by `WorkerHost` (bench/processes.ts); see `protocol.ts`.
 */
import { Worker, type Processor } from "bullmq";
import { wallClockMs } from "../clock.js";
import { bullmqConnection } from "../systems/redis-tools.js";
import { finished } from "./finish-counter.js";
import { serveHost, type HostRequest } from "./protocol.js";

const processors: Record<"noop" | "stamp", Processor> = {
  noop: async () => {
    finished.add();
    return {};
  },
  stamp: async () => {
    const startedAt = wallClockMs();
    finished.add();
    return { startedAt };
  },
};

let current: Worker | undefined;

async function start(request: Extract<HostRequest, { op: "start" }>): Promise<void> {
  if (current) throw new Error("a worker is already running in this process");
  finished.reset();
  const worker = new Worker(request.queue, processors[request.task], {
    connection: bullmqConnection(request.target.url),
    prefix: request.target.prefix,
    concurrency: request.concurrency,
  });
  worker.on("error", (error) => process.stderr.write(`bullmq worker error: ${String(error)}\n`));
  current = worker;
  await worker.waitUntilReady();
}

async function stop(): Promise<void> {
  if (!current) return;
  const worker = current;
  current = undefined;
  await worker.close();
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
