/**
 * One trace from a client's span to the worker's handler span, across two servers: server A
 * and server B share Redis and PostgreSQL, the client submits to A inside a span of its own, a
 * worker (in this process, so that one in-memory exporter sees every span) is connected to B.
 * The submit, dispatch and outcome spans of the servers and the handler span of the worker must
 * all belong to the client's trace, as children of its span, and the handler must run with its
 * span active; each span of a retry must start a new trace linked to the client's span; a submission without
 * a span must still reach the worker, under the server's submit span.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { trace, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { createClient, type TaskwireClient } from "../../src/client/index.js";
import { silentLogger } from "../../src/core/logger.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { eventually, startTestServer, type TestServer } from "../support/server.js";

const QUEUE = "traces";

/** Reports the span active while it runs. */
const traced = defineTask({ name: "test.traced", input: StructSchema, output: StructSchema, queue: QUEUE, retries: 3, backoff: { initial: 10, max: 10 } }, async (input, ctx) => {
  const active = trace.getActiveSpan()?.spanContext();
  if (ctx.attempt <= Number(input.failTimes ?? 0)) throw new Error(`failing attempt ${ctx.attempt} on purpose`);
  return { traceId: active?.traceId ?? "", spanId: active?.spanId ?? "" };
});

describe("traces across two servers", () => {
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const tracer = trace.getTracer("test-client");
  let a: TestServer;
  let b: TestServer;
  let worker: Worker;
  let running: Promise<void>;
  let client: TaskwireClient;

  /** The spans of `traceId` exported so far, by name. */
  const spansOf = (traceId: string): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
  const named = (spans: readonly ReadableSpan[], name: string): ReadableSpan[] => spans.filter((span) => span.name === name);
  const parentOf = (span: ReadableSpan | undefined): string | undefined => span?.parentSpanContext?.spanId;

  beforeAll(async () => {
    provider.register();
    a = await startTestServer({}, undefined, "redis+postgres");
    b = await startTestServer({ redisPrefix: a.config.redisPrefix, databaseSchema: a.config.databaseSchema }, undefined, "redis+postgres");
    worker = new Worker({ url: b.url, tasks: [traced], queues: [QUEUE], concurrency: 4, logger: silentLogger() });
    running = worker.run();
    client = createClient({ url: a.url });
    const admin = createRpcClient(AdminService, createGrpcTransport({ baseUrl: a.url }));
    await eventually(async () => (await admin.listWorkers({})).workers.length === 1, 60_000, "the worker to connect to B");
  }, 120_000);

  afterAll(async () => {
    await worker?.shutdown();
    await running;
    client?.close();
    await b?.server.close();
    await a?.stop();
    await provider.shutdown();
    trace.disable();
  }, 60_000);

  it("puts the servers' spans and the handler's span in the client's trace, as children of its span", async () => {
    const { output, clientSpan } = await tracer.startActiveSpan("client.order", async (span) => {
      try {
        const handle = await client.submit(traced, { order: 1 });
        return { output: await handle.result({ timeout: 60_000 }), clientSpan: span.spanContext() };
      } finally {
        span.end();
      }
    });
    const spans = spansOf(clientSpan.traceId);
    const [submit] = named(spans, "taskwire.submit");
    const [dispatch] = named(spans, "taskwire.dispatch");
    const [outcome] = named(spans, "taskwire.outcome");
    const [handler] = named(spans, "taskwire.run test.traced");
    expect(submit?.kind).toBe(SpanKind.SERVER);
    expect(parentOf(submit)).toBe(clientSpan.spanId);
    expect(parentOf(dispatch)).toBe(clientSpan.spanId);
    expect(parentOf(outcome)).toBe(clientSpan.spanId);
    expect(handler?.kind).toBe(SpanKind.CONSUMER);
    expect(parentOf(handler)).toBe(clientSpan.spanId);
    expect(handler?.attributes["taskwire.task.attempt"]).toBe(1);
    expect(dispatch?.attributes["taskwire.task.queue"]).toBe(QUEUE);
    expect(outcome?.attributes["taskwire.task.state"]).toBe("SUCCEEDED");
    // The handler ran with its span active: spans of task code are its children.
    expect(output).toEqual({ traceId: clientSpan.traceId, spanId: handler?.spanContext().spanId });
  }, 60_000);

  it("starts each retry's spans in a new trace linked to the client's span", async () => {
    const clientSpan = await tracer.startActiveSpan("client.retried", async (span) => {
      try {
        const handle = await client.submit(traced, { failTimes: 1 });
        await handle.result({ timeout: 60_000 });
        return span.spanContext();
      } finally {
        span.end();
      }
    });
    const handlers = named(exporter.getFinishedSpans(), "taskwire.run test.traced").filter(
      (span) => span.spanContext().traceId === clientSpan.traceId || span.links.some((link) => link.context.spanId === clientSpan.spanId),
    );
    const first = handlers.find((span) => span.attributes["taskwire.task.attempt"] === 1);
    const retry = handlers.find((span) => span.attributes["taskwire.task.attempt"] === 2);
    expect(parentOf(first)).toBe(clientSpan.spanId);
    expect(first?.status.code).toBe(SpanStatusCode.ERROR);
    expect(retry?.spanContext().traceId).not.toBe(clientSpan.traceId);
    expect(parentOf(retry)).toBeUndefined();
    expect(retry?.links.map((link) => link.context.spanId)).toEqual([clientSpan.spanId]);
    // The servers' spans of the retry are linked the same way.
    const linked = exporter.getFinishedSpans().filter((span) => span.links.some((link) => link.context.spanId === clientSpan.spanId));
    expect(linked.map((span) => span.name).sort()).toEqual(["taskwire.dispatch", "taskwire.outcome", "taskwire.run test.traced"]);
    expect(linked.every((span) => span.attributes["taskwire.task.attempt"] === 2 && parentOf(span) === undefined)).toBe(true);
    // The first attempt's outcome, in the client's trace: the task waits for its retry.
    const firstOutcomes = named(spansOf(clientSpan.traceId), "taskwire.outcome");
    expect(firstOutcomes).toHaveLength(1);
    expect(["QUEUED", "SCHEDULED"]).toContain(firstOutcomes[0]?.attributes["taskwire.task.state"]);
    expect(firstOutcomes[0]?.attributes["taskwire.error.kind"]).toBe("TASK_ERROR");
  }, 60_000);

  it("traces a submission made outside any span from the server's submit span", async () => {
    const handle = await client.submit(traced, { untraced: true });
    const output = (await handle.result({ timeout: 60_000 })) as { traceId: string; spanId: string };
    const spans = spansOf(output.traceId);
    const [submit] = named(spans, "taskwire.submit");
    const [handler] = named(spans, "taskwire.run test.traced");
    expect(parentOf(submit)).toBeUndefined();
    expect(parentOf(handler)).toBe(submit?.spanContext().spanId);
    expect(handler?.spanContext().spanId).toBe(output.spanId);
  }, 60_000);
});
