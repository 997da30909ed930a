/**
 * Starting a server from its configuration.
 */
import { RedisBroker } from "../broker/redis/redis-broker.js";
import { ConfigError, type ServerConfig } from "../config/config.js";
import type { Logger } from "../core/logger.js";
import { createPostgresStore } from "../store/postgres-store.js";
import { createTaskwireServer, type ServerState, type TaskwireServer } from "./taskwire-server.js";

export { createTaskwireServer };
export type { ServerState, TaskwireServer };

/**
 * Connects to PostgreSQL (applying pending migrations) and Redis, then serves.
 * @throws ConfigError when the Redis or PostgreSQL URL is missing.
 */
export async function startServer(config: ServerConfig, logger: Logger): Promise<TaskwireServer> {
  if (!config.redisUrl || !config.databaseUrl) {
    throw new ConfigError(
      "set both TASKWIRE_REDIS_URL (--redis-url) and TASKWIRE_DATABASE_URL (--database-url); " +
        "the embedded default without them is not available yet",
    );
  }
  const store = createPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema, logger });
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  let broker: RedisBroker;
  try {
    broker = await RedisBroker.connect({ url: config.redisUrl, prefix: config.redisPrefix, logger });
  } catch (error) {
    await store.close();
    throw error;
  }
  try {
    return await createTaskwireServer(config, { broker, store, logger });
  } catch (error) {
    await Promise.allSettled([broker.close(), store.close()]);
    throw error;
  }
}
