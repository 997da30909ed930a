/**
 * Taskwire from a web page: submit a task and follow its progress with
 * `@connectrpc/connect-web`, over the Connect protocol (JSON over HTTP/1.1 or HTTP/2) or
 * gRPC-Web. Nothing here needs Node: bundle it with the page (see `main.ts`, `index.html`).
 * The server must allow the page's origin: `TASKWIRE_CORS_ORIGINS=http://localhost:8080`.
 * `test/e2e/browser.test.ts` runs this module with connect-web's transports.
 */
import { createRegistry, fromJson, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { anyPack, anyUnpack, file_google_protobuf_struct, StructSchema } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { TaskState } from "../../gen/taskwire/v1/task_pb.js";
import { TaskService, type StreamProgressResponse } from "../../gen/taskwire/v1/task_service_pb.js";

/** The protocols browsers can speak (plain gRPC needs HTTP/2 trailers, which browsers do not expose). */
export type BrowserProtocol = "connect" | "grpc-web";

/** A client of `taskwire.v1.TaskService` for the page. */
export type TaskClient = Client<typeof TaskService>;

/** A client over `protocol`, for a server at `baseUrl` (like `http://127.0.0.1:50051`). */
export function createTaskClient(baseUrl: string, protocol: BrowserProtocol = "connect"): TaskClient {
  // Connect sends JSON: the registry lets it write the Any inputs and outputs of Struct types.
  // Add the files of your own input and output messages here to submit and read typed ones.
  const transport =
    protocol === "grpc-web"
      ? createGrpcWebTransport({ baseUrl })
      : createConnectTransport({ baseUrl, jsonOptions: { registry: createRegistry(file_google_protobuf_struct) } });
  return createClient(TaskService, transport);
}

/** One line of a progress display: `RUNNING 40% step 2 of 5`. */
export function describeEvent(event: StreamProgressResponse): string {
  const state = TaskState[event.state] ?? String(event.state);
  const percent = event.progress ? ` ${Math.round(event.progress.percent)}%` : "";
  const message = event.progress?.message ? ` ${event.progress.message}` : "";
  return `${state}${percent}${message}`;
}

/** The output of a finished task whose output type is `google.protobuf.Struct`, as JSON. */
export function outputJson(event: StreamProgressResponse): JsonValue | undefined {
  const output = event.output && anyUnpack(event.output, StructSchema);
  return output ? toJson(StructSchema, output) : undefined;
}

/**
 * Submits a task of a JSON (`google.protobuf.Struct`) type, then streams its progress to
 * `onEvent` until it ends. @returns the last event (terminal: SUCCEEDED, FAILED or CANCELLED).
 */
export async function submitAndFollow(
  client: TaskClient,
  type: string,
  input: JsonObject,
  onEvent: (event: StreamProgressResponse) => void,
  signal?: AbortSignal,
): Promise<StreamProgressResponse | undefined> {
  const { task } = await client.submit({ type, input: anyPack(StructSchema, fromJson(StructSchema, input)) }, { signal });
  if (!task) throw new Error("Submit answered without a task");
  let last: StreamProgressResponse | undefined;
  for await (const event of client.streamProgress({ id: task.id }, { signal })) {
    onEvent(event);
    last = event;
  }
  return last;
}
