/**
 * What belongs to an API key, against a real server with keys (issue 15, security items 1, 2 and
 * 4): a task type belongs to the key (or key group) that first declared it, and another key's
 * worker is refused it; its owner cannot change its contract incompatibly unless an operator
 * resets the type, and an operator may transfer it (AdminService and the CLI); a worker id
 * connected under one key can be neither taken, locked out nor overwritten by another; and the
 * schemas of worker-declared types are shown through reflection only to callers with a key
 * that may list them. Without keys, declarations work as before and contract changes are logged.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorSetSchema,
  StringValueSchema,
  StructSchema,
  type FileDescriptorSet,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { ServerReflection, type ServerReflectionResponse } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ConnectRequestSchema, WorkerService, type ConnectRequest, type TaskTypeDeclarationSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import { createClient, type TaskwireClient } from "../../src/client/index.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { AsyncQueue } from "../../src/core/async-queue.js";
import { testKey, writeKeysFile, type TestKey } from "../support/keys.js";
import { runCli, startTestServer, type TestServer } from "../support/server.js";

const teamA = testKey("team-a", "worker");
const teamB = testKey("team-b", "worker");
/** Two keys of one key group, `gpu`. */
const gpu1 = { ...testKey("gpu-1", "worker"), group: "gpu" };
const gpu2 = { ...testKey("gpu-2", "worker"), group: "gpu" };
const alice = testKey("alice", "client");
const ops = testKey("ops", "admin");

type Declared = MessageInitShape<typeof TaskTypeDeclarationSchema>;

/** A declaration of `name`, Struct in and out unless said otherwise. */
function declared(name: string, options: { input?: string; output?: string; queue?: string; maxAttempts?: number } = {}): Declared {
  return {
    name,
    inputType: options.input ?? StructSchema.typeName,
    outputType: options.output ?? StructSchema.typeName,
    defaults: { queue: options.queue ?? "own-idle", maxAttempts: options.maxAttempts ?? 3 },
  };
}

/** `own.v1.Order` with field 1 `count` of `countType`, and more fields when given: one file, as protoc would describe it. */
function orderSet(countType: FieldDescriptorProto_Type, extra: { name: string; number: number; type: FieldDescriptorProto_Type }[] = []): FileDescriptorSet {
  const field = (name: string, number: number, type: FieldDescriptorProto_Type) => ({ name, number, type, label: FieldDescriptorProto_Label.OPTIONAL, jsonName: name });
  return create(FileDescriptorSetSchema, {
    file: [
      ...descriptorSetOf([StructSchema]).file,
      {
        name: "own/v1/order.proto",
        package: "own.v1",
        syntax: "proto3",
        messageType: [{ name: "Order", field: [field("count", 1, countType), ...extra.map((e) => field(e.name, e.number, e.type))] }],
      },
    ],
  });
}

let dir: string;
let server: TestServer;
const open: { close(): void }[] = [];

/** The ConnectError of a call that must fail. */
async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
  expect(error, "the call should have failed").toBeInstanceOf(ConnectError);
  return error as ConnectError;
}

/**
 * Opens a worker stream as `key` with `workerId`, declaring `types`, and resolves once the
 * server welcomed it (the stream stays open until `close()`); rejects with the server's refusal.
 */
async function connectWorker(
  key: TestKey | undefined,
  workerId: string,
  types: Declared[],
  descriptors: FileDescriptorSet = descriptorSetOf([StructSchema, StringValueSchema]),
  url = server.url,
): Promise<{ close(): void }> {
  const requests = new AsyncQueue<ConnectRequest>();
  requests.push(
    create(ConnectRequestSchema, {
      message: { case: "hello", value: { workerId, host: "test", queues: [`${workerId}-queue`], slots: 1, types, descriptors } },
    }),
  );
  const responses = createRpcClient(WorkerService, createGrpcTransport({ baseUrl: url })).connect(requests, { headers: key?.headers });
  const iterator = responses[Symbol.asyncIterator]();
  try {
    const first = await iterator.next();
    if (first.value?.message.case !== "welcome") throw new Error(`expected Welcome, got ${JSON.stringify(first.value?.message.case)}`);
  } catch (error) {
    requests.end();
    throw error;
  }
  const ended = (async () => {
    try {
      for (;;) if ((await iterator.next()).done) return;
    } catch {
      // ended with the test
    }
  })();
  const stream = {
    close: () => {
      requests.end();
      return ended;
    },
  };
  open.push(stream);
  return stream;
}

