/**
 * The worker: serves task definitions over one `WorkerService.Connect` stream at a time,
 * reconnecting with back-off when the stream breaks, and shutting down in order.
 *
 * Lifecycle ({@link WorkerState}):
 *
 * ```
 * INITIALIZED ─run()→ CONNECTING ─Welcome→ RUNNING ─Drain→ DRAINING ─closed→ CONNECTING …
 *                         ▲                   │ stream broke                   │ burst: STOPPED
 *                         └───────────────────┘
 * any live state ─shutdown()→ STOPPING → STOPPED        fatal refusal → FAILED
 * ```
 *
 * With `idleExitMs`, a worker that has held no attempt for that long calls `shutdown()` itself.
 * With `processes`, `run()` first starts the process pool (`pool/process-pool.ts`) and the
 * worker stops it once stopped; handlers run there, middleware and hooks here.
 */
import { durationMs } from "@bufbuild/protobuf/wkt";
import { createClient, Code, ConnectError, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, type Http2SessionManager } from "@connectrpc/connect-node";
import { createSessionManager } from "../common/http2-session.js";
import { WorkerService } from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Logger } from "../core/logger.js";
import { WorkerConfigError, WorkerRejectedError, WorkerShutdownError } from "./errors.js";
import { WorkerSession } from "./connection.js";
import { Outbox } from "./outbox.js";
import { reconnectDelay } from "./reconnect-backoff.js";
import { TaskPool } from "./task-pool.js";
import { formatDuration } from "../core/durations.js";
import { IdleClock } from "./idle-clock.js";
import type { WorkerMiddleware } from "./middleware.js";
import { ProcessPool } from "./pool/process-pool.js";
import { WorkerMetrics } from "./worker-metrics.js";
import { resolveWorkerOptions, type ResolvedWorkerOptions, type WorkerOptions } from "./worker-options.js";

/**
 * Where a worker is in its life:
 * - `INITIALIZED`: constructed, `run()` not called yet.
 * - `CONNECTING`: opening a stream, waiting for the Welcome, or waiting to retry; running
 *   attempts of a broken stream go on.
 * - `RUNNING`: connected and taking work.
 * - `DRAINING`: the server asked it to drain; it takes no work, lets running attempts finish,
 *   then closes the stream and reconnects (or stops, in burst mode).
 * - `STOPPING`: `shutdown()` was called; no new work, running attempts get the grace period,
 *   then are aborted with a `WorkerShutdownError`.
 * - `STOPPED`: done; `run()` has resolved.
 * - `FAILED`: the server refused the worker for good; `run()` has rejected.
 */
export type WorkerState = "INITIALIZED" | "CONNECTING" | "RUNNING" | "DRAINING" | "STOPPING" | "STOPPED" | "FAILED";

/** Called on every state change. */
export type WorkerStateListener = (state: WorkerState, previous: WorkerState) => void;

/** Codes after which reconnecting cannot help. */
const FATAL_CODES: ReadonlySet<Code> = new Set([
  Code.InvalidArgument,
  Code.AlreadyExists,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.Unimplemented,
]);

/** How long the server may take to notice a dead stream, when its Welcome does not say. */
const DEFAULT_LEASE_TIMEOUT_MS = 30_000;

/**
 * Runs tasks for a Taskwire server.
 *
 * @example
 * const worker = new Worker({ url: "http://localhost:50051", tasks: [factorial] });
 * process.once("SIGTERM", () => void worker.shutdown());
 * await worker.run();
 */
