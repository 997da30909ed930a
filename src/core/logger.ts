/**
 * The one structured logger. Library code receives a `Logger` and makes child scopes
 * (`worker`, `taskId`, `attempt`); only the CLI creates the root logger (and a `Worker` given
 * none makes its own, so that a worker run from a script says what it does).
 *
 * Logs go to stderr, written synchronously: a log line and what the CLI prints on stdout
 * afterwards reach a terminal (or one file holding both) in the order they were written.
 * Formats: `json`, one JSON object a line (pino's own); `pretty`, one human line each
 * (`[12:00:01.234] INFO: message {"key":"value"}`, errors with their stack under it) by
 * pino-pretty, in this thread; `auto`, pretty when stderr is a terminal, JSON otherwise.
 *
 * Keep in line with the README's "Logs" section.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import pretty from "pino-pretty";
import { resolveLogFormat, type LogFormat } from "./log-format.js";

export { LOG_FORMATS, resolveLogFormat, type LogFormat } from "./log-format.js";

export type { Logger };

/** Levels a logger accepts, most severe first, and `silent`. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** Where logs go: a file descriptor, and whether it is a terminal. @internal tests pass their own */
export interface LogTarget {
  fd: number;
  isTTY: boolean;
}

/** stderr, as this process has it. */
function stderrTarget(): LogTarget {
  return { fd: 2, isTTY: process.stderr.isTTY === true };
}

/**
 * Creates the root logger on stderr.
 * @param level pino's level. @default "info"
 * @param format @default "auto"
 */
export function createLogger(level: string = "info", format: LogFormat = "auto", target: LogTarget = stderrTarget()): Logger {
  const options = { level, base: { service: "taskwire" } };
  return pino(options, logStream(resolveLogFormat(format, target), target));
}

function logStream(format: "pretty" | "json", target: LogTarget): DestinationStream {
  if (format === "json") return pino.destination({ dest: target.fd, sync: true });
  return pretty({
    destination: target.fd,
    sync: true,
    colorize: target.isTTY,
    translateTime: "SYS:HH:MM:ss.l",
    // Always the same in one process: noise on a terminal.
    ignore: "pid,hostname,service",
    singleLine: true,
  });
}

/** A logger that writes nothing, for tests and embedding. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
