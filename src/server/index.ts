/**
 * Starting a server from its configuration: on Redis and PostgreSQL when both URLs are set,
 * else on the embedded default (PGlite in the data directory and an in-process broker rebuilt
 * from it). Either way the dispatch index is checked before serving, and built from the store
 * when it has none (`index-guard.ts`).
 */
import { MemoryBroker } from "../broker/memory/memory-broker.js";
import { RedisBroker } from "../broker/redis/redis-broker.js";
import type { Broker } from "../broker/broker.js";
import { storageMode, type ServerConfig } from "../config/config.js";
import type { Logger } from "../core/logger.js";
import { createPgliteStore } from "../store/pglite-store.js";
import { createPostgresStore } from "../store/postgres-store.js";
import type { TaskStore } from "../store/store.js";
import { IndexGuard } from "./engine/index-guard.js";
import { loadServerSecurity } from "./security.js";
import { probePort, startFailure } from "./start-errors.js";
import { createTaskwireServer, type ServerExtensions, type ServerState, type TaskwireServer } from "./taskwire-server.js";

export { createTaskwireServer };
export type { ServerExtensions, ServerState, TaskwireServer };
// For server interceptors (ServerExtensions.interceptors): who is calling.
export { callerOf, type Caller } from "./auth/caller.js";
// What embedding a server needs besides startServer: its configuration (the same settings as the
// CLI's flags and TASKWIRE_* variables) and a logger.
export { ConfigError, DEFAULTS, loadServerConfig, type ConfigOverrides, type ServerConfig } from "../config/config.js";
export { createLogger, silentLogger, type Logger } from "../core/logger.js";

/**
 * Connects the store (applying pending migrations) and the broker, then serves.
 * @param extensions What an embedding application adds: Connect interceptors.
 * @throws ConfigError when only one of the Redis and PostgreSQL URLs is set, or when keys, the
 *   authentication mode or TLS are misconfigured (`security.ts`).
 * @throws ServerStartError when the port is taken, or PostgreSQL or Redis cannot be reached
 *   (`start-errors.ts`): one line naming what and where.
 */
export async function startServer(config: ServerConfig, logger: Logger, extensions: ServerExtensions = {}): Promise<TaskwireServer> {
  const mode = storageMode(config);
  // Keys and certificates first: a bad one stops the server before any storage is opened.
  const security = await loadServerSecurity(config);
  // Then the port: a second server on a taken port stops before opening (or creating) a database.
  await probePort(config.host, config.port);
  const opened: { close(): Promise<void> }[] = [];
  try {
    let store: TaskStore;
    let broker: Broker;
    if (mode.kind === "external") {
      store = createPostgresStore({ url: mode.databaseUrl, schema: config.databaseSchema, logger, operationTimeoutMs: config.databaseTimeoutMs });
      opened.push(store);
      await store.migrate();
      broker = await RedisBroker.connect({
        url: mode.redisUrl,
        cluster: mode.redisCluster,
        prefix: config.redisPrefix,
        logger,
        commandTimeoutMs: config.redisTimeoutMs,
      });
      opened.push(broker);
      // Redis may have been lost while no server ran: build the index before serving. Attempts
      // recorded as running may be held by workers of other servers; they get their lease back.
      await new IndexGuard(broker, store, logger, { leaseTimeoutMs: config.leaseTimeoutMs }).check();
    } else {
      logger.info({ dataDir: mode.dataDir }, "no Redis or PostgreSQL configured: running on the embedded default");
      store = await createPgliteStore({ dataDir: mode.dataDir, logger });
      opened.push(store);
      await store.migrate();
      broker = new MemoryBroker({ logger });
      opened.push(broker);
      // Only this process could have held attempts recorded as running: they were lost with it.
      await new IndexGuard(broker, store, logger, { leaseTimeoutMs: config.leaseTimeoutMs, orphanRunning: true, backend: "embedded" }).check();
    }
    return await createTaskwireServer(config, { broker, store, logger, security, interceptors: extensions.interceptors });
  } catch (error) {
    await Promise.allSettled(opened.reverse().map((part) => part.close()));
    throw startFailure(error, mode, config.host, config.port);
  }
}
