/**
 * The bounds of what one worker may report on its stream, checked item by item: a bad item is
 * dropped (or fails its attempt) and listed in a `Refused` message, never by ending the stream.
 * Keep in line with the comments of `worker_service.proto`, docs/worker-protocol.md ("Limits")
 * and the README's "Security".
 *
 * - progress: at most `maxProgressRate` updates a second per worker (a token bucket holding one
 *   second's worth), each at most `maxProgressBytes` encoded, with a percent from 0 to 100, an
 *   `update_time` protobuf can represent and finite JSON numbers in its details;
 * - context (`TaskProgress.context`, with progress or alone): at most `maxContextBytes` encoded,
 *   finite JSON numbers; it counts as a progress update against the rate;
 * - logs: messages cut to `maxLogLineBytes`, fields at most `maxLogLineBytes` encoded with finite
 *   numbers (else dropped from the line, which is kept), at most `maxLogRate` bytes a second per
 *   worker (each line costs {@link LOG_LINE_OVERHEAD} more, the server's record around it), a
 *   `time` protobuf can represent;
 * - outputs: a message of the type's declared output type (see {@link outputProblem}).
 */
import { fromBinary, fromJson, toBinary, type DescMessage, type JsonObject } from "@bufbuild/protobuf";
import { StructSchema, type Any, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code as RpcCode } from "../../../gen/google/rpc/code_pb.js";
import { ProgressSchema, type Progress } from "../../../gen/taskwire/v1/task_pb.js";
import { ReportKind, type RefusedItem, type TaskLog, type TaskProgress } from "../../../gen/taskwire/v1/worker_service_pb.js";
import { DEFAULTS, SETTINGS, type ServerConfig } from "../../config/config.js";
import type { Logger } from "../../core/logger.js";
import { typeNameOfUrl } from "../../common/any.js";
import { nonFiniteNumberPath } from "../../common/non-finite-numbers.js";

/** The limits of `ServerConfig` that bound a worker's stream. */
export type WorkerLimits = Pick<
  ServerConfig,
  "maxHelloTypes" | "maxDescriptorBytes" | "maxProgressBytes" | "maxProgressRate" | "maxLogLineBytes" | "maxLogRate" | "maxContextBytes" | "maxTaskLogLines" | "maxTaskLogBytes"
>;

/** Bytes each log line costs on top of its message: about what the server's log record adds. */
export const LOG_LINE_OVERHEAD = 128;