export class Worker {
  /** This worker's id, as sent in Hello. */
  readonly id: string;
  readonly #options: ResolvedWorkerOptions;
  readonly #logger: Logger;
  readonly #client: Client<typeof WorkerService>;
  readonly #sessionManager: Http2SessionManager | undefined;
  readonly #pool: TaskPool;
  readonly #outbox: Outbox;
  readonly #listeners = new Set<WorkerStateListener>();
  /** `use()` middleware, first outermost; read by every attempt as it starts. */
  readonly #middleware: WorkerMiddleware[] = [];
  /** Where handlers run with `processes`; undefined: in this process. */
  readonly #processPool: ProcessPool | undefined;
  /** Stops the worker once idle for `idleExitMs`. */
  readonly #idleClock: IdleClock | undefined;
  /** This worker's own series, when `metricsPort` asked for them. */
  readonly #metrics: WorkerMetrics | undefined;
  #metricsPort: number | undefined;
  #state: WorkerState = "INITIALIZED";
  #session: WorkerSession | undefined;
  #drained = false;
  /** An operator drained the worker (`Drain.stop`): it stops once drained instead of reconnecting. */
  #stopAfterDrain = false;
  #stopping = false;
  #wake: (() => void) | undefined;
  /** When a reconnection was first refused as ALREADY_EXISTS (our old stream not yet noticed gone). */
  #refusedSince: number | undefined;
  #leaseTimeoutMs = DEFAULT_LEASE_TIMEOUT_MS;
  /** The server's bound on a task context (`Welcome.max_context_bytes`); undefined until welcomed, or when it says none. */
  #maxContextBytes: number | undefined;
  #loop: Promise<void> | undefined;
  #settled: Promise<void> | undefined;
  #shutdown: Promise<void> | undefined;

