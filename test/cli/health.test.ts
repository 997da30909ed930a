/**
 * `taskwire health` as a container health check runs it: a process against a real server
 * (grpc.health.v1) and a real worker (`GET /health` on its metrics port), exit 0 only while serving.
 */
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/core/logger.js";
import { defineTask, Worker } from "../../src/worker/index.js";
import { BACKENDS, eventually, runCli, startTestServer, type TestServer } from "../support/server.js";

const noop = defineTask({ name: "health.noop", input: StructSchema, output: StructSchema }, async () => ({}));

describe.each(BACKENDS)("taskwire health (%s)", (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({}, silentLogger(), backend);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("exits 0 with SERVING while the server serves, 1 for a service it does not know", async () => {
    const serving = await runCli(["--url", server.url, "health"]);
    expect(serving, serving.stderr).toMatchObject({ code: 0, stdout: "SERVING\n" });
    const unknown = await runCli(["--url", server.url, "health", "--service", "no.such.Service"]);
    expect(unknown).toMatchObject({ code: 1, stdout: "SERVICE_UNKNOWN\n" });
    expect(unknown.stderr).toContain('unknown service "no.such.Service"');
  });

  it.runIf(backend === "redis+postgres")("reads a worker's stream state from its metrics port", async () => {
    const worker = new Worker({ url: server.url, tasks: [noop], metricsPort: 0, logger: silentLogger() });
    const run = worker.run();
    try {
      const port = await eventually(async () => worker.state === "RUNNING" && worker.metricsPort, 30_000, "the worker connected");
      const serving = await runCli(["health", "--worker", `http://127.0.0.1:${port}`]);
      expect(serving, serving.stderr).toMatchObject({ code: 0, stdout: "SERVING\n" });
      await worker.shutdown();
      await run;
      const gone = await runCli(["health", "--worker", `http://127.0.0.1:${port}`, "--timeout", "2s"]);
      expect(gone).toMatchObject({ code: 1, stdout: "UNREACHABLE\n" });
    } finally {
      await worker.shutdown();
      await run;
    }
  }, 60_000);
});

describe("taskwire health without a server", () => {
  it("exits 1 with UNREACHABLE, and 2 for a worker URL that is not one", async () => {
    const down = await runCli(["--url", "http://127.0.0.1:1", "health", "--timeout", "2s"]);
    expect(down).toMatchObject({ code: 1, stdout: "UNREACHABLE\n" });
    const bad = await runCli(["health", "--worker", "not a url"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--worker: "not a url" is not a URL');
  });
});
