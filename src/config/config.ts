/**
 * Server configuration, parsed and validated once at start-up from `TASKWIRE_*` environment
 * variables and command-line flags (flags win). Nothing else in the code reads `process.env`.
 * Keep in line with the README's "Configuration" section.
 */
import { durationHint, parseDuration } from "../core/durations.js";
import { MIN_RETENTION_MS } from "../core/limits.js";
import { LOG_FORMATS, type LogFormat } from "../core/log-format.js";
import { parseRedisTarget, REDIS_URL_SCHEMES } from "../broker/redis/redis-target.js";

/** A setting that is missing or malformed; the message names it. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export interface ServerConfig {
  /** Interface to listen on. @default "127.0.0.1" */
  host: string;
  /** Port for gRPC, gRPC-Web and Connect; 0 picks a free one. @default 50051 */
  port: number;
  /**
   * Redis URL of the broker: `redis://`, `rediss://`, or a Redis Cluster's
   * `redis+cluster://host:port,host:port` (`rediss+cluster://` with TLS).
   */
  redisUrl: string | undefined;
  /**
   * The Redis URL names a Redis Cluster (a `redis://` URL is then one of its nodes); implied by
   * a `redis+cluster://` URL. The broker then uses an ioredis `Cluster` and, for task events,
   * sharded pub/sub (Redis 7 or later). @default false
   */
  redisCluster: boolean;
  /** Prefix of every Redis key. @default "taskwire" */
  redisPrefix: string;
  /** PostgreSQL URL of the store. */
  databaseUrl: string | undefined;
  /** PostgreSQL schema holding Taskwire's tables. @default "public" */
  databaseSchema: string;
  /** Data directory of the embedded default (PGlite), used when neither URL is set. @default "./.taskwire" */
  dataDir: string;
  /**
   * How long one PostgreSQL operation may take before it fails with `UNAVAILABLE`: the wait of
   * the caller (a hung PostgreSQL answers nothing) and each statement's `statement_timeout`.
   * Migrations are exempt. Not used by the embedded default. @default 10 s
   */
  databaseTimeoutMs: number;
  /**
   * How long one Redis command may take before it fails with `UNAVAILABLE` (ioredis'
   * `commandTimeout`). Must be shorter than the lease timeout less the heartbeat interval, so
   * that leases are renewed in time even while Redis hangs. @default 5 s, or a third of the
   * lease timeout when that is shorter
   */
  redisTimeoutMs: number;
  /** Largest accepted task input (bytes of the `Any` value). @default 1 MiB */
  maxInputBytes: number;
  /**
   * Most parents one task may depend on (`depends_on` and `depends_on_items` together); more are
   * refused with `INVALID_ARGUMENT`. Bounds the work of a submission and the size of an
   * Assignment. @default 32
   */
  maxParents: number;
  /** Largest accepted gRPC message. @default 8 MiB */
  maxMessageBytes: number;
  /**
   * Most `StreamProgress` streams and waiting `GetResult` calls one server holds open on one task;
   * more are refused with `RESOURCE_EXHAUSTED`, so a flood of followers cannot exhaust a server.
   * @default 1000
   */
  maxSubscribersPerTask: number;
  // Issue 15: resource limits (README "Security" lists them all).
  /**
   * Most `StreamProgress` streams and waiting `GetResult` calls one API key holds open on this
   * server, over all tasks; more are refused with `RESOURCE_EXHAUSTED`. Without authentication
   * there are no keys: only {@link ServerConfig.maxSubscribers} applies. @default 1000
   */
  maxSubscribersPerKey: number;
  /** Most `StreamProgress` streams and waiting `GetResult` calls this server holds open in all. @default 10000 */
  maxSubscribers: number;
  /** Most task types one worker Hello may declare; more: `RESOURCE_EXHAUSTED`, before any other work. @default 1000 */
  maxHelloTypes: number;
  /** Largest `FileDescriptorSet` (encoded) one Hello may carry; larger: `RESOURCE_EXHAUSTED`, before it is read. @default 1 MiB */
  maxDescriptorBytes: number;
  /** Largest progress update (an encoded `Progress`) a worker may report; larger ones are refused. @default 4 KiB */
  maxProgressBytes: number;
  /** Progress updates a second one worker may report (a burst of as many is allowed); more are refused. @default 1000 */
  maxProgressRate: number;
  /** Longest task log line a worker may send; longer ones are cut. @default 8 KiB */
  maxLogLineBytes: number;
  /** Task log bytes a second one worker may send (each line counts 128 bytes more); more lines are refused. @default 64 KiB */
  maxLogRate: number;
  /** Largest task context (`ctx.context`, an encoded `Struct`) an attempt may save; larger updates are refused. @default 64 KiB */
  maxContextBytes: number;
  /** Most log lines stored per task (over all its attempts); later lines are counted as dropped. @default 10000 */
  maxTaskLogLines: number;
  /** Most log bytes (messages and fields) stored per task; later lines are counted as dropped. @default 4 MiB */
  maxTaskLogBytes: number;
  /** Most concurrent HTTP/2 streams (calls) on one connection (`SETTINGS_MAX_CONCURRENT_STREAMS`). @default 100 */
  maxStreamsPerConnection: number;
  /** A connection with no call open this long is closed (HTTP/2: GOAWAY); 0: never. @default 5 min */
  idleTimeoutMs: number;
  /** How often workers must send a heartbeat. @default 5 s */
  heartbeatIntervalMs: number;
  /** A worker silent this long loses its tasks; also the lease length. @default 30 s */
  leaseTimeoutMs: number;
  /** How long past a task's timeout the server waits for the worker before failing the attempt. @default 5 s */
  timeoutGraceMs: number;
  /** How long `close()` lets in-flight calls finish. @default 10 s */
  shutdownGraceMs: number;
  /** pino log level. @default "info" */
  logLevel: string;
  /** How logs are written (`src/core/logger.ts`): pretty on a terminal, else JSON lines. @default "auto" */
  logFormat: LogFormat;
  /** Origins browsers may call from (CORS), like `https://app.example`, or `*` for any. @default none */
  corsOrigins: readonly string[];
  // Issue 3: access control (README "Security").
  /** File of API keys: lines `<id> <role> sha256:<hex>`, or JSON. @default none */
  apiKeysFile: string | undefined;
  /** API keys given inline: `<id>:<role>:<sha256 hex>` entries separated by commas. @default none */
  apiKeys: string | undefined;
  /**
   * `off`: serve without keys, even on a non-loopback host (said loudly at start). `on`: require
   * keys, even on loopback. @default on when keys are configured; off without keys, on loopback only
   */
  auth: "on" | "off" | undefined;
  /** PEM certificate (chain) of TLS; with `tlsKey`, the port serves https only. @default none: cleartext */
  tlsCert: string | undefined;
  /** PEM private key of `tlsCert`. @default none */
  tlsKey: string | undefined;
  /**
   * Finished tasks are deleted this long after they finish (a task type may declare its own);
   * workers gone this long are forgotten. @default undefined: kept forever
   */
  retainFinishedMs: number | undefined;
  /**
   * `on`: `GET /metrics` needs a viewer or admin API key; `off`: anyone who reaches the port may
   * read it. @default on when the server checks API keys, else off
   */
  metricsAuth: "on" | "off" | undefined;
  // Issue 22: the dashboard (README "Dashboard").
  /** `off`: no dashboard at `/` (the port serves the API and `/metrics` only). @default "on" */
  dashboard: "on" | "off";
  /** Folder of the built dashboard (`npm run build:ui`). @default the package's `ui/dist` */
  dashboardDir: string | undefined;
}

