/**
 * Access control against a real server with API keys (some from a keys file, some from the
 * environment setting): every role on every RPC family, missing, malformed and wrong keys,
 * client keys isolated from each other's tasks, a worker process with a worker key, health and
 * reflection left open, and the rules for running without keys (loopback only, unless
 * `--auth off`), through the real CLI.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/grpc/health/v1/health_pb.js";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ConnectRequestSchema, WorkerService, type ConnectRequest } from "../../gen/taskwire/v1/worker_service_pb.js";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { AsyncQueue } from "../../src/core/async-queue.js";
import { testKey, writeKeysFile, type TestKey } from "../support/keys.js";
import { eventually, ROOT, runCli, spawnWorker, startTestServer, type TestServer, type WorkerProcess } from "../support/server.js";

const alice = testKey("alice", "client");
const bob = testKey("bob", "client");
const workerKey = testKey("worker-1", "worker");
const admin = testKey("ops", "admin");
/** A type no worker runs: its tasks stay QUEUED, so they can be cancelled at leisure. */
const IDLE_TYPE = "auth.idle";

let dir: string;
let server: TestServer;
let worker: WorkerProcess;
let idleDeclaration: { close(): void };

/** A client sending `headers` (none: no authorization header). */
function clientWith(headers?: Record<string, string>): TaskwireClient {
  return createClient({ url: server.url, headers });
}

/** The ConnectError of a call that must fail. */
async function refusal(call: Promise<unknown> | (() => Promise<unknown>)): Promise<ConnectError> {
  const promise = typeof call === "function" ? call() : call;
  const error = await promise.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error, "the call should have failed").toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

/**
 * Opens a worker stream with `headers`, declaring {@link IDLE_TYPE} on a queue nobody serves, and
 * waits for the Welcome. Rejects with the server's refusal.
 */
async function openWorkerStream(headers: Record<string, string> | undefined): Promise<{ close(): void }> {
  const workerId = `auth-${Math.random().toString(16).slice(2)}`;
  const requests = new AsyncQueue<ConnectRequest>();
  requests.push(
    create(ConnectRequestSchema, {
      message: {
        case: "hello",
        value: {
          workerId,
          host: "test",
          queues: [`${workerId}-queue`],
          slots: 1,
          types: [{ name: IDLE_TYPE, inputType: StructSchema.typeName, outputType: StructSchema.typeName, defaults: { queue: "auth-idle" } }],
          descriptors: descriptorSetOf([StructSchema]),
        },
      },
    }),
  );
  const responses = createRpcClient(WorkerService, createGrpcTransport({ baseUrl: server.url })).connect(requests, { headers });
  const iterator = responses[Symbol.asyncIterator]();
  try {
    const first = await iterator.next();
    if (first.value?.message.case !== "welcome") throw new Error(`expected Welcome, got ${JSON.stringify(first.value?.message.case)}`);
  } catch (error) {
    requests.end();
    throw error;
  }
  void (async () => {
    try {
      for (;;) if ((await iterator.next()).done) return;
    } catch {
      // ended with the test
    }
  })();
  return { close: () => requests.end() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskwire-auth-"));
  // Some keys from the file, the others from the environment setting: both are read.
  const apiKeysFile = await writeKeysFile(join(dir, "keys.txt"), [alice, workerKey]);
  server = await startTestServer({ apiKeysFile, apiKeys: [bob.env, admin.env].join(",") });
  idleDeclaration = await openWorkerStream(admin.headers);
  worker = spawnWorker(server.url, ["-H", `authorization: Bearer ${workerKey.token}`]);
  const ops = clientWith(admin.headers);
  await eventually(async () => (await ops.listTypes()).find((type) => type.name === "test.echo" && type.workerCount > 0), 20_000, "the worker");
  ops.close();
});

