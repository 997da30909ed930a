/**
 * The bounds of what a failed attempt keeps beyond its name and message: its stack, cut to
 * {@link MAX_ERROR_STACK_BYTES} keeping the top (where the throw happened), and its details,
 * dropped with a note in the message when their JSON is larger than
 * {@link MAX_ERROR_DETAILS_BYTES}. The worker SDK applies them before it sends a failure and the
 * server again on what it records, so both cut the same way and say so in the same words.
 */
import { MAX_ERROR_DETAILS_BYTES, MAX_ERROR_STACK_BYTES } from "./task-types.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes of `text` in UTF-8. */
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * `stack` if it fits in `maxBytes` of UTF-8; else its top, cut at a line end when one is near
 * (never inside a character), followed by a line that says how long it was. The result is at
 * most `maxBytes`.
 */
export function cutStack(stack: string, maxBytes: number = MAX_ERROR_STACK_BYTES): string {
  if (stack.length * 3 <= maxBytes) return stack; // a UTF-16 unit is at most 3 bytes of UTF-8
  const bytes = encoder.encode(stack);
  if (bytes.byteLength <= maxBytes) return stack;
  const marker = `\n[stack cut to ${maxBytes} of ${bytes.byteLength} bytes]`;
  let end = Math.max(0, maxBytes - marker.length); // the marker is ASCII
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // back to the start of a character
  let kept = decoder.decode(bytes.subarray(0, end));
  const lineEnd = kept.lastIndexOf("\n");
  if (lineEnd >= kept.length / 2) kept = kept.slice(0, lineEnd);
  return kept + marker;
}

/** The note appended to an error's message when its details were dropped. */
export function detailsDroppedNote(why: string): string {
  return `[details dropped: ${why}]`;
}

/** `message` with `note` after it. */
export function withNote(message: string, note: string): string {
  return message ? `${message} ${note}` : note;
}

/**
 * Why details whose JSON text is `json` are too large to keep, or undefined when they fit in
 * `maxBytes`.
 */
export function oversizeDetails(json: string, maxBytes: number = MAX_ERROR_DETAILS_BYTES): string | undefined {
  if (json.length * 3 <= maxBytes) return undefined;
  const bytes = utf8Length(json);
  return bytes > maxBytes ? `${bytes} bytes of JSON, over the limit of ${maxBytes}` : undefined;
}
