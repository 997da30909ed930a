/**
 * `grpc.health.v1.Health` against real servers: Check, List and Watch on both storage back
 * ends; NOT_SERVING while a server drains; and a server whose Redis (a private `redis-server`
 * of this test, never the shared one) is stopped and started again. The grpc-js case loads the
 * vendored `health.proto` at run time, as probes written in other languages see the service.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Code, ConnectError, createClient as createRpcClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createClient } from "../../src/client/index.js";
import { startPrivateRedis, type PrivateRedis } from "../support/private-redis.js";
import { BACKENDS, eventually, ROOT, startTestServer, type TestServer } from "../support/server.js";

const SERVICES = ["", "taskwire.v1.AdminService", "taskwire.v1.ScheduleService", "taskwire.v1.TaskService", "taskwire.v1.WorkerService"];

function healthClient(url: string): Client<typeof Health> {
  return createRpcClient(Health, createGrpcTransport({ baseUrl: url }));
}

/** Reads a Watch stream message by message. */
function watch(url: string, service: string) {
  const abort = new AbortController();
  const iterator = healthClient(url).watch({ service }, { signal: abort.signal })[Symbol.asyncIterator]();
  return {
    /** The next status; "ended" when the server closed the stream with OK. */
    async next(): Promise<ServingStatus | "ended"> {
      const result = await iterator.next();
      return result.done ? "ended" : result.value.status;
    },
    cancel: () => abort.abort(),
  };
}

describe.each(BACKENDS)("health on %s", (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(SERVICES)("Check(%j) is SERVING", async (service) => {
    expect((await healthClient(server.url).check({ service })).status).toBe(ServingStatus.SERVING);
  });

  it("Check of an unknown service is NOT_FOUND", async () => {
    const error = await healthClient(server.url)
      .check({ service: "nope.v1.Missing" })
      .catch((e: unknown) => ConnectError.from(e));
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("List has every service", async () => {
    const { statuses } = await healthClient(server.url).list({});
    expect(Object.keys(statuses).sort()).toEqual(SERVICES);
    for (const service of SERVICES) expect(statuses[service]?.status).toBe(ServingStatus.SERVING);
  });

  it("Watch of an unknown service sends SERVICE_UNKNOWN and stays open", async () => {
    const stream = watch(server.url, "nope.v1.Missing");
    expect(await stream.next()).toBe(ServingStatus.SERVICE_UNKNOWN);
    const more = await Promise.race([stream.next(), new Promise((resolve) => setTimeout(() => resolve("still open"), 300))]);
    expect(more).toBe("still open");
    stream.cancel();
  });
});

describe("health while draining", () => {
  it("Watch sends SERVING, then NOT_SERVING when the server drains, then ends", async () => {
    const server = await startTestServer();
    const stream = watch(server.url, "");
    expect(await stream.next()).toBe(ServingStatus.SERVING);
    const stopping = server.stop();
    expect(await stream.next()).toBe(ServingStatus.NOT_SERVING);
    expect(await stream.next()).toBe("ended");
    await stopping;
  });
});

describe("health with grpc-js and the vendored health.proto", () => {
  let server: TestServer;
  let client: grpc.Client & Record<string, unknown>;

  beforeAll(async () => {
    server = await startTestServer();
    const definition = protoLoader.loadSync("grpc/health/v1/health.proto", { includeDirs: [`${ROOT}proto`], enums: String });
    const health = ((grpc.loadPackageDefinition(definition)["grpc"] as grpc.GrpcObject)["health"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject;
    const HealthClient = health["Health"] as grpc.ServiceClientConstructor;
    client = new HealthClient(server.url.replace("http://", ""), grpc.credentials.createInsecure()) as grpc.Client & Record<string, unknown>;
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  it("Check answers SERVING", async () => {
    type Check = (request: { service: string }, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, response?: { status: string }) => void) => void;
    const check = client["Check"] as Check;
    const response = await new Promise<{ status: string } | undefined>((resolve, reject) => {
      check.call(client, { service: "" }, { deadline: Date.now() + 5_000 }, (error, value) => (error ? reject(error) : resolve(value)));
    });
    expect(response?.status).toBe("SERVING");
  });
});

describe("health with a stopped Redis", () => {
  let redis: PrivateRedis;
  let server: TestServer;

  beforeAll(async () => {
    redis = await startPrivateRedis();
    server = await startTestServer({ redisUrl: redis.url });
  });

  afterAll(async () => {
    await redis?.start().catch(() => undefined); // let the server close its connections cleanly
    await server?.stop();
    await redis?.stop();
  });

  it("goes NOT_SERVING while Redis is down, refuses calls with UNAVAILABLE and RetryInfo, and recovers", async () => {
    const health = healthClient(server.url);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    const stream = watch(server.url, "");
    expect(await stream.next()).toBe(ServingStatus.SERVING);

    await redis.stop();
    expect(await stream.next()).toBe(ServingStatus.NOT_SERVING);
    await eventually(async () => (await health.check({ service: "" })).status === ServingStatus.NOT_SERVING, 10_000, "NOT_SERVING");
    expect((await health.check({ service: "taskwire.v1.TaskService" })).status).toBe(ServingStatus.NOT_SERVING);

    // What a caller sees meanwhile: UNAVAILABLE, with a hint of when to retry.
    const client = createClient({ url: server.url });
    const events = client.handle("0190f3a4-0000-7000-8000-000000000000").progress();
    const error = await (async () => {
      for await (const event of events) void event;
    })().catch((e: unknown) => ConnectError.from(e));
    client.close();
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.Unavailable);
    expect((error as ConnectError).findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(1n);

    await redis.start();
    expect(await stream.next()).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    stream.cancel();
  }, 30_000);
});