/** A client of the server as `key`. */
function clientOf(key: TestKey): TaskwireClient {
  return createClient({ url: server.url, headers: key.headers });
}

/** The type as ListTypes shows it to an admin. */
async function listed(name: string) {
  return (await clientOf(ops).listTypes()).find((type) => type.name === name);
}

function reasonOf(error: ConnectError): string | undefined {
  return error.findDetails(ErrorInfoSchema)[0]?.reason;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "taskwire-ownership-"));
  const apiKeysFile = await writeKeysFile(join(dir, "keys.txt"), [teamA, teamB, alice, ops]);
  // The group's keys from the environment setting: `<id>:<role>:<hex>:<group>`.
  server = await startTestServer({ apiKeysFile, apiKeys: [`${gpu1.env}:gpu`, `${gpu2.env}:gpu`].join(",") });
}, 60_000);

afterAll(async () => {
  await Promise.all(open.map((stream) => stream.close()));
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("task types belong to the key that first declared them", () => {
  it("refuses another key's declaration of a type, with PERMISSION_DENIED, and keeps the owner's contract and defaults", async () => {
    await connectWorker(teamA, "a-report", [declared("own.report", { queue: "reports", maxAttempts: 2 })]);
    expect(await listed("own.report")).toMatchObject({ owner: "key:team-a", defaults: { queue: "reports", maxAttempts: 2 } });

    // Another team's worker key: new defaults, or another input type (it would receive the inputs).
    for (const squat of [declared("own.report", { queue: "stolen", maxAttempts: 9 }), declared("own.report", { input: StringValueSchema.typeName })]) {
      const error = await refusal(connectWorker(teamB, `b-squat-${Math.random()}`, [squat]));
      expect(error.code).toBe(Code.PermissionDenied);
      expect(reasonOf(error)).toBe("TASK_TYPE_OWNED");
      expect(error.rawMessage).toBe(
        'task type "own.report" belongs to another API key (or key group) than "team-b"; an operator may transfer a type (taskwire types transfer)',
      );
    }
    // The whole Hello is refused: a type of its own beside the squatted one is not declared either.
    await refusal(connectWorker(teamB, "b-mixed", [declared("own.b-only"), declared("own.report")]));
    expect(await listed("own.b-only")).toBeUndefined();
    expect(await listed("own.report")).toMatchObject({ owner: "key:team-a", inputType: StructSchema.typeName, defaults: { queue: "reports", maxAttempts: 2 } });
    // Owners are for operators: a client key lists the type without its owner.
    expect((await clientOf(alice).listTypes()).find((type) => type.name === "own.report")?.owner).toBe("");
  });

  it("lets the owner change defaults and add fields, and refuses an incompatible contract until an operator resets the type", async () => {
    const order = (set: FileDescriptorSet) => connectWorker(teamA, `a-order-${Math.random()}`, [declared("own.order", { input: "own.v1.Order" })], set);
    await order(orderSet(FieldDescriptorProto_Type.INT32));
    await order(orderSet(FieldDescriptorProto_Type.INT32, [{ name: "note", number: 2, type: FieldDescriptorProto_Type.STRING }]));

    const retyped = await refusal(order(orderSet(FieldDescriptorProto_Type.STRING)));
    expect(retyped.code).toBe(Code.FailedPrecondition);
    expect(reasonOf(retyped)).toBe("TASK_TYPE_CONTRACT_CHANGED");
    expect(retyped.rawMessage).toMatch(/^task type "own\.order" cannot change its contract: input field own\.v1\.Order\.count \(1\) was int32, now string; .*taskwire types reset own\.order/);
    const otherInput = await refusal(connectWorker(teamA, "a-order-2", [declared("own.order", { input: StructSchema.typeName })]));
    expect(otherInput.rawMessage).toContain("its input type was own.v1.Order, the declaration says google.protobuf.Struct");

    // An operator resets it: the next declaration may change the contract, and owns the type.
    const reset = await clientOf(ops).admin.resetTaskType("own.order");
    expect(reset.owner).toBe("");
    await order(orderSet(FieldDescriptorProto_Type.STRING));
    expect(await listed("own.order")).toMatchObject({ owner: "key:team-a" });
    // Used up: the contract is protected again.
    expect((await refusal(order(orderSet(FieldDescriptorProto_Type.INT32)))).code).toBe(Code.FailedPrecondition);
  });

  it("lets an operator transfer a type to a key group, whose keys all declare it; other keys are refused", async () => {
    await connectWorker(teamA, "a-transfer", [declared("own.transfer")]);
    const moved = await clientOf(ops).admin.transferTaskType("own.transfer", { group: "gpu" });
    expect(moved).toMatchObject({ name: "own.transfer", owner: "group:gpu" });
    expect((await refusal(connectWorker(teamA, "a-transfer-2", [declared("own.transfer")]))).code).toBe(Code.PermissionDenied);
    await connectWorker(gpu1, "gpu-transfer-1", [declared("own.transfer")]);
    await connectWorker(gpu2, "gpu-transfer-2", [declared("own.transfer")]);

    const admin = clientOf(ops).admin;
    expect((await refusal(admin.transferTaskType("own.transfer", { key: "nobody" }))).code).toBe(Code.InvalidArgument);
    // A key of a group owns nothing of its own: its group does.
    expect((await refusal(admin.transferTaskType("own.transfer", { key: "gpu-1" }))).code).toBe(Code.InvalidArgument);
    expect((await refusal(admin.transferTaskType("own.never-declared", { key: "team-a" }))).code).toBe(Code.NotFound);
    expect((await refusal(clientOf(alice).admin.transferTaskType("own.transfer", { key: "team-a" }))).code).toBe(Code.PermissionDenied);
  });

  it("has the CLI transfer and reset types", async () => {
    await connectWorker(teamA, "a-cli", [declared("own.cli")]);
    const auth = ["--url", server.url, "-H", `authorization: Bearer ${ops.token}`];
    const transferred = await runCli([...auth, "types", "transfer", "own.cli", "--key", "team-b"]);
    expect(transferred, transferred.stderr).toMatchObject({ code: 0 });
    expect(transferred.stdout).toBe("task type own.cli now belongs to key:team-b: workers of other keys that declare it are refused\n");
    const shown = await runCli([...auth, "types"]);
    expect(shown.stdout).toMatch(/^NAME +INPUT +OUTPUT +QUEUE +PRIORITY +TIMEOUT +ATTEMPTS +WORKERS +OWNER +DESCRIPTION$/m);
    expect(shown.stdout).toMatch(/^own\.cli +google\.protobuf\.Struct .* key:team-b/m);
    const reset = await runCli([...auth, "types", "reset", "own.cli", "--json"]);
    expect(JSON.parse(reset.stdout)).toMatchObject({ name: "own.cli" });
    expect((JSON.parse(reset.stdout) as { owner?: string }).owner).toBeUndefined();
    const both = await runCli([...auth, "types", "transfer", "own.cli", "--key", "a", "--group", "b"]);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain("give exactly one of --key <id> and --group <name>");
  });
});

describe("worker ids are bound to their key", () => {
  it("refuses another key the id of a connected worker with PERMISSION_DENIED, not ALREADY_EXISTS, and never locks its worker out", async () => {
    const first = await connectWorker(teamA, "bound-a", [declared("own.report")]);
    const taken = await refusal(connectWorker(teamB, "bound-a", [declared("own.b-worker")]));
    expect(taken.code).toBe(Code.PermissionDenied);
    expect(reasonOf(taken)).toBe("WORKER_ID_TAKEN");
    expect(taken.rawMessage).toBe('worker id "bound-a" is bound to another API key (or key group) than "team-b"; connect with another --worker-id');

    // Gone for a moment (a reconnection): the other key still cannot take the id, nor overwrite its record.
    await first.close();
    await expect.poll(async () => (await clientOf(ops).admin.getWorker("bound-a")).state).not.toBe(1);
    expect((await refusal(connectWorker(teamB, "bound-a", [declared("own.b-worker")]))).code).toBe(Code.PermissionDenied);
    expect((await clientOf(ops).admin.getWorker("bound-a")).types).toEqual(["own.report"]);
    // Its own worker comes back.
    await connectWorker(teamA, "bound-a", [declared("own.report")]);
  });

  it("shares ids within a key group", async () => {
    const one = await connectWorker(gpu1, "bound-gpu", [declared("own.gpu")]);
    await one.close();
    await expect.poll(async () => (await clientOf(ops).admin.getWorker("bound-gpu")).state).not.toBe(1);
    await connectWorker(gpu2, "bound-gpu", [declared("own.gpu")]);
  });
});

describe("reflection of worker-declared types needs a key that may list them", () => {
  /** Asks reflection, as `key`, for the file of `symbol`; resolves with the response. */
  async function fileOf(symbol: string, key?: TestKey): Promise<ServerReflectionResponse> {
    async function* requests() {
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: symbol } };
    }
    const transport = createGrpcTransport({ baseUrl: server.url });
    for await (const response of createRpcClient(ServerReflection, transport).serverReflectionInfo(requests(), { headers: key?.headers })) return response;
    throw new Error("no reflection response");
  }

  beforeAll(async () => {
    await connectWorker(teamA, "a-reflected", [declared("own.reflected", { input: "own.v1.Order" })], orderSet(FieldDescriptorProto_Type.STRING));
  });

  it("describes them to a client key, and only the built-in services without one", async () => {
    expect((await fileOf("own.v1.Order", alice)).messageResponse.case).toBe("fileDescriptorResponse");
    expect((await fileOf("own.v1.Order", ops)).messageResponse.case).toBe("fileDescriptorResponse");
    for (const key of [undefined, teamB]) {
      const hidden = await fileOf("own.v1.Order", key);
      expect(hidden.messageResponse).toMatchObject({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: 'symbol "own.v1.Order" not found' } });
    }
    // Tooling without a key still sees the API.
    expect((await fileOf("taskwire.v1.SubmitRequest")).messageResponse.case).toBe("fileDescriptorResponse");
  });

  it("refuses a wrong key, and ListTypes without one", async () => {
    const wrong = await refusal(fileOf("own.v1.Order", { ...alice, headers: { authorization: "Bearer tw_wrong" } }));
    expect(wrong.code).toBe(Code.Unauthenticated);
    expect((await refusal(createClient({ url: server.url }).listTypes())).code).toBe(Code.Unauthenticated);
  });
});

describe("without keys", () => {
  it("accepts any declaration, as before, and logs a contract change", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const open = await startTestServer({}, logger);
    try {
      const url = open.url;
      await connectWorker(undefined, "anyone-1", [declared("open.type")], undefined, url);
      await connectWorker(undefined, "anyone-2", [declared("open.type", { input: StringValueSchema.typeName, queue: "other" })], undefined, url);
      const [type] = (await createClient({ url }).listTypes()).filter((t) => t.name === "open.type");
      expect(type).toMatchObject({ inputType: StringValueSchema.typeName, owner: "", defaults: { queue: "other" } });
      const warned = lines.map((line) => JSON.parse(line) as { msg: string; type?: string; change?: string }).find((entry) => entry.msg.startsWith("task type contract changed"));
      expect(warned).toMatchObject({ type: "open.type", change: "its input type was google.protobuf.Struct, the declaration says google.protobuf.StringValue" });
    } finally {
      await open.stop();
    }
  });
});
