/**
 * A worker speaking `WorkerService.Connect` by hand, as a worker author in another language
 * would from `worker_service.proto`: the test sends messages and reads the server's, in order.
 * (worker-protocol.test.ts has its own, older copy of this.)
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { StructSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";
import { ConnectError, createClient as createRpcClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  ConnectRequestSchema,
  WorkerService,
  type ConnectResponse,
  type HelloSchema,
} from "../../gen/taskwire/v1/worker_service_pb.js";
import { descriptorSetOf } from "../../src/common/descriptors.js";
import { AsyncQueue } from "../../src/core/async-queue.js";

export type RawRequest = MessageInitShape<typeof ConnectRequestSchema>["message"];
type ResponseCase = NonNullable<ConnectResponse["message"]["case"]>;
export type ResponseOf<K extends ResponseCase> = Extract<ConnectResponse["message"], { case: K }>["value"];

/** A hand-driven worker stream. */
export interface RawWorker {
  send(message: RawRequest): void;
  /** The next message from the server (those `nextOf` passed over first); rejects with the stream's error when it ends with one. */
  next(): Promise<ConnectResponse["message"]>;
  /** The next message of `kind`, received already or to come; messages of other kinds stay for later calls. */
  nextOf<K extends ResponseCase>(kind: K): Promise<ResponseOf<K>>;
  /** The error the stream ends with (reads on until it ends; undefined when it ended cleanly). */
  ended(): Promise<ConnectError | undefined>;
  /**
   * Sends a heartbeat every `intervalMs` until {@link end}, as a live worker does: a test that
   * holds a task across slow steps is then never taken for a stalled worker on a loaded machine.
   */
  beat(intervalMs?: number): void;
  /** Ends the worker's side (and its heartbeats). */
  end(): void;
}

/** Opens a stream to `url` (nothing is sent until `send`). */
export function rawWorker(url: string, headers?: Record<string, string>): RawWorker {
  const requests = new AsyncQueue<ReturnType<typeof create<typeof ConnectRequestSchema>>>();
  const rpc = createRpcClient(WorkerService, createGrpcTransport({ baseUrl: url }));
  const responses = rpc.connect(requests, { headers })[Symbol.asyncIterator]();
  /** Messages received and not taken yet, in order. */
  const backlog: ConnectResponse["message"][] = [];
  const receive = async (): Promise<ConnectResponse["message"]> => {
    const r = await responses.next();
    if (r.done) throw new Error("stream ended");
    return r.value.message;
  };
  let beating: NodeJS.Timeout | undefined;
  return {
    send: (message) => requests.push(create(ConnectRequestSchema, { message })),
    beat(intervalMs = 200) {
      clearInterval(beating);
      beating = setInterval(() => requests.push(create(ConnectRequestSchema, { message: { case: "heartbeat", value: {} } })), intervalMs);
      beating.unref();
    },
    next: () => (backlog.length > 0 ? Promise.resolve(backlog.shift()!) : receive()),
    async nextOf<K extends ResponseCase>(kind: K): Promise<ResponseOf<K>> {
      const index = backlog.findIndex((m) => m.case === kind);
      if (index >= 0) return backlog.splice(index, 1)[0]!.value as ResponseOf<K>;
      for (;;) {
        const m = await receive();
        if (m.case === kind) return m.value as ResponseOf<K>;
        backlog.push(m);
      }
    },
    async ended() {
      try {
        for (;;) if ((await responses.next()).done) return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    },
    end: () => {
      clearInterval(beating);
      requests.end();
    },
  };
}

/** A Hello serving `types` (Struct in, Struct out unless given) from queue `queue`. */
export function hello(
  workerId: string,
  queue: string,
  types: MessageInitShape<typeof HelloSchema>["types"] = [{ name: `${queue}.type`, inputType: StructSchema.typeName, outputType: StructSchema.typeName }],
  descriptors: FileDescriptorSet = descriptorSetOf([StructSchema]),
  overrides: Partial<MessageInitShape<typeof HelloSchema>> = {},
): RawRequest {
  const value = { workerId, host: "test", queues: [queue], slots: 1, types, descriptors, ...overrides } as MessageInitShape<typeof HelloSchema>;
  return { case: "hello", value };
}

/** The error a call ends with (it must end with one). */
export async function refusal(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  throw new Error("expected the call to fail");
}
