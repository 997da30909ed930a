/**
 * The client's half of tracing: every call made inside an active OpenTelemetry span carries its
 * W3C trace context (`traceparent`, and `tracestate` when there is one), so a task submitted
 * there is kept with that context and its worker's handler span joins the caller's trace.
 * Written in the W3C format directly (not through `propagation.inject`), so it works whether or
 * not the application registered a propagator; a `traceparent` the caller set itself wins.
 * Outside a span (or without an SDK) calls go out unchanged.
 */
import type { Transport } from "@connectrpc/connect";
import { context, isSpanContextValid, trace } from "@opentelemetry/api";
import { traceContextFromSpan } from "../common/trace-context.js";

type CallHeaders = Parameters<Transport["unary"]>[3];

/** `header` with the active span's trace context, or `header` itself outside a span. */
function withActiveTrace(header: CallHeaders): CallHeaders {
  const span = trace.getSpanContext(context.active());
  if (span === undefined || !isSpanContextValid(span)) return header;
  const headers = new Headers(header);
  if (headers.has("traceparent")) return headers;
  const { traceparent, tracestate } = traceContextFromSpan(span);
  headers.set("traceparent", traceparent);
  if (tracestate !== "") headers.set("tracestate", tracestate);
  return headers;
}

/** `transport` with the active span's trace context on every call; see the file header. */
export function withTracePropagation(transport: Transport): Transport {
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, timeoutMs, withActiveTrace(header), input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs, withActiveTrace(header), input, contextValues),
  };
}
