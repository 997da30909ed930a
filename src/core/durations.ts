/**
 * The one grammar of durations written as text, for every side: the server's settings, the
 * CLI's flags, the SDKs' string options, and what the CLI prints. What is printed parses back to
 * the same value (`1m30s` → 90 000 ms → `1m30s`).
 *
 * A duration is one or more terms, each a number and its unit, largest unit first, without
 * spaces: `250ms`, `10s`, `1.5s`, `1m30s`, `2h`, `1d12h`. Units are `ms`, `s`, `m`, `h` and `d`.
 * A number without a unit is refused (`10` could mean milliseconds or seconds: say which). The
 * SDKs still take a plain `number`, which is milliseconds, as their TypeScript types say.
 *
 * Keep in line with the README's "Configuration" section (durations).
 */

/** Milliseconds per unit, largest first: the order terms must follow. */
const UNITS = [
  ["d", 86_400_000],
  ["h", 3_600_000],
  ["m", 60_000],
  ["s", 1_000],
  ["ms", 1],
] as const;

/** The units of {@link parseDuration}, for messages: "ms, s, m, h or d". */
export const DURATION_UNITS = "ms, s, m, h or d";

/** A term: a number (decimals allowed) and its unit. `ms` before `m`, so that `5ms` is not `5m` + `s`. */
const TERM = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/**
 * Milliseconds of `text` (rounded to the nearest one), or undefined when it is not a duration:
 * empty, negative, a number without its unit, an unknown unit, terms out of order or repeated.
 * @example parseDuration("1m30s") // 90000
 */
export function parseDuration(text: string): number | undefined {
  const source = text.trim();
  if (source === "") return undefined;
  TERM.lastIndex = 0;
  let total = 0;
  let previousRank = -1;
  while (TERM.lastIndex < source.length) {
    const match = TERM.exec(source);
    if (!match) return undefined;
    const rank = UNITS.findIndex(([unit]) => unit === match[2]);
    if (rank <= previousRank) return undefined;
    previousRank = rank;
    total += Number(match[1]) * (UNITS[rank]?.[1] ?? 0);
  }
  return Number.isFinite(total) ? Math.round(total) : undefined;
}

/**
 * Whether `text` is a number without a unit (`"10"`, `"1.5"`), the mistake worth naming in an
 * error message.
 */
export function lacksUnit(text: string): boolean {
  return /^\d+(?:\.\d+)?$/.test(text.trim());
}

/**
 * What a refused duration should be told: the expected form, the least value when there is one,
 * and for a bare number the unit it lacks (`--delay 10`: `"10" has no unit (10s? 10ms?)`).
 */
export function durationHint(text: string, leastMs = 0): string {
  const least = leastMs > 0 ? ` of at least ${formatDuration(leastMs)}` : "";
  const base = `a duration${least} with its unit (${DURATION_UNITS}), like 500ms, 10s, 1m30s or 2h`;
  const bare = text.trim();
  return lacksUnit(bare) ? `${base}; "${bare}" has no unit (${bare}s? ${bare}ms?)` : base;
}

/**
 * `ms` as the shortest text {@link parseDuration} reads back to the same value (after rounding
 * to whole milliseconds): `0ms`, `250ms`, `1s500ms`, `1m30s`, `2h`, `1d2h`.
 */
export function formatDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms));
  if (rest === 0) return "0ms";
  let text = "";
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}