afterAll(async () => {
  worker?.kill();
  await worker?.exited;
  idleDeclaration?.close();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("authentication", () => {
  it("refuses a call without a key: UNAUTHENTICATED, saying how to send one", async () => {
    const error = await refusal(clientWith().submitByName("test.echo", { a: 1 }));
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toBe('missing API key: send the header "authorization: Bearer <token>" with an API key of the server');
    expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("API_KEY_MISSING");
  });

  it.each([["Token abc"], ["Bearer"], ["Bearer two tokens"], [alice.token]])("refuses the malformed header %j", async (value) => {
    const error = await refusal(clientWith({ authorization: value }).listTypes());
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toMatch(/^malformed authorization header/);
  });

  it("refuses a wrong key, and a key's hash sent as its token", async () => {
    for (const token of ["tw_not-a-key", alice.line.split(" ")[2] ?? "", `${alice.token}x`]) {
      const error = await refusal(clientWith({ authorization: `Bearer ${token}` }).listTasks());
      expect(error.code).toBe(Code.Unauthenticated);
      expect(error.rawMessage).toBe("invalid API key: the server knows no key with this token");
      expect(error.findDetails(ErrorInfoSchema)[0]?.reason).toBe("API_KEY_INVALID");
    }
  });

  it("refuses a worker stream without a key", async () => {
    const error = await refusal(openWorkerStream(undefined));
    expect(error.code).toBe(Code.Unauthenticated);
  });

  it("leaves health and reflection open", async () => {
    const transport = createGrpcTransport({ baseUrl: server.url });
    expect((await createRpcClient(Health, transport).check({ service: "" })).status).toBe(ServingStatus.SERVING);
    const services: string[] = [];
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    }
    for await (const response of createRpcClient(ServerReflection, transport).serverReflectionInfo(requests())) {
      if (response.messageResponse.case === "listServicesResponse") services.push(...response.messageResponse.value.service.map((s) => s.name));
    }
    expect(services).toContain("taskwire.v1.TaskService");
  });
});

describe("roles on each RPC family", () => {
  // Each family's call; "allowed" means it got past access control (a NOT_FOUND for an unknown
  // id is fine), "denied" means PERMISSION_DENIED.
  const unknownId = "01900000-0000-7000-8000-000000000000";
  const families: Record<string, (key: TestKey) => Promise<unknown>> = {
    Submit: (key) => clientWith(key.headers).submitByName(IDLE_TYPE, { a: 1 }),
    SubmitBatch: (key) => clientWith(key.headers).submitBatch([{ type: IDLE_TYPE, input: { a: 1 } }]),
    GetStatus: (key) => clientWith(key.headers).getStatus(unknownId),
    GetResult: (key) => clientWith(key.headers).getResult(unknownId),
    StreamProgress: async (key) => {
      for await (const event of clientWith(key.headers).streamProgress(unknownId)) void event;
    },
    ListTasks: (key) => clientWith(key.headers).listTasks({ pageSize: 1 }),
    ListTypes: (key) => clientWith(key.headers).listTypes(),
    Cancel: (key) => clientWith(key.headers).cancel(unknownId),
    Connect: async (key) => (await openWorkerStream(key.headers)).close(),
  };
  const allowed: Record<string, readonly string[]> = {
    client: ["Submit", "SubmitBatch", "GetStatus", "GetResult", "StreamProgress", "ListTasks", "ListTypes", "Cancel"],
    worker: ["Connect"],
    admin: Object.keys(families),
  };
  const cases = [alice, workerKey, admin].flatMap((key) =>
    Object.keys(families).map((family) => [key.role, family, allowed[key.role]?.includes(family) ? "allowed" : "denied", key] as const),
  );

  it.each(cases)("%s → %s: %s", async (_role, family, outcome, key) => {
    const call = families[family];
    if (!call) throw new Error(family);
    const error = await call(key).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    if (outcome === "allowed") {
      expect([undefined, Code.NotFound]).toContain(error?.code);
    } else {
      expect(error?.code).toBe(Code.PermissionDenied);
      expect(error?.rawMessage).toMatch(new RegExp(`^API key "${key.id}" has role ${key.role}, which may not call taskwire\\.v1\\.\\w+/${family} \\(roles allowed: `));
      expect(error?.findDetails(ErrorInfoSchema)[0]?.reason).toBe("ROLE_NOT_ALLOWED");
    }
  });
});

describe("client keys see only their own tasks", () => {
  let aliceTask: string;
  let bobTask: string;

  beforeAll(async () => {
    aliceTask = (await clientWith(alice.headers).submitByName(IDLE_TYPE, { owner: "alice" })).id;
    bobTask = (await clientWith(bob.headers).submitByName(IDLE_TYPE, { owner: "bob" })).id;
  });

  it("another client's task is NOT_FOUND, exactly like a task that does not exist", async () => {
    const asBob = clientWith(bob.headers);
    const missing = await refusal(asBob.getStatus("01900000-0000-7000-8000-000000000000"));
    for (const call of [
      () => asBob.getStatus(aliceTask),
      () => asBob.getResult(aliceTask),
      () => asBob.getResult(aliceTask, "10s"),
      async () => {
        for await (const event of asBob.streamProgress(aliceTask)) void event;
      },
      () => asBob.cancel(aliceTask, "not mine"),
      () => asBob.getTaskLogs(aliceTask),
      async () => {
        for await (const message of asBob.streamTaskLogs(aliceTask)) void message;
      },
    ]) {
      const error = await refusal(call);
      expect(error.code).toBe(Code.NotFound);
      expect(error.rawMessage).toBe(`task ${aliceTask} does not exist`);
      expect(missing.code).toBe(error.code);
    }
    expect((await clientWith(alice.headers).getStatus(aliceTask)).state).toBe(TaskState.QUEUED);
    // Its own task's log, and any task's for an admin; a worker key may read none.
    expect((await clientWith(alice.headers).getTaskLogs(aliceTask)).lines).toEqual([]);
    expect((await clientWith(admin.headers).getTaskLogs(bobTask)).storedCount).toBe(0n);
    expect((await refusal(clientWith(workerKey.headers).getTaskLogs(aliceTask))).code).toBe(Code.PermissionDenied);
  });

  it("ListTasks of a client lists its own tasks only; an admin's lists all", async () => {
    const ids = async (key: TestKey) => (await clientWith(key.headers).listTasks({ pageSize: 1000 })).tasks.map((task) => task.id);
    const [ofAlice, ofBob, ofAdmin] = await Promise.all([ids(alice), ids(bob), ids(admin)]);
    expect(ofAlice).toContain(aliceTask);
    expect(ofAlice).not.toContain(bobTask);
    expect(ofBob).toContain(bobTask);
    expect(ofBob).not.toContain(aliceTask);
    expect(ofAdmin).toEqual(expect.arrayContaining([aliceTask, bobTask]));
    const page = await clientWith(bob.headers).listTasks({ pageSize: 1000 });
    expect(Number(page.totalCount)).toBe(page.tasks.length);
  });

  it("a client cancels its own task; an admin cancels anyone's", async () => {
    expect((await clientWith(alice.headers).cancel(aliceTask, "mine")).state).toBe(TaskState.CANCELLED);
    expect((await clientWith(admin.headers).cancel(bobTask, "ops")).state).toBe(TaskState.CANCELLED);
  });

  it("idempotency keys are per API key: the same key from two clients makes two tasks", async () => {
    const key = `order-${Math.random()}`;
    const first = await clientWith(alice.headers).submitByName(IDLE_TYPE, { n: 1 }, { idempotencyKey: key });
    const other = await clientWith(bob.headers).submitByName(IDLE_TYPE, { n: 2 }, { idempotencyKey: key });
    const again = await clientWith(alice.headers).submitByName(IDLE_TYPE, { n: 3 }, { idempotencyKey: key });
    expect(other.id).not.toBe(first.id);
    expect(other.existing).toBe(false);
    expect(again.id).toBe(first.id);
    expect(again.existing).toBe(true);
    expect((await clientWith(alice.headers).getStatus(first.id)).idempotencyKey).toBe(key);
  });
});

describe("workers and the CLI with keys", () => {
  it("a worker process with a worker key runs a client's task", async () => {
    const client = clientWith(alice.headers);
    const handle = await client.submitByName("test.echo", { hello: "keys" });
    expect(await handle.result()).toMatchObject({ hello: "keys" });
    expect(worker.logs).not.toMatch(/UNAUTHENTICATED|PERMISSION_DENIED/);
  });

  it("a worker process without a key, or with a client key, stops with the refusal", async () => {
    for (const args of [[], ["-H", `authorization: Bearer ${alice.token}`]]) {
      const refused = spawnWorker(server.url, args);
      const code = await refused.exited;
      expect(code).not.toBe(0);
      expect(refused.logs).toMatch(args.length === 0 ? /missing API key/ : /has role client, which may not call taskwire\.v1\.WorkerService\/Connect/);
    }
  });

  it("the CLI sends -H authorization, and says what is wrong without it", async () => {
    const listed = await runCli(["--url", server.url, "-H", `authorization: Bearer ${alice.token}`, "tasks", "list", "--json"]);
    expect(listed.code).toBe(0);
    const refused = await runCli(["--url", server.url, "tasks", "list"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("error: UNAUTHENTICATED: missing API key");
  });
});

describe("without keys", () => {
  /** Starts `taskwire server` with `args`; resolves once it listens (or exits). */
  function startCliServer(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; stop(): Promise<void> }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ["bin/taskwire.js", "server", "--port", "0", "--data-dir", join(dir, `data-${Math.random()}`), ...args], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, TASKWIRE_API_KEYS: "", TASKWIRE_API_KEYS_FILE: "", TASKWIRE_AUTH: "", TASKWIRE_LOG_LEVEL: "info" },
      });
      let stdout = "";
      let stderr = "";
      const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
      const result = (code: number | null) => ({
        code,
        get stdout() {
          return stdout;
        },
        get stderr() {
          return stderr;
        },
        async stop() {
          child.kill("SIGTERM");
          await exited;
        },
      });
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
        if (stdout.includes("listening on")) resolve(result(null));
      });
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      void exited.then((code) => resolve(result(code)));
    });
  }

  it("refuses to listen on 0.0.0.0 without keys, naming the settings", async () => {
    const run = await startCliServer(["--host", "0.0.0.0"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      "error: the server listens on 0.0.0.0 (TASKWIRE_HOST (--host)), which is not loopback, and no API keys are configured: " +
        "set TASKWIRE_API_KEYS_FILE (--api-keys-file) or TASKWIRE_API_KEYS (--api-keys)",
    );
    expect(run.stderr).toContain("TASKWIRE_AUTH (--auth) off");
  });

  it("serves on 0.0.0.0 with --auth off, warning loudly", async () => {
    const run = await startCliServer(["--host", "0.0.0.0", "--auth", "off"]);
    try {
      expect(run.code).toBeNull();
      await eventually(async () => run.stderr.includes("authentication is OFF"), 10_000, "the warning");
      expect(run.stderr).toMatch(/authentication is OFF: anyone on the network who can reach 0\.0\.0\.0:\d+ can submit, read and cancel every task/);
    } finally {
      await run.stop();
    }
  });

  it("serves on loopback without keys, warning loudly", async () => {
    const run = await startCliServer(["--host", "127.0.0.1"]);
    try {
      expect(run.code).toBeNull();
      await eventually(async () => run.stderr.includes("authentication is OFF"), 10_000, "the warning");
      expect(run.stderr).toMatch(/"level":40.*authentication is OFF: anyone who can reach 127\.0\.0\.1:\d+ can submit, read and cancel every task and connect as a worker/);
    } finally {
      await run.stop();
    }
  });

  it("refuses a keys file that cannot be read, before opening any storage", async () => {
    const run = await startCliServer(["--api-keys-file", join(dir, "missing.txt")]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/error: TASKWIRE_API_KEYS_FILE \(--api-keys-file\): cannot read .*missing\.txt/);
    expect(run.stderr).not.toContain("embedded default");
  });
});