/** Seconds of 0001-01-01T00:00:00Z and of 9999-12-31T23:59:59Z: the range of `google.protobuf.Timestamp`. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** How a setting is named in refusals: `TASKWIRE_X (--x)`. */
export function settingName(key: keyof ServerConfig): string {
  return `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;
}

/** Why a timestamp cannot be used (out of protobuf's range, or bad nanos); undefined when it can. */
export function timestampProblem(time: Timestamp, field: string): string | undefined {
  if (time.seconds < MIN_SECONDS || time.seconds > MAX_SECONDS) {
    return `${field}: seconds ${time.seconds} is outside years 1 to 9999 (${MIN_SECONDS} to ${MAX_SECONDS})`;
  }
  if (!Number.isInteger(time.nanos) || time.nanos < 0 || time.nanos > 999_999_999) {
    return `${field}: nanos ${time.nanos} is outside 0 to 999,999,999`;
  }
  return undefined;
}

/**
 * Why an output is not a message of the declared type: another type URL, bytes that do not
 * decode as it, or a NaN/±Infinity JSON number (a `google.protobuf.Value`), which no JSON
 * client could read. Undefined when it is one.
 */
export function outputProblem(output: Any, declared: DescMessage, typeName: string): string | undefined {
  const got = typeNameOfUrl(output.typeUrl);
  if (got !== declared.typeName) {
    return `the output is ${got === "" ? "an Any with no type URL" : `a ${got}`}, but task type "${typeName}" declares ${declared.typeName}`;
  }
  try {
    fromBinary(declared, output.value);
  } catch (error) {
    return `the output does not decode as ${declared.typeName} (${error instanceof Error ? error.message : String(error)})`;
  }
  const nonFinite = nonFiniteNumberPath(declared, output.value, "output");
  return nonFinite === undefined ? undefined : `${nonFinite} is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite`;
}

/** A rate limit: `rate` a second, up to `capacity` at once. */
export class TokenBucket {
  #tokens: number;
  #updated: number;

  constructor(
    readonly rate: number,
    readonly capacity: number,
    now = Date.now(),
  ) {
    this.#tokens = capacity;
    this.#updated = now;
  }

  /** Takes `cost` tokens if there are as many. @returns whether it could. */
  take(cost: number, now = Date.now()): boolean {
    this.#tokens = Math.min(this.capacity, this.#tokens + ((now - this.#updated) / 1000) * this.rate);
    this.#updated = now;
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }
}

/** One refused item, before grouping. */
export interface Refusal {
  report: ReportKind;
  taskId: string;
  attempt: number;
  code: RpcCode.INVALID_ARGUMENT | RpcCode.RESOURCE_EXHAUSTED;
  message: string;
}

/** Most distinct refusals listed in one `Refused`; the rest are counted in one more item. */
const MAX_REFUSED_ITEMS = 100;

/**
 * The refusals owed to one worker, grouped (same report, attempt, code and message: one item
 * with a count) and sent at most once per `intervalMs`: the first right after the report that
 * caused it (with the rest of that report's), the next ones at the end of the interval. A flood of bad reports thus costs one small message a second on the way
 * back, and a bounded amount of memory. Each group is logged once, when sent.
 */
export class RefusalNotices {
  readonly #pending = new Map<string, RefusedItem>();
  #overflow = 0;
  #lastSent = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly send: (items: RefusedItem[]) => void,
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  add(refusal: Refusal): void {
    if (this.#closed) return;
    const key = `${refusal.report}\u0000${refusal.taskId}\u0000${refusal.attempt}\u0000${refusal.code}\u0000${refusal.message}`;
    const item = this.#pending.get(key);
    if (item) item.count++;
    else if (this.#pending.size < MAX_REFUSED_ITEMS) {
      this.#pending.set(key, { $typeName: "taskwire.v1.RefusedItem", ...refusal, count: 1 });
    } else this.#overflow++;
    this.#schedule();
  }

  /** Sends nothing more; pending refusals are dropped. Safe to call twice. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#pending.clear();
  }

  /** Flushes at the end of the interval, or on the next turn when it is over (so one report's refusals go together). */
  #schedule(): void {
    if (this.#timer !== undefined) return;
    const wait = Math.max(0, this.#lastSent + this.intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, wait);
    this.#timer.unref();
  }

  #flush(): void {
    if (this.#closed || (this.#pending.size === 0 && this.#overflow === 0)) return;
    const items = [...this.#pending.values()];
    this.#pending.clear();
    if (this.#overflow > 0) {
      items.push({
        $typeName: "taskwire.v1.RefusedItem",
        report: ReportKind.UNSPECIFIED,
        taskId: "",
        attempt: 0,
        code: RpcCode.RESOURCE_EXHAUSTED,
        message: `more refusals of other kinds than one Refused lists (${MAX_REFUSED_ITEMS}); see the server's log`,
        count: this.#overflow,
      });
      this.#overflow = 0;
    }
    this.#lastSent = Date.now();
    for (const item of items) {
      this.logger.warn(
        { taskId: item.taskId || undefined, attempt: item.attempt, report: ReportKind[item.report], code: RpcCode[item.code], count: item.count },
        `refused a worker report: ${item.message}`,
      );
    }
    this.send(items);
  }
}

/** A log line as the server stores it. */
export interface AcceptedLog {
  level: "debug" | "info" | "warn" | "error";
  message: string;
  /** Its structured fields; undefined: none (or refused). */
  fields?: JsonObject;
}

/** A progress update as the server saves it: what of it was accepted. */
export interface AcceptedUpdate {
  progress?: Progress;
  context?: JsonObject;
}