/** Defaults of every setting that has one. */
export const DEFAULTS = {
  host: "127.0.0.1",
  port: 50051,
  redisPrefix: "taskwire",
  redisCluster: false,
  databaseSchema: "public",
  dataDir: "./.taskwire",
  databaseTimeoutMs: 10_000,
  redisTimeoutMs: 5_000,
  maxInputBytes: 1024 * 1024,
  maxParents: 32,
  maxMessageBytes: 8 * 1024 * 1024,
  maxSubscribersPerTask: 1000,
  maxSubscribersPerKey: 1000,
  maxSubscribers: 10_000,
  maxHelloTypes: 1000,
  maxDescriptorBytes: 1024 * 1024,
  maxProgressBytes: 4096,
  maxProgressRate: 1000,
  maxLogLineBytes: 8192,
  maxLogRate: 64 * 1024,
  maxContextBytes: 64 * 1024,
  maxTaskLogLines: 10_000,
  maxTaskLogBytes: 4 * 1024 * 1024,
  maxStreamsPerConnection: 100,
  idleTimeoutMs: 300_000,
  heartbeatIntervalMs: 5_000,
  leaseTimeoutMs: 30_000,
  timeoutGraceMs: 5_000,
  shutdownGraceMs: 10_000,
  logLevel: "info",
  logFormat: "auto",
  dashboard: "on",
} as const satisfies Omit<ServerConfig, "redisUrl" | "databaseUrl" | "corsOrigins" | "apiKeysFile" | "apiKeys" | "auth" | "tlsCert" | "tlsKey" | "retainFinishedMs" | "metricsAuth" | "dashboardDir">;

