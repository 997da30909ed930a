/**
 * The one structured logger. Library code receives a `Logger` and makes child scopes
 * (`worker`, `taskId`, `attempt`); only the CLI creates the root logger.
 */
import { pino, type Logger } from "pino";

export type { Logger };

/** Creates the root logger, JSON lines on stderr. */
export function createLogger(level: string = "info"): Logger {
  return pino({ level, base: { service: "taskwire" } }, pino.destination(2));
}

/** A logger that writes nothing, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
