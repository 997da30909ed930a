/**
 * Labels: a small string map on a task (tenant, workspace, the schedule that fired it) that
 * `ListTasks` filters by. Bounded so that a task row and its index entries stay small: at most
 * {@link MAX_LABELS} labels, keys of {@link LABEL_KEY} (letters, digits, `_ . - / :`, 1 to 128),
 * values of at most {@link LABEL_VALUE_MAX} printable characters. Keep in line with the README's
 * "API" section and `SubmitRequest.labels` in the proto.
 */
import { InvalidArgumentError } from "./errors.js";

/** Most labels on one task (or in one filter). */
export const MAX_LABELS = 32;
/** Label keys. */
export const LABEL_KEY = /^[A-Za-z0-9_.\-/:]{1,128}$/;
/** Longest label value, in characters. */
export const LABEL_VALUE_MAX = 128;
/** The label every task fired by a schedule carries; its value is the schedule's id. */
export const SCHEDULE_LABEL = "schedule";

/** Labels of a task: key to value. */
export type Labels = Readonly<Record<string, string>>;

/** Control characters and lone surrogates (PostgreSQL cannot store NUL in jsonb). */
const UNPRINTABLE = /[\p{Cc}\p{Cs}]/u;

/**
 * Validates labels (a submission's, a filter's, a schedule template's) and returns a plain copy.
 * @param field the request field in error messages, e.g. `labels` or `tasks[3].labels`.
 * @throws InvalidArgumentError naming the bad label.
 */
export function validLabels(labels: Readonly<Record<string, string>>, field: string): Record<string, string> {
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) throw InvalidArgumentError.field(field, `must hold at most ${MAX_LABELS} labels, got ${entries.length}`);
  const copy: Record<string, string> = {};
  for (const [key, value] of entries) {
    const at = `${field}[${JSON.stringify(key.slice(0, 130))}]`;
    if (!LABEL_KEY.test(key)) throw InvalidArgumentError.field(at, "keys must be 1 to 128 letters, digits and _ . - / :");
    if (value.length > LABEL_VALUE_MAX) throw InvalidArgumentError.field(at, `values must be at most ${LABEL_VALUE_MAX} characters, got ${value.length}`);
    if (UNPRINTABLE.test(value)) throw InvalidArgumentError.field(at, "values must be printable: no control characters");
    copy[key] = value;
  }
  return copy;
}
