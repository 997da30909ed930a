/**
 * The formats of the logs (`logger.ts`), apart from the logger itself so that settings can
 * name them without loading pino.
 */

/** How log lines are written: `pretty` human lines, `json` lines, or `auto`: pretty on a terminal, else JSON. */
export type LogFormat = "auto" | "pretty" | "json";

/** Every {@link LogFormat}, for flags and settings. */
export const LOG_FORMATS: readonly LogFormat[] = ["auto", "pretty", "json"];

/** The format `format` means on a stream: `auto` is pretty on a terminal, JSON elsewhere. */
export function resolveLogFormat(format: LogFormat, target: { isTTY: boolean }): "pretty" | "json" {
  if (format !== "auto") return format;
  return target.isTTY ? "pretty" : "json";
}
