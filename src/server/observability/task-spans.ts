/**
 * The server's spans of a task's life, when the application registered an OpenTelemetry SDK
 * (the `taskwire server` command does when `OTEL_*` variables ask: `otlp.ts`):
 *
 * - `taskwire.submit` (SERVER), around Submit and SubmitBatch (`submit-tracing.ts`);
 * - `taskwire.dispatch`, per attempt, from the moment the task was runnable to the attempt's
 *   start: its queue wait, as seen in the trace;
 * - `taskwire.outcome`, per attempt, while its end is recorded: the result, the new state.
 *
 * They belong to the trace the task was submitted in (its kept `traceparent`): the first
 * attempt's spans are children of the submitter's span, like the worker's handler span; each
 * retry's spans start a new trace linked to it, so that a task retried for a day does not make
 * a day-long trace. Tasks submitted without a trace context get no dispatch or outcome spans.
 * Without an SDK, or for such tasks, nothing here allocates anything per task.
 * Keep in line with the README's "Traces" section and the worker's `handler-span.ts`.
 */
import { SpanKind, SpanStatusCode, type Attributes, type SpanOptions } from "@opentelemetry/api";
import { attemptSpanPlacement, SPAN_ATTRIBUTES } from "../../common/trace-context.js";
import { TracerRef } from "../../common/tracer-ref.js";
import { TASKWIRE_VERSION } from "../../core/version.js";
import type { TaskRecord } from "../../core/task-types.js";
import type { AttemptOutcome } from "../../store/store.js";

/** The instrumentation scope of the server's spans. */
export const SERVER_TRACER = new TracerRef("taskwire-server", TASKWIRE_VERSION);

function taskAttributes(task: TaskRecord): Attributes {
  return {
    [SPAN_ATTRIBUTES.taskId]: task.id,
    [SPAN_ATTRIBUTES.type]: task.type,
    [SPAN_ATTRIBUTES.queue]: task.queue,
    [SPAN_ATTRIBUTES.attempt]: task.attempt,
    [SPAN_ATTRIBUTES.messagingSystem]: "taskwire",
    [SPAN_ATTRIBUTES.messagingDestination]: task.queue,
    [SPAN_ATTRIBUTES.messagingMessageId]: task.id,
  };
}

/** Records the dispatch and outcome spans; see the file header. */
export class TaskSpans {
  constructor(private readonly tracer: TracerRef = SERVER_TRACER) {}

  /** Attempts started at `startedMs`: a dispatch span each, from the moment the task was runnable to its start. */
  dispatched(tasks: readonly TaskRecord[], startedMs: number): void {
    const tracer = this.tracer.current();
    if (tracer === undefined) return;
    for (const task of tasks) {
      const placement = attemptSpanPlacement(task.traceparent, task.tracestate, task.attempt);
      if (placement === undefined) continue;
      const options: SpanOptions = {
        kind: SpanKind.INTERNAL,
        startTime: Math.min(startedMs, task.scheduledAt.getTime()),
        links: placement.links,
        root: placement.root,
        attributes: { ...taskAttributes(task), [SPAN_ATTRIBUTES.workerId]: task.workerId ?? "" },
      };
      tracer.startSpan("taskwire.dispatch", options, placement.parent).end(startedMs);
    }
  }

  /** An attempt's outcome recorded from `startMs` to `endMs`, leaving `task` in its new state. */
  recorded(task: TaskRecord, outcome: AttemptOutcome, startMs: number, endMs: number): void {
    const tracer = this.tracer.current();
    if (tracer === undefined) return;
    const placement = attemptSpanPlacement(task.traceparent, task.tracestate, outcome.attempt);
    if (placement === undefined) return;
    const attributes: Attributes = { ...taskAttributes(task), [SPAN_ATTRIBUTES.attempt]: outcome.attempt, [SPAN_ATTRIBUTES.state]: task.state };
    if (outcome.kind === "failed") attributes[SPAN_ATTRIBUTES.errorKind] = outcome.error.kind;
    const span = tracer.startSpan("taskwire.outcome", { kind: SpanKind.INTERNAL, startTime: startMs, links: placement.links, root: placement.root, attributes }, placement.parent);
    if (outcome.kind === "failed") span.setStatus({ code: SpanStatusCode.ERROR, message: `${outcome.error.name}: ${outcome.error.message}`.slice(0, 1000) });
    span.end(endMs);
  }
}
