/**
 * The trace context of Submit and SubmitBatch: the W3C `traceparent` / `tracestate` request
 * headers are read here and handed to the task service (a context value), which keeps them with
 * each task submitted (`NewTask.traceparent`), so that the worker's handler span joins the
 * submitter's trace. With an OpenTelemetry SDK registered, the call also gets a
 * `taskwire.submit` server span, a child of the caller's span; a task submitted without a
 * context then keeps the submit span's, so the server's trace reaches the worker too.
 * Without a header and without an SDK this costs two header lookups per call.
 */
import { createContextKey, type HandlerContext, type Interceptor } from "@connectrpc/connect";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { TaskService } from "../../../gen/taskwire/v1/task_service_pb.js";
import { parseTraceparent, traceContextFromSpan, traceContextOf, type TraceContext } from "../../common/trace-context.js";
import type { NewTask } from "../../core/task-types.js";
import { SPAN_ATTRIBUTES } from "../../common/trace-context.js";
import { SERVER_TRACER } from "./task-spans.js";
import type { TracerRef } from "../../common/tracer-ref.js";

/** The trace context tasks submitted by the current call keep; undefined: none. */
export const SUBMIT_TRACE = createContextKey<TraceContext | undefined>(undefined, { description: "taskwire submit trace context" });

const SUBMIT_METHODS: ReadonlySet<string> = new Set([TaskService.method.submit.name, TaskService.method.submitBatch.name]);

/** `task` with the trace context of the call `context` belongs to (unchanged when it has none). */
export function withSubmitTrace(task: NewTask, context: Pick<HandlerContext, "values">): NewTask {
  const trace = context.values.get(SUBMIT_TRACE);
  if (trace === undefined) return task;
  task.traceparent = trace.traceparent;
  task.tracestate = trace.tracestate === "" ? null : trace.tracestate;
  return task;
}

/** Reads the trace headers of submissions and spans them; see the file header. */
export function submitTracing(tracer: TracerRef = SERVER_TRACER): Interceptor {
  return (next) => async (request) => {
    if (request.service.typeName !== TaskService.typeName || !SUBMIT_METHODS.has(request.method.name)) return next(request);
    const traceparent = request.header.get("traceparent");
    const sdk = tracer.current();
    if (traceparent === null && sdk === undefined) return next(request);
    const kept = traceContextOf(traceparent, request.header.get("tracestate"));
    if (sdk === undefined) {
      request.contextValues.set(SUBMIT_TRACE, kept);
      return next(request);
    }
    const remote = kept === undefined ? undefined : parseTraceparent(kept.traceparent, kept.tracestate);
    const parent = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
    const span = sdk.startSpan(
      "taskwire.submit",
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": request.service.typeName,
          "rpc.method": request.method.name,
          [SPAN_ATTRIBUTES.messagingSystem]: "taskwire",
        },
      },
      parent,
    );
    request.contextValues.set(SUBMIT_TRACE, kept ?? (span.isRecording() ? traceContextFromSpan(span.spanContext()) : undefined));
    try {
      const response = await next(request);
      if (!response.stream) {
        const message = response.message as { task?: { id: string; type: string; queue: string }; tasks?: unknown[] };
        if (message.task !== undefined) {
          span.setAttributes({
            [SPAN_ATTRIBUTES.taskId]: message.task.id,
            [SPAN_ATTRIBUTES.type]: message.task.type,
            [SPAN_ATTRIBUTES.queue]: message.task.queue,
          });
        }
        if (message.tasks !== undefined) span.setAttribute(SPAN_ATTRIBUTES.count, message.tasks.length);
      }
      return response;
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message.slice(0, 1000) : String(error) });
      throw error;
    } finally {
      span.end();
    }
  };
}
