/**
 * The worker protocol as a contract a worker in any language can follow (issue 15): descriptor
 * sets as other runtimes make them (no json_name, dependents first, well-known types left out)
 * are read as protoc would have written them, and Release hands unstarted attempts back without
 * counting them. docs/worker-protocol.md describes both.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, createFileRegistry, fromBinary, fromJson, toJson } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FileDescriptorSetSchema,
  StructSchema,
  anyPack,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { createClient, TaskState, type TaskwireClient } from "../../src/client/index.js";
import { BACKENDS, eventually, startTestServer, type TestServer } from "../support/server.js";
import { hello, rawWorker } from "../support/raw-worker.js";

/**
 * Two files as Python's runtime gives them (`FileDescriptor.CopyToProto`): no json_name, and
 * listed dependents first; the Timestamp they use is not in the set.
 */
const PYTHON_LIKE_SET = create(FileDescriptorSetSchema, {
  file: [
    {
      name: "contract/v1/report.proto",
      package: "contract.v1",
      syntax: "proto3",
      dependency: ["contract/v1/common.proto", "google/protobuf/timestamp.proto"],
      messageType: [
        {
          name: "Report",
          field: [
            { name: "report_name", number: 1, label: Label.OPTIONAL, type: Type.STRING },
            { name: "vertex_count", number: 2, label: Label.OPTIONAL, type: Type.INT32 },
            { name: "corner_points", number: 3, label: Label.REPEATED, type: Type.MESSAGE, typeName: ".contract.v1.Point" },
            { name: "made_at", number: 4, label: Label.OPTIONAL, type: Type.MESSAGE, typeName: ".google.protobuf.Timestamp" },
          ],
        },
      ],
    },
    {
      name: "contract/v1/common.proto",
      package: "contract.v1",
      syntax: "proto3",
      messageType: [
        {
          name: "Point",
          field: [
            { name: "x_coord", number: 1, label: Label.OPTIONAL, type: Type.DOUBLE },
            { name: "y_coord", number: 2, label: Label.OPTIONAL, type: Type.DOUBLE },
          ],
        },
      ],
    },
  ],
});

/** The same messages as protoc would describe them: what the test decodes with. */
const protocRegistry = createFileRegistry(
  create(FileDescriptorSetSchema, {
    file: [
      file_google_protobuf_timestamp.proto,
      PYTHON_LIKE_SET.file[1]!,
      PYTHON_LIKE_SET.file[0]!,
    ].map((file) => ({
      ...file,
      messageType: file.messageType.map((m) => ({
        ...m,
        field: m.field.map((f) => ({ ...f, jsonName: f.jsonName || f.name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) })),
      })),
    })),
  }),
);
const Report = protocRegistry.getMessage("contract.v1.Report")!;

