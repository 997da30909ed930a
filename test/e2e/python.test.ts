/**
 * Other languages: the Python example (`examples/python/`) against a real server. The Python
 * worker declares `shapes.area`, whose messages only its own `.proto` defines; the task is
 * submitted from the TypeScript client (an `Any` packed from the descriptors `buf build` makes of
 * that `.proto`) and from `buf curl` with typed JSON (the `@type` resolved through reflection),
 * and both complete. The Python client then runs its tour (types, typed submit and progress,
 * a refusal's google.rpc details, cancel), and a server shutdown drains the worker. The buf curl
 * submission is the README's command, run as written (only the address changes).
 *
 * Needs Debian's python3-grpcio, protobuf-compiler and protobuf-compiler-grpc (`.ci/run`
 * installs them). Skipped when they are missing, except in CI (`CI=true`), where it fails.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { create, createFileRegistry, fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { anyPack, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, createTaskwireRegistry, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { BUF, bufCurl, runCommand } from "../support/buf-curl.js";
import { readmeBlocks, runReadmeShell } from "../support/readme.js";
import { eventually, ROOT, startTestServer, type TestServer } from "../support/server.js";

const PYTHON = "/usr/bin/python3";
const EXAMPLE = `${ROOT}examples/python`;
const pythonReady =
  spawnSync(PYTHON, ["-c", "import grpc, google.protobuf"]).status === 0 &&
  spawnSync("bash", ["-c", "command -v protoc && command -v grpc_python_plugin"]).status === 0;
const inCi = process.env.CI === "true";

describe.skipIf(!pythonReady && !inCi)("the Python example", () => {
  let server: TestServer;
  let worker: ChildProcess;
  let workerLogs = "";
  let workerExit: Promise<number | null>;
  let client: TaskwireClient;
  let polygon: DescMessage;

  beforeAll(async () => {
    expect(pythonReady, "python3-grpcio, protobuf-compiler and protobuf-compiler-grpc must be installed (see .ci/run)").toBe(true);
    const generated = await runCommand("bash", [`${EXAMPLE}/generate.sh`], 60_000);
    expect(generated.code, generated.stderr).toBe(0);

    // The TypeScript side gets the worker's messages from its .proto, as a FileDescriptorSet.
    const built = spawnSync(BUF, ["build", "examples/python/proto", "--as-file-descriptor-set", "-o", "-"], { cwd: ROOT });
    expect(built.status, built.stderr.toString()).toBe(0);
    const shapes = createFileRegistry(fromBinary(FileDescriptorSetSchema, built.stdout));
    polygon = shapes.getMessage("shapes.v1.Polygon") as DescMessage;
    expect(polygon).toBeDefined();

    server = await startTestServer();
    client = createClient({ url: server.url, registry: createTaskwireRegistry(shapes) });
    worker = spawn(PYTHON, [`${EXAMPLE}/worker.py`, "--target", server.url.replace("http://", ""), "--slots", "2"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    worker.stdout?.on("data", (chunk: Buffer) => (workerLogs += chunk.toString()));
    worker.stderr?.on("data", (chunk: Buffer) => (workerLogs += chunk.toString()));
    workerExit = new Promise((resolve) => worker.once("exit", (code) => resolve(code)));
    await eventually(
      async () => (await client.listTypes()).some((t) => t.name === "shapes.area" && t.workerCount > 0),
      20_000,
      "the Python worker to declare shapes.area",
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${workerLogs}`);
    });
  }, 90_000);

  afterAll(async () => {
    client?.close();
    if (worker && worker.exitCode === null) worker.kill("SIGKILL");
    await server?.stop();
  });

  it("runs a task submitted from the TypeScript client with an Any of the worker's message", async () => {
    const input = anyPack(polygon, create(polygon, { name: "triangle", vertices: [{ x: 0, y: 0 }, { x: 4, y: 0 }, { x: 0, y: 3 }] }));
    const handle = await client.submitByName("shapes.area", input);
    const output = await handle.result({ timeout: "20s" });
    expect(output, workerLogs).toMatchObject({ name: "triangle", area: 6, perimeter: 12, vertexCount: 3 });
    const task = await handle.status();
    expect(task.state).toBe(TaskState.SUCCEEDED);
    // Its checkpoint (TaskProgress.context) and its log lines with fields (LogReport), stored.
    expect(task.context).toEqual({ vertices: { done: 3 } });
    const logs = await client.getTaskLogs(handle.id);
    expect(logs.lines.map((line) => [line.attempt, line.level, line.message, line.fields])).toEqual([
      [1, "info", "measuring 3 vertices", { vertices: 3, resumedAfter: 0 }],
      [1, "info", "measured", { area: 6, perimeter: 12 }],
    ]);
    expect(logs.lines[0]?.time).toBeDefined();
  });

  it("runs a task submitted by buf curl with typed JSON (the README's command), @type resolved through reflection", async () => {
    const [command] = readmeBlocks("clients-python", "sh");
    expect(command).toContain("shapes.v1.Polygon");
    const submitted = await runReadmeShell(command ?? "", server.url.replace("http://", ""));
    expect(submitted.code, submitted.stderr).toBe(0);
    const { task } = JSON.parse(submitted.stdout) as { task: { id: string } };

    const result = await bufCurl([
      "--protocol", "grpc", "--http2-prior-knowledge",
      "-d", JSON.stringify({ id: task.id, wait: "20s" }),
      `${server.url}/taskwire.v1.TaskService/GetResult`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout), workerLogs).toMatchObject({
      task: { state: "TASK_STATE_SUCCEEDED", output: { "@type": "type.googleapis.com/shapes.v1.Measurement", name: "square", area: 4, perimeter: 8 } },
    });
  });

  it("hands the worker the W3C trace context the task was submitted with", async () => {
    const input = anyPack(polygon, create(polygon, { name: "traced", vertices: [{ x: 0, y: 0 }, { x: 1, y: 0 }, { x: 0, y: 1 }] }));
    const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const handle = await client.submitByName("shapes.area", input, {}, { headers: { traceparent } });
    await handle.result({ timeout: "20s" });
    const line = `task ${handle.id} attempt 1: trace 4bf92f3577b34da6a3ce929d0e0e4736 (parent span 00f067aa0ba902b7, sampled)`;
    await eventually(async () => workerLogs.includes(line), 10_000, `the worker to log "${line}"`).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${workerLogs}`);
    });
    // The handler ran inside the example's middleware (MIDDLEWARE = [timed]), which logs each attempt's end.
    await eventually(async () => new RegExp(`task ${handle.id} attempt 1 succeeded in \\d+ ms`).test(workerLogs), 10_000, "the middleware's line");
  });

  it("names the output's fields as protoc does for Connect/JSON clients, from the runtime descriptors the worker sends", async () => {
    // The worker sends CopyToProto descriptors: no json_name, which the server fills in.
    const input = anyPack(polygon, create(polygon, { name: "json", vertices: [{ x: 0, y: 0 }, { x: 2, y: 0 }, { x: 0, y: 2 }] }));
    const handle = await client.submitByName("shapes.area", input);
    await handle.result({ timeout: "20s" });
    const response = await fetch(`${server.url}/taskwire.v1.TaskService/GetResult`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: handle.id }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { task: { output: unknown } }).task.output).toEqual({
      "@type": "type.googleapis.com/shapes.v1.Measurement",
      name: "json",
      area: 2,
      perimeter: 4 + Math.hypot(2, 2),
      vertexCount: 3,
    });
  });

  it("records the worker's failure of an input it cannot use, without retrying, with its traceback", async () => {
    const input = anyPack(polygon, create(polygon, { name: "line", vertices: [{ x: 0, y: 0 }, { x: 1, y: 1 }] }));
    const handle = await client.submitByName("shapes.area", input);
    await expect(handle.result({ timeout: "20s" })).rejects.toThrow(/at least 3 vertices/);
    const task = await handle.status();
    expect(task.state).toBe(TaskState.FAILED);
    expect(task.attempt).toBe(1);
    expect(task.error?.stack).toMatch(/^Traceback \(most recent call last\):\n[\s\S]*worker\.py[\s\S]*\nValueError: a polygon needs at least 3 vertices, got 2\n$/);
  });

  it("serves the Python client: types, typed submit with progress, a refusal's details, cancel", async () => {
    const run = await runCommand(PYTHON, [`${EXAMPLE}/client.py`, "--target", server.url.replace("http://", "")], 60_000);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    const lines = run.stdout.split("\n");
    expect(lines).toContain("type shapes.area: shapes.v1.Polygon -> shapes.v1.Measurement, 1 worker(s)");
    expect(lines).toContain("RUNNING 100% vertex 4 of 4");
    expect(lines).toContain("result: square area=4 perimeter=8");
    expect(run.stdout).toMatch(/refused: INVALID_ARGUMENT: input: task type "shapes.area" takes shapes.v1.Polygon/);
    expect(lines).toContain("  reason INPUT_TYPE_MISMATCH (domain taskwire.dev)");
    expect(lines).toContain("  field input: expected type URL type.googleapis.com/shapes.v1.Polygon");
    expect(run.stdout).toMatch(/^cancel [0-9a-f-]+: (CANCELLED|CANCELLING)$/m);
    expect(run.stdout).toMatch(/^final [0-9a-f-]+: CANCELLED$/m);
  });

  it("drains: a server shutdown ends the worker cleanly", async () => {
    await server.stop();
    expect(await workerExit, workerLogs).toBe(0);
    expect(workerLogs).toContain("server asks to drain");
  });
});
