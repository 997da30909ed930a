/**
 * Text as PostgreSQL can store it. `text` and `jsonb` refuse U+0000, and `jsonb` lone
 * surrogates; one such character in a batched write would fail the whole batch, every task in
 * it. What a worker or a client sends is recorded with U+FFFD in their place instead: a report
 * is never lost for a character.
 */
import type { JsonValue } from "@bufbuild/protobuf";

/** U+0000 and lone surrogates. */
// eslint-disable-next-line no-control-regex -- matching U+0000 is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `text` with what PostgreSQL cannot hold replaced by U+FFFD. */
export function storableText(text: string): string {
  return text.replace(UNSTORABLE, "\uFFFD");
}

/** `value` with {@link storableText} strings and keys (the nesting is bounded by protobuf's decoder). */
export function storableJson(value: JsonValue): JsonValue {
  if (typeof value === "string") return storableText(value);
  if (Array.isArray(value)) return value.map(storableJson);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [storableText(key), storableJson(inner)]));
}
