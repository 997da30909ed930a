/**
 * What a failed attempt says about the error its handler threw: name and message, the stack
 * with the stacks of its `cause` chain, and the details task code attached (a
 * {@link DetailedError}, or any error whose own `details` is a plain JSON object). Both are
 * bounded here as the server bounds them (`src/core/error-bounds.ts`), so a failure never
 * makes a message the server refuses, and details that are not JSON are dropped with a note
 * in the message instead of failing the report. Keep in line with the README's "Failures".
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { cutStack, detailsDroppedNote, oversizeDetails, withNote } from "../core/error-bounds.js";
import { DetailedError } from "./errors.js";

/** Causes followed after the error itself; a longer chain ends with a line saying so. */
export const MAX_REPORTED_CAUSES = 8;
/**
 * Deepest nesting of details accepted (objects and arrays). protobuf's decoder stops at 100
 * nested messages, and each level of a Struct is two or three of them: deeper details would
 * make the whole report undecodable.
 */
export const MAX_DETAILS_DEPTH = 32;

/** The error part of a `TaskFailure`. */
export interface ErrorReport {
  name: string;
  message: string;
  /** The stack and its causes' stacks, at most 16 KiB; "" when the thrown value had none. */
  stack: string;
  details?: JsonObject;
}

/** Name, message, bounded stack and details of a thrown value. */
export function reportOfError(error: unknown): ErrorReport {
  const report: ErrorReport = { ...nameAndMessage(error), stack: stackWithCauses(error) };
  const details = detailsOf(error);
  if (details.note !== undefined) report.message = withNote(report.message, detailsDroppedNote(details.note));
  if (details.value !== undefined) report.details = details.value;
  return report;
}

function nameAndMessage(error: unknown): { name: string; message: string } {
  if (error instanceof Error) return { name: error.name || "Error", message: error.message };
  return { name: "Error", message: typeof error === "string" ? error : safeString(error) };
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** The stack of one link of the chain: its own stack, or what can be said of a non-Error. */
function ownStack(error: unknown): string {
  if (error instanceof Error) {
    let stack: unknown;
    try {
      stack = error.stack;
    } catch {
      stack = undefined;
    }
    return typeof stack === "string" && stack !== "" ? stack : `${error.name}: ${error.message}`;
  }
  return safeString(error);
}

function causeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null && "cause" in error ? error.cause : undefined;
}

/**
 * The stack of `error`, then `Caused by: <stack>` for each cause (at most
 * {@link MAX_REPORTED_CAUSES}, cycles cut), cut to 16 KiB keeping the top. "" when `error` is
 * not an Error and has no cause.
 */
export function stackWithCauses(error: unknown): string {
  const first = error instanceof Error ? ownStack(error) : "";
  const lines = first ? [first] : [];
  const seen = new Set<unknown>([error]);
  let cause = causeOf(error);
  for (let count = 0; cause !== undefined; count++) {
    if (count === MAX_REPORTED_CAUSES) {
      lines.push("Caused by: [further causes not shown]");
      break;
    }
    if (seen.has(cause)) {
      lines.push("Caused by: [a cause seen above: the chain is circular]");
      break;
    }
    seen.add(cause);
    lines.push(`Caused by: ${ownStack(cause)}`);
    cause = causeOf(cause);
  }
  return cutStack(lines.join("\n"));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function depthOf(value: JsonValue): number {
  let deepest = 0;
  const pending: [JsonValue, number][] = [[value, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [current, depth] = next;
    if (typeof current !== "object" || current === null) continue;
    deepest = Math.max(deepest, depth + 1);
    if (deepest > MAX_DETAILS_DEPTH) return deepest;
    for (const child of Array.isArray(current) ? current : Object.values(current)) pending.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * The details of a thrown value as JSON: those of a {@link DetailedError}, or an own `details`
 * that is a plain object (other `details`, such as a string, are not ours and are left alone).
 * A `note` says why details were dropped.
 */
function detailsOf(error: unknown): { value?: JsonObject; note?: string } {
  if (typeof error !== "object" || error === null || !Object.hasOwn(error, "details")) return {};
  const raw = (error as { details?: unknown }).details;
  if (raw === undefined || raw === null) return {};
  if (!(error instanceof DetailedError ? typeof raw === "object" && !Array.isArray(raw) : isPlainObject(raw))) return {};
  let json: string | undefined;
  try {
    json = JSON.stringify(raw);
  } catch (cause) {
    // A BigInt, a cycle, a throwing toJSON: the failure is reported without them.
    const why = cause instanceof Error ? cause.message : safeString(cause);
    return { note: `not JSON (${why.split("\n", 1)[0] ?? ""})` };
  }
  if (json === undefined) return { note: "not JSON" }; // a toJSON() that returned undefined
  const value = JSON.parse(json) as JsonValue;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { note: "not a JSON object" };
  if (depthOf(value) > MAX_DETAILS_DEPTH) return { note: `nested deeper than ${MAX_DETAILS_DEPTH} levels` };
  const oversize = oversizeDetails(json);
  if (oversize !== undefined) return { note: oversize };
  return { value };
}
