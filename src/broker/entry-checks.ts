/**
 * The argument checks shared by the Redis and in-process brokers, so that both refuse the
 * same calls with the same `RangeError`s. Entry points validate requests into domain errors
 * first; these only guard the index against programming errors.
 */
import { PRIORITY_MAX, PRIORITY_MIN, QUEUE_NAME, TYPE_NAME } from "../core/limits.js";
import type { QueueEntry } from "./broker.js";

/** @throws RangeError unless `queue` matches `QUEUE_NAME`. */
export function checkQueue(queue: string): void {
  if (!QUEUE_NAME.test(queue)) throw new RangeError(`invalid queue name: ${JSON.stringify(queue)}`);
}

/**
 * @throws RangeError unless `type` matches `TYPE_NAME`, which keeps `|` out of the Redis
 *   broker's delayed members and `{`/`}` out of its keys.
 */
export function checkType(type: string): void {
  if (!TYPE_NAME.test(type)) throw new RangeError(`invalid task type name: ${JSON.stringify(type)}`);
}

/** @throws RangeError for a bad queue or type name, an empty id, or a priority outside [PRIORITY_MIN, PRIORITY_MAX]. */
export function checkEntry(entry: QueueEntry): void {
  checkQueue(entry.queue);
  checkType(entry.type);
  if (entry.id.length === 0) throw new RangeError("empty task id");
  if (!Number.isInteger(entry.priority) || entry.priority < PRIORITY_MIN || entry.priority > PRIORITY_MAX) {
    throw new RangeError(`priority must be an integer in [${PRIORITY_MIN}, ${PRIORITY_MAX}]: ${entry.priority}`);
  }
}

/** @throws RangeError unless `value` is a finite number (epoch milliseconds). */
export function checkTime(name: string, value: number): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite epoch-milliseconds number: ${value}`);
}

/** @throws RangeError unless `token` is 1 to 200 characters without whitespace. */
export function checkEpochToken(token: string): void {
  if (!/^\S{1,200}$/.test(token)) throw new RangeError(`index epoch token must be 1 to 200 non-space characters: ${JSON.stringify(token)}`);
}

/** @throws RangeError unless `name` is 1 to 200 characters without whitespace (a server id, a duty name or holder). */
export function checkName(what: string, name: string): void {
  if (!/^\S{1,200}$/.test(name)) throw new RangeError(`${what} must be 1 to 200 non-space characters: ${JSON.stringify(name)}`);
}

/** @throws RangeError unless `ms` is a finite duration of at least 1 ms. */
export function checkDuration(what: string, ms: number): void {
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError(`${what} must be a finite number of milliseconds >= 1: ${ms}`);
}
