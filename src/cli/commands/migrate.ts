/**
 * `taskwire migrate`: applies pending PostgreSQL migrations (the server also does at start).
 */
import type { Command } from "commander";
import { ConfigError, loadServerConfig } from "../../config/config.js";
import { createLogger } from "../../core/logger.js";
import type { CliContext } from "../context.js";
import { addServerFlags, configOverrides } from "./server.js";

/** Adds `migrate` to `program`. */
export function registerMigrateCommand(program: Command, ctx: CliContext): void {
  const command = program.command("migrate").description("apply pending PostgreSQL migrations, then exit");
  addServerFlags(command, ["databaseUrl", "databaseSchema", "logLevel"]).action(async (flags: Record<string, unknown>) => {
    const config = loadServerConfig(ctx.env, configOverrides(flags));
    if (!config.databaseUrl) {
      throw new ConfigError("TASKWIRE_DATABASE_URL (--database-url) is required: migrate applies migrations to PostgreSQL");
    }
    const logger = createLogger(config.logLevel);
    const { createPostgresStore } = await import("../../store/index.js");
    const store = createPostgresStore({ url: config.databaseUrl, schema: config.databaseSchema, logger });
    try {
      await store.migrate();
    } finally {
      await store.close();
    }
    ctx.stdout.write(`migrations applied (schema ${config.databaseSchema})\n`);
  });
}
