/**
 * Declares task types the way a worker does (a `WorkerService.Connect` stream opening with
 * `Hello`), without ever granting a slot: tasks of these types stay QUEUED, which tests of
 * refusals, deadlines and clients need.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { ConnectRequestSchema, WorkerService, type TaskTypeDeclarationSchema } from "../../gen/taskwire/v1/worker_service_pb.js";
import { AsyncQueue } from "../../src/core/async-queue.js";

/** An open worker stream that declared types; `close()` ends it. */
export interface Declaration {
  close(): void;
}

/** Opens a worker stream declaring `types` with `descriptors`, and waits for the server's Welcome. */
export async function declareTypes(
  url: string,
  types: MessageInitShape<typeof TaskTypeDeclarationSchema>[],
  descriptors: FileDescriptorSet,
  workerId = `declarer-${Math.random().toString(16).slice(2)}`,
): Promise<Declaration> {
  const requests = new AsyncQueue<ReturnType<typeof create<typeof ConnectRequestSchema>>>();
  requests.push(
    create(ConnectRequestSchema, {
      message: { case: "hello", value: { workerId, host: "test", queues: [`${workerId}-queue`], slots: 1, types, descriptors } },
    }),
  );
  const responses = createRpcClient(WorkerService, createGrpcTransport({ baseUrl: url })).connect(requests);
  const iterator = responses[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.value?.message.case !== "welcome") throw new Error(`expected Welcome, got ${JSON.stringify(first.value?.message.case)}`);
  // Keep reading so the stream's flow control never stalls the server's messages.
  void (async () => {
    try {
      for (;;) if ((await iterator.next()).done) return;
    } catch {
      // The stream ended with the test.
    }
  })();
  return { close: () => requests.end() };
}
