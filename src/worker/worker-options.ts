/**
 * The options of a `Worker`, their defaults, and their validation. Everything is checked in the
 * constructor, so a bad option fails at start-up with a message naming it.
 */
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Transport } from "@connectrpc/connect";
import type { CaCertificates } from "../common/http2-session.js";
import type { Hello } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { TaskDefinition } from "../common/task-definition.js";
import { QUEUE_NAME } from "../core/limits.js";
import { createLogger, type Logger } from "../core/logger.js";
import { WorkerConfigError } from "./errors.js";
import { buildHello, defaultQueues, taskDeclaration } from "./hello.js";

/** Options of a {@link Worker}. */
export interface WorkerOptions {
  /** The server, e.g. `http://localhost:50051` (h2c) or `https://…`. */
  url: string;
  /** The task types this worker runs. */
  tasks: readonly TaskDefinition[];
  /**
   * Queues served, strictly in this order.
   * @default the default queues of `tasks` in order, then `high_priority, default, low_priority`
   * when any task has no default queue
   */
  queues?: readonly string[];
  /** How many tasks run at once. @default 10 */
  concurrency?: number;
  /**
   * How many more tasks the worker takes ahead, to start the moment a running one ends: it
   * grants the server `concurrency + prefetch` slots. Worth it for short tasks, where the round
   * trip to the server for the next task costs more than the task; a prefetched task is RUNNING
   * (its lease and its timeout count) while it waits, and waits behind the running ones, so keep
   * it at 0 for long tasks. @default 0
   */
  prefetch?: number;
  /**
   * Unique per worker process; the server refuses a second stream with an id that is connected.
   * @default `<hostname>-<pid>-<random>`
   */
  workerId?: string;
  /**
   * Scoped per worker, task and attempt. Pass `silentLogger()` (or a logger of your own) to
   * keep a worker quiet. @default info and above on stderr: pretty on a terminal, else JSON lines
   * (`createLogger()`), so each attempt's outcome is seen
   */
  logger?: Logger;
  /** How long `shutdown()` lets running tasks finish before aborting them. @default 10 s */
  shutdownGraceMs?: number;
  /**
   * How long the worker waits for the other side at the end: for aborted tasks to settle after
   * the grace period, for the server to acknowledge results, and for it to close the stream.
   * @default 5 s
   */
  shutdownHardLimitMs?: number;
  /** Stop for good once the server says the queues are empty and the worker is idle. @default false */
  burst?: boolean;
  /** Sent with every stream, like `{ authorization: "Bearer <token>" }` (a worker or admin API key). @default none */
  headers?: Readonly<Record<string, string>>;
  /**
   * Certificate authorities (PEM) to trust for an `https:` URL instead of the system's: the
   * server's own certificate when it is self-signed, or a private CA's. @default the system's
   */
  ca?: CaCertificates;
  /** A ready transport (tests, custom TLS); `url` is then only used in logs. @default gRPC over HTTP/2 to `url` */
  transport?: Transport;
  /**
   * Serve this worker's own Prometheus metrics on `GET /metrics` at this port (0: a free one;
   * see `Worker.metricsPort`), on `metricsHost`. @default none: no metrics endpoint
   */
  metricsPort?: number;
  /** The interface of `metricsPort`; `0.0.0.0` lets a Prometheus on another host scrape it. @default "127.0.0.1" */
  metricsHost?: string;
  /**
   * Run the handlers in a pool of this many child processes (`pool/process-pool.ts`, README
   * "Worker pool"), so a CPU-bound or crashing handler neither delays the stream's heartbeats
   * nor ends the worker. Needs `taskModules`. `worker.use()` middleware and the tasks' hooks
   * still run in this process, around the pooled run. From 1 to 256.
   * @default none: handlers run in this process
   */
  processes?: number;
  /**
   * With `processes`: the modules that export `tasks` (paths, relative to the current directory,
   * or file URLs), loaded in each pool process, which must find every task there.
   * @example taskModules: [new URL("./tasks.js", import.meta.url)]
   */
  taskModules?: readonly (string | URL)[];
  /**
   * Drain and stop (`run()` resolves) once no attempt has been held for this long, in ms: for
   * workers that scale to zero. @default none: a worker waits for work forever
   */
  idleExitMs?: number;
}

/** The options with defaults applied, and the Hello they make. */
export interface ResolvedWorkerOptions {
  url: string;
  tasks: ReadonlyMap<string, TaskDefinition>;
  queues: readonly string[];
  concurrency: number;
  prefetch: number;
  workerId: string;
  logger: Logger;
  shutdownGraceMs: number;
  shutdownHardLimitMs: number;
  burst: boolean;
  headers: Readonly<Record<string, string>> | undefined;
  ca: CaCertificates | undefined;
  transport: Transport | undefined;
  metricsPort: number | undefined;
  metricsHost: string;
  /** The process pool, when `processes` asked for one: its size and the modules' absolute paths. */
  pool: { processes: number; modules: readonly string[] } | undefined;
  idleExitMs: number | undefined;
  hello: Hello;
}

