/**
 * `grpc.health.v1.Health`: whether this server can do its work, for load balancers, Kubernetes
 * probes (`grpc: { port }`) and `grpc-health-probe`. The overall service `""` and both Taskwire
 * services are `SERVING` only while the server is serving and both the broker (Redis, or the
 * in-process broker) and the store (PostgreSQL, or PGlite) answer a ping within a short timeout;
 * otherwise `NOT_SERVING`. Ping results are cached briefly so a busy prober does not become load.
 * Keep in line with the README's "Operations" section.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  HealthCheckResponseSchema,
  type Health,
  type HealthCheckResponse,
} from "../../../gen/grpc/health/v1/health_pb.js";
import { AdminService } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { ScheduleService } from "../../../gen/taskwire/v1/schedule_service_pb.js";
import { TaskService } from "../../../gen/taskwire/v1/task_service_pb.js";
import { WorkerService } from "../../../gen/taskwire/v1/worker_service_pb.js";
import type { Broker } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";

export { ServingStatus };

/** The services health reports on: the server as a whole (`""`) and each Taskwire service. */
export const HEALTH_SERVICES: readonly string[] = ["", TaskService.typeName, WorkerService.typeName, AdminService.typeName, ScheduleService.typeName];

/** What health checks and how often. */
export interface HealthMonitorOptions {
  broker: Pick<Broker, "ping">;
  store: Pick<TaskStore, "ping">;
  /** True while the server is in its SERVING state (false while starting and draining). */
  isServing: () => boolean;
  logger: Logger;
  /** A ping slower than this counts as a failure. @default 1000 */
  checkTimeoutMs?: number;
  /** How long a ping result is reused. @default 1000 */
  cacheMs?: number;
  /** How often `Watch` re-checks for a change. @default 1000 */
  watchIntervalMs?: number;
}

/**
 * Computes the serving status from the server's state and its dependencies, and wakes
 * watchers when the server's state changes.
 */
export class HealthMonitor {
  readonly #options: Required<HealthMonitorOptions>;
  #cached: { status: ServingStatus; at: number } | undefined;
  #inflight: Promise<ServingStatus> | undefined;
  #wake = new Set<() => void>();
  #closed = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = { checkTimeoutMs: 1000, cacheMs: 1000, watchIntervalMs: 1000, ...options };
  }

  /** True once {@link close} was called: watchers get NOT_SERVING and their streams end. */
  get closed(): boolean {
    return this.#closed;
  }

  /** The status of the server (every service in {@link HEALTH_SERVICES} shares it). */
  async status(): Promise<ServingStatus> {
    if (this.#closed || !this.#options.isServing()) return ServingStatus.NOT_SERVING;
    const cached = this.#cached;
    if (cached && Date.now() - cached.at < this.#options.cacheMs) return cached.status;
    this.#inflight ??= this.#check().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  /** Tells watchers the server's state changed (it started draining). */
  notify(): void {
    for (const wake of this.#wake) wake();
  }

  /** The server is stopping: every watcher gets NOT_SERVING and its stream ends. Safe to call twice. */
  close(): void {
    this.#closed = true;
    this.notify();
  }

  /** Resolves after `ms`, on {@link notify}, or when `signal` aborts, whichever comes first. */
  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake.delete(done);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake.add(done);
      signal.addEventListener("abort", done, { once: true });
      if (signal.aborted || this.#closed) done();
    });
  }

  /** How often watchers re-check. */
  get watchIntervalMs(): number {
    return this.#options.watchIntervalMs;
  }

  async #check(): Promise<ServingStatus> {
    const { broker, store, checkTimeoutMs, logger } = this.#options;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${checkTimeoutMs} ms`)), checkTimeoutMs);
    });
    const ping = async (name: string, target: Pick<Broker, "ping">): Promise<void> => {
      try {
        await Promise.race([target.ping(), timeout]);
      } catch (error) {
        throw new Error(`${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
      }
    };
    let status: ServingStatus;
    try {
      await Promise.all([ping("broker", broker), ping("store", store)]);
      status = ServingStatus.SERVING;
    } catch (error) {
      status = ServingStatus.NOT_SERVING;
      if (this.#cached?.status !== ServingStatus.NOT_SERVING) logger.warn({ err: error }, "health: NOT_SERVING");
    } finally {
      clearTimeout(timer);
    }
    if (status === ServingStatus.SERVING && this.#cached?.status === ServingStatus.NOT_SERVING) logger.info("health: SERVING again");
    this.#cached = { status, at: Date.now() };
    return status;
  }
}

function response(status: ServingStatus): HealthCheckResponse {
  return create(HealthCheckResponseSchema, { status });
}

/** The `grpc.health.v1.Health` service over a {@link HealthMonitor}. */
export function createHealthService(monitor: HealthMonitor): ServiceImpl<typeof Health> {
  const known = (service: string) => HEALTH_SERVICES.includes(service);
  return {
    async check(request) {
      if (!known(request.service)) throw new ConnectError(`unknown service "${request.service}"`, Code.NotFound);
      return response(await monitor.status());
    },

    async list() {
      const status = await monitor.status();
      return { statuses: Object.fromEntries(HEALTH_SERVICES.map((service) => [service, response(status)])) };
    },

    // Sends the status at once, then on every change. Ends after NOT_SERVING once the server
    // stops, so a draining server is not held open by its watchers (clients retry, per the spec).
    async *watch(request, context: HandlerContext) {
      if (!known(request.service)) {
        yield response(ServingStatus.SERVICE_UNKNOWN);
        while (!context.signal.aborted && !monitor.closed) await monitor.wait(60_000, context.signal);
        return;
      }
      let last: ServingStatus | undefined;
      while (!context.signal.aborted) {
        const status = await monitor.status();
        if (status !== last) {
          yield response(status);
          last = status;
        }
        if (monitor.closed) return;
        await monitor.wait(monitor.watchIntervalMs, context.signal);
      }
    },
  };
}
