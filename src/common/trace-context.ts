/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate`
 * header values a task is submitted with, kept with the task and sent to its worker. Parsed
 * here rather than through `propagation.extract`, so that the context travels whether or not
 * the process registered a propagator (or any OpenTelemetry SDK at all). Only `@opentelemetry/api`
 * types and helpers are used.
 */
import { createTraceState, isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags, type Context, type Link, type SpanContext } from "@opentelemetry/api";

/** A task's trace context: W3C header values, `tracestate` empty when none came. */
export interface TraceContext {
  traceparent: string;
  tracestate: string;
}

/** Longest `tracestate` kept (the spec asks to pass on at least 512 characters); a longer one is dropped. */
export const MAX_TRACESTATE_LENGTH = 512;

/** `version-traceid-parentid-flags`; later versions may append fields after the flags. */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * The span context a `traceparent` value names, marked remote; undefined when the value is
 * malformed, of version `ff`, has an all-zero id, or is version 00 with extra fields.
 */
export function parseTraceparent(traceparent: string, tracestate = ""): SpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent.trim());
  if (!match) return undefined;
  const [, version, traceId = "", spanId = "", flags = "", rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  const context: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
  };
  if (!isSpanContextValid(context)) return undefined;
  if (tracestate !== "") context.traceState = createTraceState(tracestate);
  return context;
}

/** The `traceparent` value (version 00) of a span context. */
export function formatTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? "01" : "00"}`;
}

/**
 * The trace context to keep from request header values: the `traceparent` rewritten in the
 * version 00 form, and the `tracestate` when it is at most {@link MAX_TRACESTATE_LENGTH}
 * characters. Undefined when `traceparent` is absent or invalid (`tracestate` alone means nothing).
 */
export function traceContextOf(traceparent: string | null, tracestate: string | null): TraceContext | undefined {
  if (traceparent === null || traceparent === "") return undefined;
  const context = parseTraceparent(traceparent);
  if (context === undefined) return undefined;
  const state = tracestate?.trim() ?? "";
  return { traceparent: formatTraceparent(context), tracestate: state.length <= MAX_TRACESTATE_LENGTH ? state : "" };
}

/** The trace context of a span context (its `traceState` serialized). */
export function traceContextFromSpan(context: SpanContext): TraceContext {
  return { traceparent: formatTraceparent(context), tracestate: context.traceState?.serialize() ?? "" };
}

/** Attribute names of the server's and the worker's spans. */
export const SPAN_ATTRIBUTES = {
  taskId: "taskwire.task.id",
  type: "taskwire.task.type",
  queue: "taskwire.task.queue",
  attempt: "taskwire.task.attempt",
  state: "taskwire.task.state",
  workerId: "taskwire.worker.id",
  errorKind: "taskwire.error.kind",
  count: "taskwire.task.count",
  /** OpenTelemetry's messaging conventions, which a task queue fits. */
  messagingSystem: "messaging.system",
  messagingDestination: "messaging.destination.name",
  messagingMessageId: "messaging.message.id",
} as const;

/**
 * Where an attempt's spans go (the server's dispatch and outcome spans, the worker's handler span), given the task's kept trace context: a child of it on attempt 1,
 * a new trace linked to it on a retry. Undefined when the task has none (or a malformed one).
 */
export function attemptSpanPlacement(
  traceparent: string | null,
  tracestate: string | null,
  attempt: number,
): { parent: Context; links: Link[]; root: boolean } | undefined {
  if (traceparent === null) return undefined;
  const remote = parseTraceparent(traceparent, tracestate ?? "");
  if (remote === undefined) return undefined;
  if (attempt <= 1) return { parent: trace.setSpanContext(ROOT_CONTEXT, remote), links: [], root: false };
  return { parent: ROOT_CONTEXT, links: [{ context: remote, attributes: { "taskwire.link": "submitted" } }], root: true };
}
