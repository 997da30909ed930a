/**
 * The tracer of an OpenTelemetry SDK the application registered, or nothing. Taskwire depends
 * on `@opentelemetry/api` only: without a registered SDK its tracers are no-ops that still
 * allocate a span per call, so the server and the worker ask {@link TracerRef.current} first
 * and skip span work (per task: none) when it says no SDK is there. The answer is re-read at
 * most once a second, so an SDK registered after start is picked up.
 */
import { ProxyTracer, trace, type Tracer } from "@opentelemetry/api";

/** How long an answer of {@link TracerRef.current} is reused. */
const RECHECK_MS = 1000;

/** A named tracer that is undefined while no SDK is registered; see the file header. */
export class TracerRef {
  #tracer: Tracer | undefined;
  #checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly name: string,
    readonly version: string,
  ) {}

  /** The registered SDK's tracer, or undefined when spans would be no-ops. */
  current(): Tracer | undefined {
    const now = Date.now();
    if (now - this.#checkedAt >= RECHECK_MS) {
      this.#checkedAt = now;
      const tracer = trace.getTracer(this.name, this.version);
      // Without a registered provider the API hands out a proxy of the no-op tracer.
      this.#tracer = tracer instanceof ProxyTracer ? undefined : tracer;
    }
    return this.#tracer;
  }
}