  /** @throws WorkerConfigError when an option or a task definition is invalid. */
  constructor(options: WorkerOptions) {
    this.#options = resolveWorkerOptions(options);
    this.id = this.#options.workerId;
    this.#logger = this.#options.logger;
    let transport: Transport | undefined = this.#options.transport;
    if (!transport) {
      // Own the HTTP/2 connection so that stopping closes it; PINGs detect a dead server. No
      // compression: the stream carries many small batches, and gzip on each costs more CPU on
      // both ends than the bytes it saves between a worker and its server.
      this.#sessionManager = createSessionManager(this.#options.url, { pingIntervalMs: 15_000, pingTimeoutMs: 10_000, ca: this.#options.ca });
      transport = createGrpcTransport({ baseUrl: this.#options.url, sessionManager: this.#sessionManager, acceptCompression: [] });
    }
    this.#client = createClient(WorkerService, transport);
    const { pool, idleExitMs } = this.#options;
    if (pool) {
      this.#processPool = new ProcessPool({ ...pool, types: [...this.#options.tasks.keys()], logger: this.#logger });
    }
    if (idleExitMs !== undefined) {
      this.#idleClock = new IdleClock(idleExitMs, () => this.#pool.size === 0, () => {
        this.#logger.info({ idleMs: idleExitMs }, `idle for ${formatDuration(idleExitMs)}: draining and stopping`);
        void this.shutdown();
      });
    }
    this.#outbox = new Outbox({ logger: this.#logger });
    this.#pool = new TaskPool(
      this.#options.tasks,
      this.#logger,
      {
        onProgress: (taskId, attempt, snapshot) => this.#outbox.setProgress(taskId, attempt, snapshot),
        onLog: (taskId, attempt, level, message, fields) => this.#outbox.addLog(taskId, attempt, level, message, fields),
        onContext: (taskId, attempt, context) => this.#outbox.setContext(taskId, attempt, context),
        maxContextBytes: () => this.#maxContextBytes,
        onFinished: (result) => {
          this.#outbox.addResult(result);
          this.#outbox.requestGrant();
          this.#idleClock?.armWhenIdle();
        },
        onHeld: () => this.#idleClock?.disarm(),
        onRunEnded: (type, outcome, seconds) => this.#metrics?.attemptEnded(type, outcome, seconds),
      },
      this.#options.concurrency,
      this.id,
      { middleware: this.#middleware, invoke: this.#processPool?.invoke },
    );
    if (this.#options.metricsPort !== undefined) {
      this.#metrics = new WorkerMetrics({
        running: () => this.#pool.runningCount,
        held: () => this.#pool.size,
        slots: this.#options.concurrency + this.#options.prefetch,
        connected: () => this.#state === "RUNNING",
      });
    }
  }

  /** The port of this worker's `GET /metrics` once it listens (with `metricsPort`, from `run()` on); undefined before or without. */
  get metricsPort(): number | undefined {
    return this.#metricsPort;
  }

  /** The current lifecycle state. */
  get state(): WorkerState {
    return this.#state;
  }

  /** Number of attempts running now (prefetched ones waiting for a slot not counted). */
  get runningCount(): number {
    return this.#pool.runningCount;
  }

  /**
   * Adds a middleware around every attempt's handler (`middleware.ts`): the first registered
   * runs outermost. It applies to attempts that start after the call.
   * @returns this worker, so calls chain.
   * @example
   * worker.use(async (task, ctx, next) => {
   *   ctx.log.info(`starting ${task.name}`);
   *   return next();
   * });
   */
  use(middleware: WorkerMiddleware): this {
    if (typeof middleware !== "function") throw new WorkerConfigError("use() takes a middleware function (task, ctx, next) => ...");
    this.#middleware.push(middleware);
    return this;
  }

  /** Calls `listener` on every state change; returns the function that stops it. */
  onStateChange(listener: WorkerStateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Connects and serves tasks until the worker stops. Resolves after `shutdown()` or, in burst
   * mode, once the server has drained the idle worker; rejects with a `WorkerRejectedError`
   * when the server refuses the worker for good. Network errors are retried, never thrown.
   * A worker runs once: a second call rejects; after `shutdown()` before any run it resolves.
   */
  run(): Promise<void> {
    if (this.#loop) return Promise.reject(new Error("Worker.run() was already called; a worker runs once"));
    if (this.#state === "STOPPED") return Promise.resolve();
    this.#loop = this.#runLoop();
    return this.#loop;
  }

  /**
   * Stops the worker: takes no more work, lets running attempts finish within
   * `shutdownGraceMs`, then aborts them (their signal's reason is a `WorkerShutdownError`) and
   * waits up to `shutdownHardLimitMs` for them to report, then closes the stream. Resolves once
   * `STOPPED` (or `FAILED`). Safe to call more than once; every call returns the same promise.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#stop();
    return this.#shutdown;
  }

  async #stop(): Promise<void> {
    if (this.#state === "INITIALIZED") {
      this.#closeResources();
      this.#setState("STOPPED");
      return;
    }
    if (this.#state === "STOPPED" || this.#state === "FAILED") return;
    this.#stopping = true;
    this.#idleClock?.close();
    this.#setState("STOPPING");
    this.#logger.info({ running: this.#pool.size, graceMs: this.#options.shutdownGraceMs }, "shutting down");
    this.#session?.stopTakingWork();
    this.#wake?.();
    this.#settled = this.#settleAttempts(this.#options.shutdownGraceMs, new WorkerShutdownError());
    await this.#loop?.catch(() => undefined);
  }

  /** Grace period, then abort, then the hard limit, then abandon. */
  async #settleAttempts(graceMs: number, reason: Error): Promise<void> {
    if (await this.#pool.whenIdleWithin(graceMs)) return;
    this.#logger.warn({ running: this.#pool.size }, "grace period over, aborting running attempts");
    this.#pool.abortAll(reason);
    if (await this.#pool.whenIdleWithin(this.#options.shutdownHardLimitMs)) return;
    const abandoned = this.#pool.abandon();
    this.#logger.error({ abandoned }, "attempts ignored their abort signal; abandoning them");
  }

  async #runLoop(): Promise<void> {
    let failures = 0;
    let connectedOnce = false;
    try {
      if (this.#metrics !== undefined) {
        this.#metricsPort = await this.#metrics.listen(this.#options.metricsHost, this.#options.metricsPort ?? 0);
        this.#logger.info({ url: `http://${this.#options.metricsHost}:${this.#metricsPort}/metrics` }, "serving worker metrics");
      }
      if (this.#processPool) {
        await this.#processPool.start();
        this.#logger.info({ processes: this.#processPool.size, pids: this.#processPool.pids }, "handlers run in a pool of processes");
      }
      this.#idleClock?.armWhenIdle();
      while (!this.#stopping) {
        if (connectedOnce) this.#metrics?.reconnected();
        this.#setState("CONNECTING");
        this.#drained = false;
        const session = new WorkerSession({
          client: this.#client,
          hello: this.#options.hello,
          headers: this.#options.headers,
          slots: this.#options.concurrency + this.#options.prefetch,
          pool: this.#pool,
          outbox: this.#outbox,
          logger: this.#logger,
          finishWaitMs: this.#options.shutdownHardLimitMs,
          isStopping: () => this.#stopping,
          onWelcome: (welcome) => {
            connectedOnce = true;
            failures = 0;
            this.#refusedSince = undefined;
            if (welcome.leaseTimeout) this.#leaseTimeoutMs = durationMs(welcome.leaseTimeout);
            this.#maxContextBytes = welcome.maxContextBytes > 0 ? welcome.maxContextBytes : undefined;
            if (!this.#stopping) this.#setState("RUNNING");
          },
          onDrain: (_reason, stop) => {
            this.#drained = true;
            if (stop) this.#stopAfterDrain = true;
            if (!this.#stopping) this.#setState("DRAINING");
          },
        });
        this.#session = session;
        const end = await session.run();
        this.#session = undefined;
        if (this.#stopping) break;
        if (end.kind === "finished") {
          if (this.#options.burst && this.#drained) {
            this.#logger.info("burst done: queues empty");
            break;
          }
          if (this.#stopAfterDrain) {
            this.#logger.info("drained by an operator: stopping");
            break;
          }
          // Drained by a server going away: come back through the load balancer, spread out.
          await this.#sleep(Math.random() * 100);
          continue;
        }
        const rejection = this.#rejection(end.error, connectedOnce, session.welcomed);
        if (rejection) throw rejection;
        const delayMs = reconnectDelay(failures++);
        this.#logger.warn({ err: end.error, running: this.#pool.size, delayMs }, "stream lost, reconnecting");
        await this.#sleep(delayMs);
      }
      await this.#settled;
      await this.#processPool?.close();
      this.#finishStop("STOPPED");
    } catch (error) {
      this.#logger.error({ err: error }, "worker failed");
      await this.#settleAttempts(0, new WorkerShutdownError("worker failed"));
      await this.#processPool?.close();
      this.#finishStop("FAILED");
      throw error;
    }
  }

  /** A fatal refusal as a `WorkerRejectedError`, or undefined when reconnecting may help. */
  #rejection(error: unknown, connectedOnce: boolean, welcomed: boolean): WorkerRejectedError | undefined {
    if (!(error instanceof ConnectError)) return undefined;
    // A Hello over the server's limits (too many types, descriptors too large) is refused again on every try.
    const helloTooLarge = error.code === Code.ResourceExhausted && !welcomed;
    if (!FATAL_CODES.has(error.code) && !helloTooLarge) return undefined;
    if (error.code === Code.AlreadyExists && connectedOnce) {
      // After a broken stream the server may not have noticed yet that our old one is gone;
      // it will within a lease timeout. Past that, another process uses our id.
      this.#refusedSince ??= Date.now();
      if (Date.now() - this.#refusedSince <= this.#leaseTimeoutMs + 5_000) return undefined;
    }
    return new WorkerRejectedError(error.code, `the server refused worker "${this.id}": ${error.rawMessage}`, {
      cause: error,
    });
  }

  #finishStop(state: "STOPPED" | "FAILED"): void {
    this.#closeResources();
    this.#setState(state);
    this.#logger.info({ state }, "worker stopped");
  }

  #closeResources(): void {
    this.#idleClock?.close();
    this.#metrics?.close();
    this.#outbox.close();
    this.#sessionManager?.abort();
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    }).finally(() => {
      this.#wake = undefined;
    });
  }

  #setState(state: WorkerState): void {
    const previous = this.#state;
    if (previous === state) return;
    this.#state = state;
    this.#logger.debug({ state, previous }, "state changed");
    for (const listener of this.#listeners) {
      try {
        listener(state, previous);
      } catch (error) {
        this.#logger.error({ err: error }, "state listener threw");
      }
    }
  }
}