describe.each(BACKENDS)("on %s", (backend) => {
  let server: TestServer;
  let client: TaskwireClient;

  beforeAll(async () => {
    server = await startTestServer({}, undefined, backend);
    client = createClient({ url: server.url });
  });

  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  describe("descriptor sets from any runtime", () => {
    it("accepts files in any order (dependents first), the well-known types they import left out", async () => {
      const w = rawWorker(server.url);
      w.send(hello("contract-order", "contract-order", [{ name: "contract.order", inputType: "contract.v1.Report", outputType: "contract.v1.Point" }], PYTHON_LIKE_SET));
      await w.nextOf("welcome");
      expect((await client.listTypes()).find((t) => t.name === "contract.order")).toMatchObject({ inputType: "contract.v1.Report", outputType: "contract.v1.Point" });
      w.end();
    });

    it("names the fields of a set without json_name as protoc does: JSON clients submit and read camelCase", async () => {
      // In dependency order and complete, as older servers wanted: only the JSON names are missing.
      const ordered = create(FileDescriptorSetSchema, { file: [file_google_protobuf_timestamp.proto, PYTHON_LIKE_SET.file[1]!, PYTHON_LIKE_SET.file[0]!] });
      const w = rawWorker(server.url);
      w.send(hello("contract-report", "contract-report", [{ name: "contract.report", inputType: "contract.v1.Report", outputType: "contract.v1.Report" }], ordered));
      await w.nextOf("welcome");
      w.send({ case: "grant", value: { slots: 1 } });

      const input = { reportName: "north", vertexCount: 3, cornerPoints: [{ xCoord: 1.5, yCoord: -2 }], madeAt: "2030-01-01T00:00:00Z" };
      const submitted = await fetch(`${server.url}/taskwire.v1.TaskService/Submit`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ type: "contract.report", queue: "contract-report", input: { "@type": "type.googleapis.com/contract.v1.Report", ...input } }),
      });
      expect(submitted.status, await submitted.clone().text()).toBe(200);
      const { task } = (await submitted.json()) as { task: { id: string } };

      const [assigned] = (await w.nextOf("assign")).tasks;
      expect(assigned?.taskId).toBe(task.id);
      const received = fromBinary(Report, assigned!.input!.value);
      expect(toJson(Report, received)).toEqual(input);
      const output = anyPack(Report, fromJson(Report, { ...input, reportName: "north, measured" }));
      w.send({ case: "complete", value: { results: [{ taskId: task.id, attempt: assigned!.attempt, outcome: { case: "output", value: output } }] } });
      await w.nextOf("completeAck");

      const result = await fetch(`${server.url}/taskwire.v1.TaskService/GetResult`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: task.id }),
      });
      expect(result.status).toBe(200);
      expect(((await result.json()) as { task: { output: unknown } }).task.output).toEqual({
        "@type": "type.googleapis.com/contract.v1.Report",
        ...input,
        reportName: "north, measured",
      });
      w.end();
    });

    it("accepts a Struct-only type with an empty descriptor set", async () => {
      const w = rawWorker(server.url);
      w.send(hello("contract-struct", "contract-struct", [{ name: "contract.struct", inputType: StructSchema.typeName, outputType: StructSchema.typeName }], create(FileDescriptorSetSchema)));
      await w.nextOf("welcome");
      const handle = await client.submitByName("contract.struct", { free: ["form"] }, { queue: "contract-struct" });
      expect((await handle.status()).state).toBe(TaskState.QUEUED);
      await handle.cancel();
      w.end();
    });

    it("still refuses a set that imports a file it does not hold, naming both", async () => {
      const w = rawWorker(server.url);
      const set = create(FileDescriptorSetSchema, { file: [PYTHON_LIKE_SET.file[0]!] });
      w.send(hello("contract-missing", "contract-missing", [{ name: "contract.missing", inputType: "contract.v1.Report", outputType: "contract.v1.Report" }], set));
      await expect(w.next()).rejects.toThrow(
        'hello.descriptors: the FileDescriptorSet does not resolve (file "contract/v1/report.proto" imports "contract/v1/common.proto", which is neither in the set nor a well-known type (google/protobuf/*.proto))',
      );
    });
  });

  describe("Release", () => {
    it("hands unstarted attempts back: queued again, the attempt not counted, no error; a task being cancelled ends CANCELLED", async () => {
      const w = rawWorker(server.url);
      w.send(hello("contract-release", "contract-release", [{ name: "contract.release", inputType: StructSchema.typeName, outputType: StructSchema.typeName }], undefined, { slots: 2 }));
      await w.nextOf("welcome");
      const first = await client.submitByName("contract.release", { n: 1 }, { queue: "contract-release" });
      const second = await client.submitByName("contract.release", { n: 2 }, { queue: "contract-release" });
      w.send({ case: "grant", value: { slots: 2 } });
      const assigned = [];
      while (assigned.length < 2) assigned.push(...(await w.nextOf("assign")).tasks);
      const a = assigned.find((t) => t.taskId === first.id)!;
      expect(a.attempt).toBe(1);

      // Released: acknowledged, back in the queue at attempt 0, nothing recorded against it.
      w.send({ case: "release", value: { tasks: [{ taskId: first.id, attempt: a.attempt }], reason: "prefetched, draining" } });
      expect((await w.nextOf("completeAck")).tasks.map((t) => t.taskId)).toEqual([first.id]);
      const queued = await first.status();
      expect({ state: TaskState[queued.state], attempt: queued.attempt, errors: queued.errors, workerId: queued.workerId }).toEqual({
        state: "QUEUED",
        attempt: 0,
        errors: [],
        workerId: "",
      });
      expect(queued.transitions.map((t) => [TaskState[t.state], t.attempt])).toEqual([
        ["QUEUED", 0],
        ["RUNNING", 1],
        ["QUEUED", 0],
      ]);

      // Granted again, the same attempt number comes back.
      w.send({ case: "grant", value: { slots: 1 } });
      const [again] = (await w.nextOf("assign")).tasks;
      expect({ taskId: again?.taskId, attempt: again?.attempt }).toEqual({ taskId: first.id, attempt: 1 });

      // A task cancelled while held and then released unstarted ends CANCELLED. Held as PostgreSQL
      // sees it: its start is recorded within 200 ms of the Assign (issue 16); a cancel before that
      // cancels it as a queued task.
      const b = assigned.find((t) => t.taskId === second.id)!;
      await eventually(async () => (await second.status()).state === TaskState.RUNNING, 10_000, "the start to be recorded");
      await second.cancel();
      await w.nextOf("cancel");
      w.send({ case: "release", value: { tasks: [{ taskId: second.id, attempt: b.attempt }], reason: "draining" } });
      await w.nextOf("completeAck");
      const cancelled = await second.status();
      expect(cancelled.state).toBe(TaskState.CANCELLED);
      expect(cancelled.error?.message).toBe("cancelled before it started (the worker released it: draining)");

      // A release of an attempt the stream does not hold (stale, or never assigned) is acknowledged and changes nothing.
      w.send({ case: "release", value: { tasks: [{ taskId: second.id, attempt: b.attempt }] } });
      expect((await w.nextOf("completeAck")).tasks.map((t) => t.taskId)).toEqual([second.id]);
      expect((await second.status()).state).toBe(TaskState.CANCELLED);
      w.send({ case: "complete", value: { results: [{ taskId: first.id, attempt: 1, outcome: { case: "output", value: anyPack(StructSchema, fromJson(StructSchema, {})) } }] } });
      await w.nextOf("completeAck");
      expect((await first.status()).state).toBe(TaskState.SUCCEEDED);
      w.end();
    });
  });
});
