import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CountGroup, type CountTasksRequest, type PurgeQueueRequest, type RetryTasksRequest } from "../../gen/taskwire/v1/admin_service_pb.js";
import { buildTaskSelector, createClient, TaskState, WorkerState } from "../../src/client/index.js";
import { fakeAdminTransport } from "../support/fake-admin.js";

function setUp(headers?: Record<string, string>) {
  const fake = fakeAdminTransport();
  const client = createClient({ url: "http://unused", transport: fake.transport, headers });
  const last = <T>(method: string): T => {
    const call = fake.calls.filter((c) => c.method === method).at(-1);
    if (!call) throw new Error(`no ${method} call`);
    return call.request as T;
  };
  return { client, calls: fake.calls, last };
}

const iso = (time: Timestamp | undefined) => (time ? timestampDate(time).toISOString() : undefined);

describe("client.admin", () => {
  it("lists and gets workers, and drains one, with the client's headers", async () => {
    const { client, calls } = setUp({ authorization: "Bearer admin-token" });
    expect((await client.admin.listWorkers()).map((w) => w.id)).toEqual(["w-1"]);
    const all = await client.admin.listWorkers({ includeDisconnected: true, queue: "default" });
    expect(all.map((w) => [w.id, w.state])).toEqual([
      ["w-1", WorkerState.CONNECTED],
      ["w-0", WorkerState.DISCONNECTED],
    ]);
    expect(calls[1]?.request).toMatchObject({ includeDisconnected: true, queue: "default" });
    expect((await client.admin.getWorker("w-1")).slotsInUse).toBe(3);
    const drained = await client.admin.drainWorker("w-1", "deploy");
    expect(drained.state).toBe(WorkerState.DRAINING);
    expect(calls.at(-1)?.request).toMatchObject({ id: "w-1", reason: "deploy" });
    expect(calls.every((c) => c.authorization === "Bearer admin-token")).toBe(true);
  });

  it("passes the server's refusals on as ConnectErrors", async () => {
    const { client } = setUp();
    const error = await client.admin.getWorker("nope").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
  });

  it("lists servers and queues, gets, pauses and resumes a queue", async () => {
    const { client, calls } = setUp();
    expect((await client.admin.listServers()).map((s) => s.id)).toEqual(["srv-1"]);
    expect((await client.admin.listQueues()).map((q) => [q.name, q.paused])).toEqual([
      ["default", false],
      ["emails", true],
    ]);
    expect((await client.admin.getQueue("emails")).queued).toBe(12n);
    expect((await client.admin.pauseQueue("emails")).paused).toBe(true);
    expect((await client.admin.resumeQueue("emails")).paused).toBe(false);
    expect(calls.map((c) => c.method)).toEqual(["listServers", "listQueues", "getQueue", "pauseQueue", "resumeQueue"]);
  });

  it("purges a queue with a type, a Date and a reason", async () => {
    const { client, last } = setUp();
    const before = new Date("2030-01-01T00:00:00Z");
    expect((await client.admin.purgeQueue("emails", { type: "send", createdBefore: before, reason: "spam" })).cancelled).toBe(13n);
    const request = last<PurgeQueueRequest>("purgeQueue");
    expect(request).toMatchObject({ name: "emails", type: "send", reason: "spam" });
    expect(iso(request.createdBefore)).toBe("2030-01-01T00:00:00.000Z");
    await client.admin.purgeQueue("emails");
    expect(last<PurgeQueueRequest>("purgeQueue")).toMatchObject({ name: "emails", type: "", reason: "" });
    expect(last<PurgeQueueRequest>("purgeQueue").createdBefore).toBeUndefined();
  });

  it("counts with a selector of state names and Dates, grouped by type", async () => {
    const { client, last } = setUp();
    const response = await client.admin.countTasks({
      selector: { states: ["FAILED", TaskState.CANCELLED, "FAILED"], queue: "default", finishedAfter: new Date("2030-01-01T00:00:00Z") },
      groupBy: ["type", "type"],
    });
    expect(response.total).toBe(15n);
    const request = last<CountTasksRequest>("countTasks");
    expect(request.groupBy).toEqual([CountGroup.TYPE]);
    expect(request.selector?.states).toEqual([TaskState.FAILED, TaskState.CANCELLED]);
    expect(request.selector?.queue).toBe("default");
    expect(iso(request.selector?.finishedAfter)).toBe("2030-01-01T00:00:00.000Z");
    await client.admin.countTasks();
    expect(last<CountTasksRequest>("countTasks").selector).toBeUndefined();
    expect(last<CountTasksRequest>("countTasks").groupBy).toEqual([]);
  });

  it("retries, cancels and deletes by ids or by selector", async () => {
    const { client, last, calls } = setUp();
    expect((await client.admin.retryTasks({ ids: ["a", "b"] })).retried).toBe(2n);
    expect(last<RetryTasksRequest>("retryTasks").ids).toEqual(["a", "b"]);
    expect(last<RetryTasksRequest>("retryTasks").selector).toBeUndefined();
    expect((await client.admin.retryTasks({ selector: { states: ["FAILED"], type: "t" } })).retried).toBe(10_000n);
    expect(last<RetryTasksRequest>("retryTasks").selector).toMatchObject({ states: [TaskState.FAILED], type: "t", queue: "" });
    const cancelled = await client.admin.cancelTasks({ selector: { queue: "q" }, reason: "stop" });
    expect([cancelled.cancelled, cancelled.cancelling]).toEqual([4n, 2n]);
    expect(calls.at(-1)?.request).toMatchObject({ reason: "stop", ids: [] });
    expect((await client.admin.deleteTasks({ selector: { finishedBefore: new Date(0) } })).deleted).toBe(1n);
  });

  it("answers an empty id list with zero without calling the server", async () => {
    const { client, calls } = setUp();
    expect((await client.admin.retryTasks({ ids: [] })).retried).toBe(0n);
    expect((await client.admin.cancelTasks({ ids: [] })).cancelled).toBe(0n);
    expect((await client.admin.deleteTasks({ ids: [] })).deleted).toBe(0n);
    expect(calls).toEqual([]);
  });

  it("refuses malformed input before calling the server", async () => {
    const { client, calls } = setUp();
    // Callers in plain JavaScript can get past the types.
    const both = { ids: ["a"], selector: {} } as unknown as { ids: string[] };
    await expect(client.admin.retryTasks(both)).rejects.toThrow("give ids or a selector, not both");
    await expect(client.admin.retryTasks({} as unknown as { ids: string[] })).rejects.toThrow("give ids or a selector");
    await expect(client.admin.countTasks({ selector: { states: ["DONE" as "FAILED"] } })).rejects.toThrow(RangeError);
    await expect(client.admin.countTasks({ selector: { states: [0 as TaskState] } })).rejects.toThrow('states: 0 is not a task state');
    await expect(client.admin.countTasks({ groupBy: ["color" as "type"] })).rejects.toThrow('groupBy: expected "type" or "queue"');
    await expect(client.admin.purgeQueue("q", { createdBefore: new Date("nope") })).rejects.toThrow("createdBefore: invalid date");
    expect(calls).toEqual([]);
  });
});

describe("buildTaskSelector", () => {
  it("takes state names in any case, and leaves out what is not given", () => {
    const selector = buildTaskSelector({ states: ["failed" as "FAILED", "CANCELLED"] });
    expect(selector.states).toEqual([TaskState.FAILED, TaskState.CANCELLED]);
    expect(selector).toMatchObject({ type: "", queue: "" });
    expect([selector.finishedAfter, selector.finishedBefore, selector.createdBefore]).toEqual([undefined, undefined, undefined]);
  });
});
