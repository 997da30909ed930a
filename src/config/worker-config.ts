/**
 * The settings of `taskwire worker start`, from flags and `TASKWIRE_*` environment variables
 * (a flag wins over its variable), parsed and checked once at start-up: the worker's side of
 * what {@link SETTINGS} is for the server. Containers configure workers through the variables
 * (deploy/compose, deploy/kubernetes). Keep in line with the README's "Configuration".
 */
import { durationHint, parseDuration } from "../core/durations.js";
import { QUEUE_NAME } from "../core/limits.js";
import { LOG_FORMATS, type LogFormat } from "../core/log-format.js";
import { ConfigError, type SettingSource } from "./config.js";

/** What `taskwire worker start` runs with. Undefined settings take the worker SDK's defaults. */
export interface WorkerConfig {
  /** Modules exporting task definitions (`.ts` or `.js`). Required. */
  tasks: string[];
  /** Queues served, strictly in this order. @default the task types' queues */
  queues: string[] | undefined;
  /** Tasks run at once. @default 10 */
  concurrency: number | undefined;
  /** Tasks taken ahead of a free slot. @default 0 */
  prefetch: number | undefined;
  /** Exit once the queues are empty and the worker is idle. @default false */
  burst: boolean;
  /** Unique worker id. @default `<host>-<pid>-<random>` */
  workerId: string | undefined;
  /** How long running tasks may finish on shutdown before they are aborted. @default 10s */
  shutdownGraceMs: number | undefined;
  /** Port of the worker's `GET /metrics` and `GET /health`. @default none served */
  metricsPort: number | undefined;
  /** Interface of `metricsPort`. @default 127.0.0.1 */
  metricsHost: string | undefined;
  /** Run the handlers in a pool of this many child processes. @default none: in the worker's process */
  processes: number | undefined;
  /** Drain and exit once idle this long. @default never */
  idleExitMs: number | undefined;
  /** @default "info" */
  logLevel: string;
  /** @default "auto" */
  logFormat: LogFormat;
}

/** Log levels a worker accepts (pino's, and `silent`). */
const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Every worker setting's environment variable and flag. The server URL, API key and CA
 * (`TASKWIRE_URL`, `TASKWIRE_API_KEY`, `TASKWIRE_TLS_CA`) are the CLI's global options.
 */
export const WORKER_SETTINGS: Readonly<Record<keyof WorkerConfig, SettingSource>> = {
  tasks: { env: "TASKWIRE_TASKS", flag: "tasks", value: "<module>", description: "modules exporting task definitions (.ts or .js), comma-separated" },
  queues: { env: "TASKWIRE_QUEUES", flag: "queues", value: "<names>", description: "queues served, strictly in this order, comma-separated (default: from the tasks)" },
  concurrency: { env: "TASKWIRE_CONCURRENCY", flag: "concurrency", value: "<n>", description: "tasks run at once (default: 10)" },
  prefetch: { env: "TASKWIRE_PREFETCH", flag: "prefetch", value: "<n>", description: "tasks taken ahead, to start as running ones end; for short tasks (default: 0)" },
  burst: { env: "TASKWIRE_BURST", flag: "burst", value: "", description: "exit once the queues are empty and the worker is idle (variable: on or off)" },
  workerId: { env: "TASKWIRE_WORKER_ID", flag: "worker-id", value: "<id>", description: "unique worker id (default: <host>-<pid>-<random>)" },
  shutdownGraceMs: {
    env: "TASKWIRE_SHUTDOWN_GRACE",
    flag: "shutdown-grace",
    value: "<duration>",
    description: "how long running tasks may finish on shutdown before they are aborted (default: 10s)",
  },
  metricsPort: {
    env: "TASKWIRE_METRICS_PORT",
    flag: "metrics-port",
    value: "<port>",
    description: "serve this worker's Prometheus metrics (GET /metrics) and health (GET /health) at this port (0: a free one)",
  },
  metricsHost: {
    env: "TASKWIRE_METRICS_HOST",
    flag: "metrics-host",
    value: "<host>",
    description: "interface of --metrics-port; 0.0.0.0 for a Prometheus on another host (default: 127.0.0.1)",
  },
  processes: {
    env: "TASKWIRE_PROCESSES",
    flag: "processes",
    value: "<n>",
    description: "run the handlers in a pool of n child processes that load the task modules, so a CPU-bound or crashing handler cannot stall or end the worker; --concurrency then defaults to n (default: none, handlers run in the worker's process)",
  },
  idleExitMs: { env: "TASKWIRE_IDLE_EXIT", flag: "idle-exit", value: "<duration>", description: "drain and exit (code 0) once no task has run for this long, e.g. 5m (default: never)" },
  logLevel: { env: "TASKWIRE_LOG_LEVEL", flag: "log-level", value: "<level>", description: "fatal, error, warn, info, debug, trace or silent" },
  logFormat: { env: "TASKWIRE_LOG_FORMAT", flag: "log-format", value: "<format>", description: "pretty (human lines), json (JSON lines) or auto (pretty when stderr is a terminal)" },
};

