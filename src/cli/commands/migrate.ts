/**
 * `taskwire migrate`: applies pending migrations (the server also does at start) to PostgreSQL,
 * or to the embedded default's data directory when no database URL is set.
 */
import type { Command } from "commander";
import { loadServerConfig } from "../../config/config.js";
import { createLogger } from "../../core/logger.js";
import type { CliContext } from "../context.js";
import { addServerFlags, configOverrides } from "./server.js";

/** Adds `migrate` to `program`. */
export function registerMigrateCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command("migrate")
    .description("apply pending migrations to PostgreSQL (--database-url) or the embedded data directory, then exit");
  addServerFlags(command, ["databaseUrl", "databaseSchema", "dataDir", "logLevel", "logFormat"]).action(async (flags: Record<string, unknown>) => {
    const config = loadServerConfig(ctx.env, configOverrides(flags));
    const logger = createLogger(config.logLevel, config.logFormat);
    const { createPostgresStore } = await import("../../store/postgres-store.js");
    const { createPgliteStore } = await import("../../store/pglite-store.js");
    const store = config.databaseUrl
      ? createPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema, logger })
      : await createPgliteStore({ dataDir: config.dataDir, logger });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    const where = config.databaseUrl ? `schema ${config.databaseSchema}` : `data directory ${config.dataDir}`;
    ctx.stdout.write(`migrations applied (${where})\n`);
  });
}
