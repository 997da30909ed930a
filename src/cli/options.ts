/**
 * Parsers of flag values. Each throws commander's `InvalidArgumentError`, which commander
 * reports naming the flag; the CLI then exits with status 2.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { JsonValue } from "@bufbuild/protobuf";
import { InvalidArgumentError } from "commander";
import { parseTaskState, type TaskState } from "../client/index.js";
import { durationHint, parseDuration } from "../core/durations.js";
import { QUEUE_NAME } from "../core/limits.js";

/** A parser of integers from `min` to `max`. */
export function integerIn(min: number, max: number): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return value;
  };
}

/** A duration with its unit, like "500ms", "10s", "1m30s", "2h", in milliseconds (`src/core/durations.ts`). */
export function durationArg(text: string): number {
  const value = parseDuration(text);
  if (value === undefined) throw new InvalidArgumentError(`expected ${durationHint(text)}`);
  return value;
}

/**
 * The server's URL, `http://` or `https://` with a host: `127.0.0.1:50051` alone is refused with
 * the URL it probably means.
 */
export function serverUrlArg(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // not a URL at all
  }
  if (url && (url.protocol === "http:" || url.protocol === "https:") && url.host !== "") return text;
  const guess = /^[\w.-]+:\d+(\/.*)?$|^\[[0-9a-f:]+\](:\d+)?$/i.test(text) ? `http://${text}` : "http://127.0.0.1:50051";
  throw new InvalidArgumentError(`expected the server's URL with its scheme, like ${guess} (https:// for TLS)`);
}

/** An ISO 8601 date and time, like 2030-01-31T12:00:00Z. */
export function dateArg(text: string): Date {
  // Date.parse accepts much more than ISO 8601; require the date part at least.
  const date = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? new Date(text) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError("expected an ISO 8601 time like 2030-01-31T12:00:00Z");
  return date;
}

/**
 * A point in the past or future given as an ISO 8601 time (`2030-01-31T12:00:00Z`), or as a
 * duration ago with its unit (`7d`, `2h`, `30m`, `90s`; the grammar of {@link durationArg}).
 * A flag parser: commander calls it with the text alone.
 */
export function timeArg(text: string): Date {
  return timeAt(text, Date.now());
}

/** {@link timeArg} with "ago" counted back from `nowMs`. */
export function timeAt(text: string, nowMs: number): Date {
  const trimmed = text.trim();
  // A bare number would be milliseconds ago, which nobody means: the unit is required.
  const ago = /[a-z]$/i.test(trimmed) ? parseDuration(trimmed) : undefined;
  if (ago !== undefined) return new Date(nowMs - ago);
  try {
    return dateArg(trimmed);
  } catch {
    throw new InvalidArgumentError("expected an ISO 8601 time like 2030-01-31T12:00:00Z, or a duration ago like 7d, 2h or 30m");
  }
}

/** A queue name (letters, digits, `_`, `-`, `.`). */
export function queueArg(text: string): string {
  if (!QUEUE_NAME.test(text)) throw new InvalidArgumentError(`expected a queue name matching ${QUEUE_NAME}`);
  return text;
}

/** A comma-separated list of queue names, in order, without repeats. */
export function queueListArg(text: string): string[] {
  const queues = text.split(",").map((queue) => queue.trim()).filter((queue) => queue !== "");
  if (queues.length === 0) throw new InvalidArgumentError("expected queue names separated by commas");
  for (const queue of queues) {
    if (!QUEUE_NAME.test(queue)) throw new InvalidArgumentError(`"${queue}" is not a queue name (${QUEUE_NAME})`);
  }
  if (new Set(queues).size !== queues.length) throw new InvalidArgumentError("a queue is listed twice");
  return queues;
}

/**
 * Accumulates repeated `--state` flags, each a state name or a comma-separated list of them,
 * case-insensitive (`--state running,queued --state failed`).
 */
export function collectStates(text: string, previous: TaskState[] = []): TaskState[] {
  const states = [...previous];
  for (const name of text.split(",").map((part) => part.trim()).filter((part) => part !== "")) {
    const state = parseTaskState(name);
    if (state === undefined) {
      throw new InvalidArgumentError(
        "expected states among waiting, scheduled, queued, running, cancelling, succeeded, failed, cancelled",
      );
    }
    if (!states.includes(state)) states.push(state);
  }
  return states;
}

/** Accumulates repeated values of a flag. */
export function collect(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

/** Accumulates repeated `--label key=value` flags. */
export function collectLabel(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const equals = text.indexOf("=");
  if (equals <= 0) throw new InvalidArgumentError('expected "key=value"');
  return { ...previous, [text.slice(0, equals)]: text.slice(equals + 1) };
}

/** Accumulates a repeated flag's values, in order. */
export function collectValue(text: string, previous: string[] = []): string[] {
  return [...previous, text];
}

/** Accumulates repeated `--header "name: value"` (or `name=value`) flags. */
export function collectHeader(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const match = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*[:=]\s*(.*)$/.exec(text);
  if (!match?.[1] || match[2] === undefined) throw new InvalidArgumentError('expected "name: value"');
  return { ...previous, [match[1].toLowerCase()]: match[2] };
}

/** What `--input @-` parses to: the JSON is read from standard input when the command runs. */
export const FROM_STDIN: unique symbol = Symbol("stdin");

/** JSON given inline, from a file with `@path`, or from standard input with `@-` ({@link FROM_STDIN}). */
export function inputArg(cwd: string): (text: string) => JsonValue | typeof FROM_STDIN {
  const json = jsonArg(cwd);
  return (text) => (text.trim() === "@-" ? FROM_STDIN : json(text));
}

/**
 * JSON given inline, or read from a file with `@path` (resolved against `cwd`).
 * @returns a parser, because reading the file needs `cwd`.
 */
export function jsonArg(cwd: string): (text: string) => JsonValue {
  return (text) => {
    let source = text;
    if (text.startsWith("@")) {
      const path = resolve(cwd, text.slice(1));
      try {
        source = readFileSync(path, "utf8");
      } catch (error) {
        throw new InvalidArgumentError(`cannot read ${path}: ${(error as Error).message}`);
      }
    }
    try {
      return JSON.parse(source) as JsonValue;
    } catch (error) {
      throw new InvalidArgumentError(`expected JSON (or @file): ${(error as Error).message}`);
    }
  };
}
