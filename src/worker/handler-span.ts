/**
 * The span a handler runs in, when the application registered an OpenTelemetry SDK: `taskwire.run
 * <type>` (CONSUMER), active while the handler runs, so that the spans task code makes are its
 * children. On attempt 1 it is a child of the submitter's span (`Assignment.traceparent`); a
 * retry starts a new trace linked to it; a task submitted without a trace context gets a span of
 * its own. The span ends with the attempt's outcome: an error status for a failure, the outcome
 * as `taskwire.task.outcome`. Without an SDK the handler runs as it is (no span, no allocation).
 * Keep in line with the README's "Traces" and the server's `observability/task-spans.ts`.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { Assignment } from "../../gen/taskwire/v1/worker_service_pb.js";
import { ErrorKind } from "../../gen/taskwire/v1/task_pb.js";
import { attemptSpanPlacement, SPAN_ATTRIBUTES } from "../common/trace-context.js";
import { TracerRef } from "../common/tracer-ref.js";
import type { AttemptOutcome } from "./task-runner.js";
import { SDK_VERSION } from "./version.js";

/** The instrumentation scope of the worker's spans. */
export const WORKER_TRACER = new TracerRef("taskwire-worker", SDK_VERSION);

/** Runs `run` (one attempt of `assignment`) in its span; see the file header. */
export function runInHandlerSpan(assignment: Assignment, workerId: string, run: () => Promise<AttemptOutcome>): Promise<AttemptOutcome> {
  const tracer = WORKER_TRACER.current();
  if (tracer === undefined) return run();
  const placement = attemptSpanPlacement(assignment.traceparent || null, assignment.tracestate || null, assignment.attempt) ?? {
    parent: ROOT_CONTEXT,
    links: [],
    root: true,
  };
  const span = tracer.startSpan(
    `taskwire.run ${assignment.type}`,
    {
      kind: SpanKind.CONSUMER,
      links: placement.links,
      root: placement.root,
      attributes: {
        [SPAN_ATTRIBUTES.taskId]: assignment.taskId,
        [SPAN_ATTRIBUTES.type]: assignment.type,
        [SPAN_ATTRIBUTES.attempt]: assignment.attempt,
        [SPAN_ATTRIBUTES.workerId]: workerId,
        [SPAN_ATTRIBUTES.messagingSystem]: "taskwire",
        [SPAN_ATTRIBUTES.messagingMessageId]: assignment.taskId,
      },
    },
    placement.parent,
  );
  return context.with(trace.setSpan(placement.parent, span), run).then((outcome) => {
    span.setAttribute("taskwire.task.outcome", outcome.kind);
    if (outcome.kind === "failure") {
      const { failure } = outcome;
      span.setAttribute(SPAN_ATTRIBUTES.errorKind, ErrorKind[failure.kind]);
      span.recordException({ name: failure.name, message: failure.message, stack: failure.stack });
      span.setStatus({ code: SpanStatusCode.ERROR, message: `${failure.name}: ${failure.message}`.slice(0, 1000) });
    }
    span.end();
    return outcome;
  });
}