/** The encoded size of a JSON object as a `google.protobuf.Struct`, or why it is not one (a NaN or Infinity). */
export function structBytes(value: JsonObject, field: string): { bytes: number } | { problem: string } {
  const path = nonFiniteJsonPath(value, field);
  if (path !== undefined) return { problem: `${path} is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite` };
  return { bytes: toBinary(StructSchema, fromJson(StructSchema, value)).byteLength };
}

/** The path of the first NaN or ±Infinity in a decoded JSON value; undefined when none. */
function nonFiniteJsonPath(value: unknown, path: string): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = nonFiniteJsonPath(item, `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      const found = nonFiniteJsonPath(item, `${path}.${key}`);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The checks of one worker's reports: its rate budgets and the refusals owed to it. */
export class ReportGate {
  readonly #progress: TokenBucket;
  readonly #logs: TokenBucket;

  constructor(
    private readonly limits: WorkerLimits,
    readonly notices: RefusalNotices,
    now = Date.now(),
  ) {
    this.#progress = new TokenBucket(limits.maxProgressRate, limits.maxProgressRate, now);
    this.#logs = new TokenBucket(limits.maxLogRate, Math.max(limits.maxLogRate, 2 * limits.maxLogLineBytes + LOG_LINE_OVERHEAD), now);
  }

  /**
   * Checks one update of a held attempt: the rate once, then its progress and its context each
   * on its own (a refused one is dropped, the other kept). @returns what was accepted; undefined
   * when nothing was (the refusals are noted).
   */
  update(update: TaskProgress, now = Date.now()): AcceptedUpdate | undefined {
    if (!this.#progress.take(1, now)) {
      this.notices.add({
        report: ReportKind.PROGRESS,
        taskId: update.taskId,
        attempt: update.attempt,
        code: RpcCode.RESOURCE_EXHAUSTED,
        message: `progress over ${this.limits.maxProgressRate} updates a second from this worker, the limit set by ${settingName("maxProgressRate")}; update dropped`,
      });
      return undefined;
    }
    const progress = update.progress && this.#checkProgress(update, update.progress);
    const context = update.context && this.#checkContext(update, update.context);
    if (progress === undefined && context === undefined) return undefined;
    return { ...(progress && { progress }), ...(context && { context }) };
  }

  #checkContext(update: TaskProgress, context: JsonObject): JsonObject | undefined {
    const refuse = (code: Refusal["code"], message: string): undefined => {
      this.notices.add({ report: ReportKind.PROGRESS, taskId: update.taskId, attempt: update.attempt, code, message });
      return undefined;
    };
    const size = structBytes(context, "context");
    if ("problem" in size) return refuse(RpcCode.INVALID_ARGUMENT, `${size.problem}; context dropped`);
    if (size.bytes > this.limits.maxContextBytes) {
      return refuse(
        RpcCode.RESOURCE_EXHAUSTED,
        `context is ${size.bytes} bytes, over the ${this.limits.maxContextBytes} set by ${settingName("maxContextBytes")}; context dropped`,
      );
    }
    return context;
  }

  #checkProgress(update: TaskProgress, progress: Progress): Progress | undefined {
    const refuse = (code: Refusal["code"], message: string): undefined => {
      this.notices.add({ report: ReportKind.PROGRESS, taskId: update.taskId, attempt: update.attempt, code, message });
      return undefined;
    };
    const bytes = toBinary(ProgressSchema, progress);
    if (bytes.byteLength > this.limits.maxProgressBytes) {
      return refuse(
        RpcCode.RESOURCE_EXHAUSTED,
        `progress is ${bytes.byteLength} bytes, over the ${this.limits.maxProgressBytes} set by ${settingName("maxProgressBytes")}; update dropped`,
      );
    }
    if (!Number.isFinite(progress.percent) || progress.percent < 0 || progress.percent > 100) {
      return refuse(RpcCode.INVALID_ARGUMENT, `progress.percent: ${progress.percent} is outside 0 to 100; update dropped`);
    }
    const badTime = progress.updateTime && timestampProblem(progress.updateTime, "progress.update_time");
    if (badTime) return refuse(RpcCode.INVALID_ARGUMENT, `${badTime}; update dropped`);
    const nonFinite = nonFiniteNumberPath(ProgressSchema, bytes, "progress");
    if (nonFinite !== undefined) {
      return refuse(RpcCode.INVALID_ARGUMENT, `${nonFinite}: is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite; update dropped`);
    }
    return progress;
  }

  /**
   * Checks one log line. @returns the line to store (its message cut to the limit, its fields
   * dropped when refused); undefined when the line is refused (noted).
   */
  log(entry: TaskLog, now = Date.now()): AcceptedLog | undefined {
    const refuse = (code: Refusal["code"], message: string): undefined => {
      this.notices.add({ report: ReportKind.LOG, taskId: entry.taskId, attempt: entry.attempt, code, message });
      return undefined;
    };
    const badTime = entry.time && timestampProblem(entry.time, "log.time");
    if (badTime) return refuse(RpcCode.INVALID_ARGUMENT, `${badTime}; line dropped`);
    const message = cutLine(entry.message, this.limits.maxLogLineBytes);
    let fields = entry.fields;
    let fieldBytes = 0;
    if (fields !== undefined) {
      const size = structBytes(fields, "log.fields");
      if ("problem" in size) {
        refuse(RpcCode.INVALID_ARGUMENT, `${size.problem}; fields dropped, line kept`);
        fields = undefined;
      } else if (size.bytes > this.limits.maxLogLineBytes) {
        refuse(
          RpcCode.RESOURCE_EXHAUSTED,
          `log fields are ${size.bytes} bytes, over the ${this.limits.maxLogLineBytes} set by ${settingName("maxLogLineBytes")}; fields dropped, line kept`,
        );
        fields = undefined;
      } else fieldBytes = size.bytes;
    }
    if (!this.#logs.take(Buffer.byteLength(message) + fieldBytes + LOG_LINE_OVERHEAD, now)) {
      return refuse(
        RpcCode.RESOURCE_EXHAUSTED,
        `task log over ${this.limits.maxLogRate} bytes a second from this worker, the limit set by ${settingName("maxLogRate")}; line dropped`,
      );
    }
    const level = LEVELS.has(entry.level) ? (entry.level as AcceptedLog["level"]) : "info";
    return { level, message, ...(fields !== undefined && Object.keys(fields).length > 0 && { fields }) };
  }
}

const LEVELS: ReadonlySet<string> = new Set(["debug", "info", "warn", "error"]);

/** `line` cut to at most `maxBytes` of UTF-8 (never inside a character), the cut noted at its end. */
export function cutLine(line: string, maxBytes: number): string {
  const size = Buffer.byteLength(line);
  if (size <= maxBytes) return line;
  const note = `… [cut to ${maxBytes} of ${size} bytes]`;
  const room = Math.max(0, maxBytes - Buffer.byteLength(note));
  // Decoding a byte prefix drops a character cut in half (as U+FFFD), which is then removed.
  const kept = Buffer.from(line).subarray(0, room).toString("utf8").replace(/\uFFFD$/, "");
  return kept + note;
}

/** The limits with the defaults of `ServerConfig`. */
export const DEFAULT_WORKER_LIMITS: WorkerLimits = {
  maxHelloTypes: DEFAULTS.maxHelloTypes,
  maxDescriptorBytes: DEFAULTS.maxDescriptorBytes,
  maxProgressBytes: DEFAULTS.maxProgressBytes,
  maxProgressRate: DEFAULTS.maxProgressRate,
  maxLogLineBytes: DEFAULTS.maxLogLineBytes,
  maxLogRate: DEFAULTS.maxLogRate,
  maxContextBytes: DEFAULTS.maxContextBytes,
  maxTaskLogLines: DEFAULTS.maxTaskLogLines,
  maxTaskLogBytes: DEFAULTS.maxTaskLogBytes,
};