/** Shortest `retainFinishedMs` accepted: one minute, the same as a task type's own retention. */
export { MIN_RETENTION_MS };

/** Settings given as flags, by their config names; strings as typed on the command line. */
export type ConfigOverrides = Partial<Record<keyof ServerConfig, string | number | undefined>>;

/** How a setting is given: its environment variable, its flag (without `--`) and its help. */
export interface SettingSource {
  env: string;
  flag: string;
  /** Placeholder of the value in help texts. */
  value: string;
  description: string;
}

/** Every setting's environment variable and flag. The CLI builds its flags and help from this. */
export const SETTINGS: Readonly<Record<keyof ServerConfig, SettingSource>> = {
  host: { env: "TASKWIRE_HOST", flag: "host", value: "<host>", description: "interface to listen on" },
  port: { env: "TASKWIRE_PORT", flag: "port", value: "<port>", description: "port for gRPC, gRPC-Web and Connect; 0 picks a free one" },
  redisUrl: {
    env: "TASKWIRE_REDIS_URL",
    flag: "redis-url",
    value: "<url>",
    description: "Redis URL of the broker (redis:// or rediss://; a Redis Cluster: redis+cluster://host:port,host:port)",
  },
  redisCluster: {
    env: "TASKWIRE_REDIS_CLUSTER",
    flag: "redis-cluster",
    value: "[on|off]",
    description: "the Redis URL is a node of a Redis Cluster (on with a redis+cluster:// URL)",
  },
  redisPrefix: { env: "TASKWIRE_REDIS_PREFIX", flag: "redis-prefix", value: "<prefix>", description: "prefix of every Redis key" },
  databaseUrl: { env: "TASKWIRE_DATABASE_URL", flag: "database-url", value: "<url>", description: "PostgreSQL URL of the store (postgres://)" },
  databaseSchema: { env: "TASKWIRE_DATABASE_SCHEMA", flag: "database-schema", value: "<schema>", description: "PostgreSQL schema of Taskwire's tables" },
  dataDir: { env: "TASKWIRE_DATA_DIR", flag: "data-dir", value: "<dir>", description: "data directory of the embedded default (no Redis/PostgreSQL URL)" },
  databaseTimeoutMs: {
    env: "TASKWIRE_DATABASE_TIMEOUT",
    flag: "database-timeout",
    value: "<duration>",
    description: "a PostgreSQL operation that takes longer fails with UNAVAILABLE (also each statement's statement_timeout)",
  },
  redisTimeoutMs: {
    env: "TASKWIRE_REDIS_TIMEOUT",
    flag: "redis-timeout",
    value: "<duration>",
    description: "a Redis command that takes longer fails with UNAVAILABLE (default 5s, at most a third of the lease timeout)",
  },
  maxInputBytes: { env: "TASKWIRE_MAX_INPUT_BYTES", flag: "max-input-bytes", value: "<bytes>", description: "largest accepted task input" },
  maxParents: { env: "TASKWIRE_MAX_PARENTS", flag: "max-parents", value: "<n>", description: "most parents (depends_on) one task may have (default 32)" },
  maxMessageBytes: { env: "TASKWIRE_MAX_MESSAGE_BYTES", flag: "max-message-bytes", value: "<bytes>", description: "largest accepted gRPC message" },
  maxSubscribersPerTask: {
    env: "TASKWIRE_MAX_SUBSCRIBERS_PER_TASK",
    flag: "max-subscribers-per-task",
    value: "<count>",
    description: "most StreamProgress streams and waiting GetResult calls on one task, per server",
  },
  maxSubscribersPerKey: {
    env: "TASKWIRE_MAX_SUBSCRIBERS_PER_KEY",
    flag: "max-subscribers-per-key",
    value: "<count>",
    description: "most StreamProgress streams and waiting GetResult calls of one API key, per server",
  },
  maxSubscribers: {
    env: "TASKWIRE_MAX_SUBSCRIBERS",
    flag: "max-subscribers",
    value: "<count>",
    description: "most StreamProgress streams and waiting GetResult calls one server holds in all",
  },
  maxHelloTypes: { env: "TASKWIRE_MAX_HELLO_TYPES", flag: "max-hello-types", value: "<count>", description: "most task types one worker Hello may declare" },
  maxDescriptorBytes: {
    env: "TASKWIRE_MAX_DESCRIPTOR_BYTES",
    flag: "max-descriptor-bytes",
    value: "<bytes>",
    description: "largest FileDescriptorSet one worker Hello may carry",
  },
  maxProgressBytes: { env: "TASKWIRE_MAX_PROGRESS_BYTES", flag: "max-progress-bytes", value: "<bytes>", description: "largest progress update a worker may report" },
  maxProgressRate: { env: "TASKWIRE_MAX_PROGRESS_RATE", flag: "max-progress-rate", value: "<count>", description: "progress updates a second per worker" },
  maxLogLineBytes: { env: "TASKWIRE_MAX_LOG_LINE_BYTES", flag: "max-log-line-bytes", value: "<bytes>", description: "longest task log line (longer ones are cut)" },
  maxLogRate: { env: "TASKWIRE_MAX_LOG_RATE", flag: "max-log-rate", value: "<bytes>", description: "task log bytes a second per worker (each line counts 128 more)" },
  maxContextBytes: { env: "TASKWIRE_MAX_CONTEXT_BYTES", flag: "max-context-bytes", value: "<bytes>", description: "largest task context an attempt may save" },
  maxTaskLogLines: { env: "TASKWIRE_MAX_TASK_LOG_LINES", flag: "max-task-log-lines", value: "<count>", description: "most log lines stored per task (later ones are counted as dropped)" },
  maxTaskLogBytes: { env: "TASKWIRE_MAX_TASK_LOG_BYTES", flag: "max-task-log-bytes", value: "<bytes>", description: "most log bytes stored per task (later lines are counted as dropped)" },
  maxStreamsPerConnection: {
    env: "TASKWIRE_MAX_STREAMS_PER_CONNECTION",
    flag: "max-streams-per-connection",
    value: "<count>",
    description: "most concurrent HTTP/2 streams (calls) on one connection",
  },
  idleTimeoutMs: { env: "TASKWIRE_IDLE_TIMEOUT", flag: "idle-timeout", value: "<duration>", description: "close a connection with no call open this long (0: never)" },
  heartbeatIntervalMs: { env: "TASKWIRE_HEARTBEAT_INTERVAL", flag: "heartbeat-interval", value: "<duration>", description: "how often workers must send a heartbeat" },
  leaseTimeoutMs: { env: "TASKWIRE_LEASE_TIMEOUT", flag: "lease-timeout", value: "<duration>", description: "a worker silent this long loses its tasks" },
  timeoutGraceMs: { env: "TASKWIRE_TIMEOUT_GRACE", flag: "timeout-grace", value: "<duration>", description: "wait past a task's timeout before failing the attempt" },
  shutdownGraceMs: { env: "TASKWIRE_SHUTDOWN_GRACE", flag: "shutdown-grace", value: "<duration>", description: "how long shutdown lets in-flight calls finish" },
  logLevel: { env: "TASKWIRE_LOG_LEVEL", flag: "log-level", value: "<level>", description: "fatal, error, warn, info, debug, trace or silent" },
  logFormat: { env: "TASKWIRE_LOG_FORMAT", flag: "log-format", value: "<format>", description: "pretty (human lines), json (JSON lines) or auto (pretty when stderr is a terminal)" },
  corsOrigins: { env: "TASKWIRE_CORS_ORIGINS", flag: "cors-origins", value: "<origins>", description: "comma-separated origins browsers may call from (CORS), or *" },
  apiKeysFile: { env: "TASKWIRE_API_KEYS_FILE", flag: "api-keys-file", value: "<file>", description: "file of API keys: lines \"<id> <role> sha256:<hex>\" or JSON (taskwire keys create)" },
  apiKeys: { env: "TASKWIRE_API_KEYS", flag: "api-keys", value: "<keys>", description: "API keys inline: <id>:<role>:<sha256 hex>, comma-separated" },
  auth: { env: "TASKWIRE_AUTH", flag: "auth", value: "<on|off>", description: "on: require API keys; off: serve without them, even off loopback (default: on when keys are configured)" },
  tlsCert: { env: "TASKWIRE_TLS_CERT", flag: "tls-cert", value: "<file>", description: "PEM certificate of TLS (with --tls-key): https only" },
  tlsKey: { env: "TASKWIRE_TLS_KEY", flag: "tls-key", value: "<file>", description: "PEM private key of --tls-cert" },
  retainFinishedMs: {
    env: "TASKWIRE_RETAIN_FINISHED",
    flag: "retain-finished",
    value: "<duration>",
    description: "delete finished tasks this long after they finish, like 7d (default: keep them)",
  },
  metricsAuth: {
    env: "TASKWIRE_METRICS_AUTH",
    flag: "metrics-auth",
    value: "<on|off>",
    description: "on: GET /metrics needs a viewer or admin API key; off: open (default: on when API keys are checked)",
  },
  dashboard: { env: "TASKWIRE_DASHBOARD", flag: "dashboard", value: "<on|off>", description: "on: serve the dashboard at / on the server's port; off: the API only" },
  dashboardDir: { env: "TASKWIRE_DASHBOARD_DIR", flag: "dashboard-dir", value: "<dir>", description: "folder of the built dashboard (default: the package's ui/dist, built by npm run build:ui)" },
};