/** Flags as the CLI parsed them (already checked); undefined where not given. */
export type WorkerFlags = Partial<WorkerConfig>;

/**
 * The worker's settings: each flag, else its environment variable, else the default.
 * @throws ConfigError naming the variable when one is malformed, or when no task module is given.
 */
export function loadWorkerConfig(env: Readonly<Record<string, string | undefined>>, flags: WorkerFlags = {}): WorkerConfig {
  const text = (key: keyof WorkerConfig): string | undefined => {
    const value = env[WORKER_SETTINGS[key].env]?.trim();
    return value === undefined || value === "" ? undefined : value;
  };
  const fail = (key: keyof WorkerConfig, expected: string, got: string): never => {
    throw new ConfigError(`${WORKER_SETTINGS[key].env} must be ${expected}, got "${got}"`);
  };
  const integer = (key: keyof WorkerConfig, min: number, max: number): number | undefined => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    const value = Number(raw);
    return Number.isInteger(value) && value >= min && value <= max ? value : fail(key, `an integer from ${min} to ${max}`, raw);
  };
  const list = (key: keyof WorkerConfig): string[] | undefined => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    const items = raw.split(",").map((item) => item.trim()).filter((item) => item !== "");
    return items.length > 0 ? items : fail(key, "a comma-separated list", raw);
  };
  const queues = (): string[] | undefined => {
    const names = list("queues");
    if (names === undefined) return undefined;
    const bad = names.find((queue) => !QUEUE_NAME.test(queue));
    if (bad !== undefined) fail("queues", `queue names (${QUEUE_NAME})`, bad);
    if (new Set(names).size !== names.length) fail("queues", "queue names listed once each", names.join(","));
    return names;
  };
  const duration = (key: keyof WorkerConfig): number | undefined => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    return parseDuration(raw) ?? fail(key, durationHint(raw), raw);
  };
  const onOff = (key: keyof WorkerConfig): boolean | undefined => {
    const raw = text(key)?.toLowerCase();
    if (raw === undefined) return undefined;
    if (["on", "true", "1", "yes"].includes(raw)) return true;
    if (["off", "false", "0", "no"].includes(raw)) return false;
    return fail(key, "on or off", raw);
  };
  const oneOf = <T extends string>(key: keyof WorkerConfig, choices: readonly T[]): T | undefined => {
    const raw = text(key);
    if (raw === undefined) return undefined;
    return (choices as readonly string[]).includes(raw) ? (raw as T) : fail(key, `one of ${choices.join(", ")}`, raw);
  };

  const tasks = flags.tasks !== undefined && flags.tasks.length > 0 ? flags.tasks : list("tasks");
  if (tasks === undefined) {
    throw new ConfigError(`no task modules: give --tasks <module> (repeatable) or ${WORKER_SETTINGS.tasks.env}`);
  }
  return {
    tasks,
    queues: flags.queues ?? queues(),
    concurrency: flags.concurrency ?? integer("concurrency", 1, 100_000),
    prefetch: flags.prefetch ?? integer("prefetch", 0, 100_000),
    burst: flags.burst ?? onOff("burst") ?? false,
    workerId: flags.workerId ?? text("workerId"),
    shutdownGraceMs: flags.shutdownGraceMs ?? duration("shutdownGraceMs"),
    metricsPort: flags.metricsPort ?? integer("metricsPort", 0, 65_535),
    metricsHost: flags.metricsHost ?? text("metricsHost"),
    processes: flags.processes ?? integer("processes", 1, 256),
    idleExitMs: flags.idleExitMs ?? duration("idleExitMs"),
    logLevel: flags.logLevel ?? oneOf("logLevel", LEVELS) ?? "info",
    logFormat: flags.logFormat ?? oneOf("logFormat", LOG_FORMATS) ?? "auto",
  };
}
