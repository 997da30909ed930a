/**
 * `taskwire server`: runs a server until SIGINT/SIGTERM, then closes it gracefully.
 * Keep the flags in line with `src/config/config.ts` and the README's "Configuration" section.
 */
import { once } from "node:events";
import type { Command } from "commander";
import {
  DEFAULTS,
  loadServerConfig,
  SETTINGS,
  storageMode,
  type ConfigOverrides,
  type ServerConfig,
  type SettingSource,
} from "../../config/config.js";
import { createLogger } from "../../core/logger.js";
import type { CliContext } from "../context.js";

/** A server setting as a flag: its config key, value placeholder, environment variable and help. */
export interface ServerFlag extends SettingSource {
  key: keyof ServerConfig;
}

/** Every setting of `ServerConfig`, from the one table in `src/config/config.ts`. */
export const SERVER_FLAGS: readonly ServerFlag[] = (Object.keys(SETTINGS) as (keyof ServerConfig)[]).map((key) => ({
  key,
  ...SETTINGS[key],
}));

/** `--heartbeat-interval` for `heartbeatIntervalMs`. */
export function flagName(key: keyof ServerConfig): string {
  return `--${SETTINGS[key].flag}`;
}

/** The property commander stores a flag's value under (`heartbeatInterval`). */
function attributeOf(key: keyof ServerConfig): string {
  return SETTINGS[key].flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Adds the flags of `keys` to `command`; values stay strings, `loadServerConfig` validates them. */
export function addServerFlags(command: Command, keys: readonly (keyof ServerConfig)[]): Command {
  for (const flag of SERVER_FLAGS.filter((candidate) => keys.includes(candidate.key))) {
    const fallback = (DEFAULTS as Partial<Record<keyof ServerConfig, string | number | boolean>>)[flag.key];
    const shown = fallback === undefined ? "" : `, default ${formatDefault(flag.key, fallback)}`;
    command.option(`${flagName(flag.key)} ${flag.value}`, `${flag.description} (env ${flag.env}${shown})`);
  }
  return command;
}

function formatDefault(key: keyof ServerConfig, value: string | number | boolean): string {
  if (typeof value === "boolean") return value ? "on" : "off";
  return typeof value === "number" && key.endsWith("Ms") ? `${value}ms` : String(value);
}

/** The flags given, as `loadServerConfig` overrides. */
export function configOverrides(flags: Readonly<Record<string, unknown>>): ConfigOverrides {
  const overrides: ConfigOverrides = {};
  for (const { key } of SERVER_FLAGS) {
    const value = flags[attributeOf(key)];
    if (typeof value === "string") overrides[key] = value;
    // A switch given bare (`--redis-cluster`, value `[on|off]`) means on.
    else if (value === true) overrides[key] = "on";
  }
  return overrides;
}

/** `http://host:port` (`https://` with `tls`), with brackets around an IPv6 host. */
export function serverAddress(host: string, port: number, tls = false): string {
  return `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Adds `server` to `program`. */
export function registerServerCommand(program: Command, ctx: CliContext): void {
  const command = program
    .command("server")
    .description("run a Taskwire server until SIGINT/SIGTERM")
    .addHelpText("after", "\nFlags win over environment variables. A second SIGINT/SIGTERM stops at once.");
  addServerFlags(
    command,
    SERVER_FLAGS.map((flag) => flag.key),
  ).action(async (flags: Record<string, unknown>) => {
    const config = loadServerConfig(ctx.env, configOverrides(flags));
    storageMode(config);
    const logger = createLogger(config.logLevel, config.logFormat);
    const { startServer } = await import("../../server/index.js");
    // Issue 21: OTLP trace export when the standard OTEL_* variables ask for it.
    const { startOtlpTracing } = await import("../../server/observability/otlp.js");
    const stopTracing = await startOtlpTracing(ctx.env, logger);
    const server = await startServer(config, logger).catch(async (error: unknown) => {
      await stopTracing?.();
      throw error;
    });
    ctx.stdout.write(`taskwire server listening on ${serverAddress(config.host, server.port, config.tlsCert !== undefined)}\n`);
    if (!ctx.signal.aborted) await once(ctx.signal, "abort");
    ctx.stderr.write("shutting down (signal again to stop at once)\n");
    await server.close();
    await stopTracing?.();
  });
}