/** Milliseconds of a duration like `"500ms"`, `"10s"`, `"1m30s"`, `"2h"` (the unit is required); undefined when malformed. */
export { parseDuration };

/**
 * Reads the configuration from `env` and `overrides`, fails fast with a {@link ConfigError}
 * naming the bad setting.
 */
export function loadServerConfig(
  env: Readonly<Record<string, string | undefined>>,
  overrides: ConfigOverrides = {},
): ServerConfig {
  const raw = (key: keyof ServerConfig): string | undefined => {
    const flag = overrides[key];
    if (flag !== undefined && flag !== "") return String(flag);
    const fromEnv = env[SETTINGS[key].env];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };
  const name = (key: keyof ServerConfig) => `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;

  const integer = (key: keyof ServerConfig, fallback: number, min: number, max: number): number => {
    const text = raw(key);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new ConfigError(`${name(key)} must be an integer from ${min} to ${max}, got "${text}"`);
    }
    return value;
  };
  const duration = (key: keyof ServerConfig, fallback: number, min: number): number => {
    const text = raw(key);
    if (text === undefined) return fallback;
    const value = parseDuration(text);
    if (value === undefined || value < min) {
      throw new ConfigError(`${name(key)} must be ${durationHint(text, min)}, got "${text}"`);
    }
    return value;
  };
  const url = (key: keyof ServerConfig, protocols: string[]): string | undefined => {
    const text = raw(key);
    if (text === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(text);
    } catch {
      throw new ConfigError(`${name(key)} is not a URL: "${text}"`);
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new ConfigError(`${name(key)} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`);
    }
    return text;
  };
  const identifier = (key: keyof ServerConfig, fallback: string, pattern: RegExp): string => {
    const text = raw(key) ?? fallback;
    if (!pattern.test(text)) throw new ConfigError(`${name(key)} must match ${pattern}, got "${text}"`);
    return text;
  };

  const origins = (key: keyof ServerConfig): string[] => {
    const list = (raw(key) ?? "").split(",").map((o) => o.trim()).filter((o) => o !== "");
    for (const origin of list) {
      let valid = origin === "*";
      try {
        valid ||= new URL(origin).origin === origin;
      } catch {
        // not a URL
      }
      if (!valid) throw new ConfigError(`${name(key)} must list origins like https://app.example (scheme, host, optional port) or *, got "${origin}"`);
    }
    return list;
  };

  const choice = <T extends string>(key: keyof ServerConfig, choices: readonly T[]): T | undefined => {
    const text = raw(key);
    if (text === undefined) return undefined;
    if (!(choices as readonly string[]).includes(text)) throw new ConfigError(`${name(key)} must be ${choices.join(" or ")}, got "${text}"`);
    return text as T;
  };

  const redisCluster = choice("redisCluster", ["on", "off"] as const) === "on" || /^rediss?\+cluster:/i.test(raw("redisUrl") ?? "");
  const redisUrl = (): string | undefined => {
    const text = raw("redisUrl");
    if (text === undefined || !redisCluster) return url("redisUrl", [...REDIS_URL_SCHEMES]);
    try {
      parseRedisTarget(text, true);
    } catch (error) {
      throw new ConfigError(`${name("redisUrl")} ${error instanceof Error ? error.message : String(error)} (a Redis Cluster: redis+cluster://host:port,host:port)`);
    }
    return text;
  };

  const config: ServerConfig = {
    host: raw("host") ?? DEFAULTS.host,
    port: integer("port", DEFAULTS.port, 0, 65535),
    redisUrl: redisUrl(),
    redisCluster,
    redisPrefix: identifier("redisPrefix", DEFAULTS.redisPrefix, /^[A-Za-z0-9_.:-]{1,64}$/),
    databaseUrl: url("databaseUrl", ["postgres:", "postgresql:"]),
    databaseSchema: identifier("databaseSchema", DEFAULTS.databaseSchema, /^[a-z_][a-z0-9_]{0,62}$/),
    dataDir: raw("dataDir") ?? DEFAULTS.dataDir,
    databaseTimeoutMs: duration("databaseTimeoutMs", DEFAULTS.databaseTimeoutMs, 100),
    redisTimeoutMs: 0, // set below: its default depends on the lease timeout
    maxInputBytes: integer("maxInputBytes", DEFAULTS.maxInputBytes, 1, 64 * 1024 * 1024),
    maxParents: integer("maxParents", DEFAULTS.maxParents, 1, 1000),
    maxMessageBytes: integer("maxMessageBytes", DEFAULTS.maxMessageBytes, 1024, 256 * 1024 * 1024),
    maxSubscribersPerTask: integer("maxSubscribersPerTask", DEFAULTS.maxSubscribersPerTask, 1, 1_000_000),
    maxSubscribersPerKey: integer("maxSubscribersPerKey", DEFAULTS.maxSubscribersPerKey, 1, 10_000_000),
    maxSubscribers: integer("maxSubscribers", DEFAULTS.maxSubscribers, 1, 10_000_000),
    // 5,000 types × the columns of a catalog row stay far below PostgreSQL's 65,535 parameters.
    maxHelloTypes: integer("maxHelloTypes", DEFAULTS.maxHelloTypes, 1, 5_000),
    maxDescriptorBytes: integer("maxDescriptorBytes", DEFAULTS.maxDescriptorBytes, 1024, 256 * 1024 * 1024),
    maxProgressBytes: integer("maxProgressBytes", DEFAULTS.maxProgressBytes, 64, 16 * 1024 * 1024),
    maxProgressRate: integer("maxProgressRate", DEFAULTS.maxProgressRate, 1, 1_000_000),
    maxLogLineBytes: integer("maxLogLineBytes", DEFAULTS.maxLogLineBytes, 256, 16 * 1024 * 1024),
    maxLogRate: integer("maxLogRate", DEFAULTS.maxLogRate, 1024, 1024 * 1024 * 1024),
    maxContextBytes: integer("maxContextBytes", DEFAULTS.maxContextBytes, 256, 16 * 1024 * 1024),
    maxTaskLogLines: integer("maxTaskLogLines", DEFAULTS.maxTaskLogLines, 1, 100_000_000),
    maxTaskLogBytes: integer("maxTaskLogBytes", DEFAULTS.maxTaskLogBytes, 1024, 2 ** 40),
    maxStreamsPerConnection: integer("maxStreamsPerConnection", DEFAULTS.maxStreamsPerConnection, 1, 2 ** 31 - 1),
    idleTimeoutMs: duration("idleTimeoutMs", DEFAULTS.idleTimeoutMs, 0),
    heartbeatIntervalMs: duration("heartbeatIntervalMs", DEFAULTS.heartbeatIntervalMs, 10),
    leaseTimeoutMs: duration("leaseTimeoutMs", DEFAULTS.leaseTimeoutMs, 100),
    timeoutGraceMs: duration("timeoutGraceMs", DEFAULTS.timeoutGraceMs, 0),
    shutdownGraceMs: duration("shutdownGraceMs", DEFAULTS.shutdownGraceMs, 0),
    logLevel: identifier("logLevel", DEFAULTS.logLevel, /^(fatal|error|warn|info|debug|trace|silent)$/),
    logFormat: choice("logFormat", LOG_FORMATS) ?? DEFAULTS.logFormat,
    corsOrigins: origins("corsOrigins"),
    apiKeysFile: raw("apiKeysFile"),
    apiKeys: raw("apiKeys"),
    auth: choice("auth", ["on", "off"] as const),
    tlsCert: raw("tlsCert"),
    tlsKey: raw("tlsKey"),
    retainFinishedMs: raw("retainFinishedMs") === undefined ? undefined : duration("retainFinishedMs", 0, MIN_RETENTION_MS),
    metricsAuth: choice("metricsAuth", ["on", "off"] as const),
    dashboard: choice("dashboard", ["on", "off"] as const) ?? DEFAULTS.dashboard,
    dashboardDir: raw("dashboardDir"),
  };
  if (config.leaseTimeoutMs <= config.heartbeatIntervalMs) {
    throw new ConfigError(
      `${name("leaseTimeoutMs")} (${config.leaseTimeoutMs} ms) must be longer than ${name("heartbeatIntervalMs")} (${config.heartbeatIntervalMs} ms)`,
    );
  }
  // A lease renewal that hangs on Redis gives up after the command timeout and is sent again at
  // the next heartbeat; both must fit in a lease, or leases would lapse while Redis hangs.
  const renewalRoom = config.leaseTimeoutMs - config.heartbeatIntervalMs;
  config.redisTimeoutMs = duration("redisTimeoutMs", Math.max(10, Math.min(DEFAULTS.redisTimeoutMs, Math.floor(config.leaseTimeoutMs / 3), renewalRoom - 1)), 10);
  if (config.redisTimeoutMs >= renewalRoom) {
    throw new ConfigError(
      `${name("redisTimeoutMs")} (${config.redisTimeoutMs} ms) must be shorter than ${name("leaseTimeoutMs")} less ${name("heartbeatIntervalMs")} (${renewalRoom} ms)`,
    );
  }
  if (config.maxInputBytes > config.maxMessageBytes) {
    throw new ConfigError(`${name("maxInputBytes")} must not exceed ${name("maxMessageBytes")}`);
  }
  return config;
}

/** Where a server keeps its state. */
export type StorageMode =
  | { kind: "external"; redisUrl: string; redisCluster: boolean; databaseUrl: string }
  | { kind: "embedded"; dataDir: string };

/**
 * The storage a server runs on: Redis and PostgreSQL when both URLs are set, the embedded
 * default when neither is. One without the other is refused with a {@link ConfigError}.
 */
export function storageMode(config: ServerConfig): StorageMode {
  if (config.redisUrl !== undefined && config.databaseUrl !== undefined) {
    return { kind: "external", redisUrl: config.redisUrl, redisCluster: config.redisCluster, databaseUrl: config.databaseUrl };
  }
  if (config.redisUrl === undefined && config.databaseUrl === undefined) return { kind: "embedded", dataDir: config.dataDir };
  const [set, unset] = config.redisUrl === undefined ? (["databaseUrl", "redisUrl"] as const) : (["redisUrl", "databaseUrl"] as const);
  const name = (key: keyof ServerConfig) => `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;
  throw new ConfigError(
    `${name(set)} is set but ${name(unset)} is not: set both to run on Redis and PostgreSQL, or neither for the embedded default (data in ${name("dataDir")})`,
  );
}