/** Defaults of the options that have one. */
export const WORKER_DEFAULTS = {
  concurrency: 10,
  prefetch: 0,
  shutdownGraceMs: 10_000,
  shutdownHardLimitMs: 5_000,
} as const;

function nonNegative(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new WorkerConfigError(`${name} must be a duration in ms ≥ 0, got ${value}`);
  return value;
}

function positiveMs(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new WorkerConfigError(`${name} must be a duration in ms > 0, got ${value}`);
  return value;
}

/** The pool asked for by `processes` and `taskModules`, validated. */
function resolvePool(options: WorkerOptions): ResolvedWorkerOptions["pool"] {
  const { processes, taskModules } = options;
  if (processes === undefined) {
    if (taskModules !== undefined) throw new WorkerConfigError("taskModules is only read with processes: give both, or neither");
    return undefined;
  }
  if (!Number.isInteger(processes) || processes < 1 || processes > 256) {
    throw new WorkerConfigError(`processes must be an integer from 1 to 256, got ${processes}`);
  }
  if (taskModules === undefined || taskModules.length === 0) {
    throw new WorkerConfigError("processes needs taskModules: the modules that export the tasks, loaded in each pool process");
  }
  const modules = taskModules.map((module) => {
    if (module instanceof URL) {
      if (module.protocol !== "file:") throw new WorkerConfigError(`taskModules: ${module.href} is not a file: URL`);
      return fileURLToPath(module);
    }
    return module.startsWith("file:") ? fileURLToPath(module) : resolve(module);
  });
  return { processes, modules };
}

/**
 * Applies defaults and validates.
 * @throws WorkerConfigError naming the bad option or task.
 */
export function resolveWorkerOptions(options: WorkerOptions): ResolvedWorkerOptions {
  if (options.transport === undefined) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new WorkerConfigError(`url is not a URL: "${options.url}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new WorkerConfigError(`url must use http: (h2c) or https:, got "${url.protocol}"`);
    }
  }
  if (options.tasks.length === 0) throw new WorkerConfigError("tasks must hold at least one task definition");
  const tasks = new Map<string, TaskDefinition>();
  for (const task of options.tasks) {
    if (tasks.has(task.name)) throw new WorkerConfigError(`task "${task.name}" is listed twice`);
    tasks.set(task.name, task);
  }
  const declarations = options.tasks.map(taskDeclaration);

  const queues = options.queues ? [...options.queues] : defaultQueues(options.tasks);
  if (queues.length === 0) throw new WorkerConfigError("queues must name at least one queue");
  for (const queue of queues) {
    if (!QUEUE_NAME.test(queue)) throw new WorkerConfigError(`queues: "${queue}" must match ${QUEUE_NAME}`);
  }
  if (new Set(queues).size !== queues.length) throw new WorkerConfigError(`queues lists a queue twice: ${queues.join(",")}`);

  const pool = resolvePool(options);
  const concurrency = options.concurrency ?? pool?.processes ?? WORKER_DEFAULTS.concurrency;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 100_000) {
    throw new WorkerConfigError(`concurrency must be an integer from 1 to 100000, got ${concurrency}`);
  }
  const prefetch = options.prefetch ?? WORKER_DEFAULTS.prefetch;
  if (!Number.isInteger(prefetch) || prefetch < 0 || prefetch > 100_000) {
    throw new WorkerConfigError(`prefetch must be an integer from 0 to 100000, got ${prefetch}`);
  }
  const metricsPort = options.metricsPort;
  if (metricsPort !== undefined && (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535)) {
    throw new WorkerConfigError(`metricsPort must be an integer from 0 to 65535, got ${metricsPort}`);
  }
  const workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  if (workerId.length === 0 || workerId.length > 200) throw new WorkerConfigError("workerId must have 1 to 200 characters");
  const burst = options.burst ?? false;
  const logger = (options.logger ?? createLogger()).child({ workerId });
  for (const task of options.tasks) {
    if (task.spec.queue !== undefined && !queues.includes(task.spec.queue)) {
      logger.warn({ task: task.name, queue: task.spec.queue, queues }, "a task's default queue is not served by this worker");
    }
  }

  return {
    url: options.url,
    tasks,
    queues,
    concurrency,
    prefetch,
    workerId,
    logger,
    shutdownGraceMs: nonNegative(options.shutdownGraceMs, WORKER_DEFAULTS.shutdownGraceMs, "shutdownGraceMs"),
    shutdownHardLimitMs: nonNegative(options.shutdownHardLimitMs, WORKER_DEFAULTS.shutdownHardLimitMs, "shutdownHardLimitMs"),
    burst,
    headers: options.headers,
    ca: options.ca,
    transport: options.transport,
    metricsPort,
    metricsHost: options.metricsHost ?? "127.0.0.1",
    pool,
    idleExitMs: options.idleExitMs === undefined ? undefined : positiveMs(options.idleExitMs, "idleExitMs"),
    hello: buildHello(
      { workerId, host: hostname(), pid: process.pid, queues, slots: concurrency + prefetch, burst },
      options.tasks,
      declarations,
    ),
  };
}
