/**
 * The typed client: submit tasks, wait for their results, follow their progress, cancel them,
 * list what exists; through `client.admin`, operate the fleet; through `client.schedules`, run tasks on a schedule. Refusals from the server reach callers as `ConnectError`s with their code.
 */
import type { WaitReason } from "../../gen/taskwire/v1/task_service_pb.js";
import { isMessage, type DescMessage, type JsonObject, type Registry } from "@bufbuild/protobuf";
import { AnySchema, durationFromMs, StructSchema, type Any } from "@bufbuild/protobuf/wkt";
import { createClient as createRpcClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createSessionManager, type CaCertificates } from "../common/http2-session.js";
import type { Task, TaskState, TaskType } from "../../gen/taskwire/v1/task_pb.js";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import {
  TaskService,
  type GetTaskLogsResponse,
  type ListTasksResponse,
  type StreamTaskLogsResponse,
  type SubmitRequest,
  type StreamProgressResponse,
} from "../../gen/taskwire/v1/task_service_pb.js";
import { packValue, unpackValue } from "../common/any.js";
import type { TaskSpec, TaskValueInit } from "../common/task-definition.js";
import { durationToMs } from "./durations.js";
import { anyValueToJson, createTaskwireRegistry } from "./json.js";
import { buildSubmitRequest, type SubmitOptions } from "./submit-request.js";
import { SubmitInterceptors, type SubmitInterceptor, type SubmittedTaskInfo } from "./interceptors.js";
import { withTracePropagation } from "./trace-propagation.js";
import { TaskHandle, type TaskCalls, type TaskOutput } from "./task-handle.js";
import { AdminClient } from "./admin-client.js";
import { SchedulesClient } from "./schedules-client.js";
import { chainItems, chordItems, flowItems, graphItems, type FlowHandle, type FlowNode, type GraphHandles, type GraphNode } from "./flows.js";
import { ScheduleService } from "../../gen/taskwire/v1/schedule_service_pb.js";

/** How to reach a Taskwire server. */
export interface ClientOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:50051`. */
  url: string;
  /**
   * `"grpc"`: gRPC over HTTP/2 (h2c for `http:` URLs). `"connect"`: the Connect protocol over
   * HTTP/1.1, for proxies that do not pass HTTP/2; its reads without side effects go as HTTP GET.
   * @default "grpc"
   */
  protocol?: "grpc" | "connect";
  /** Headers sent with every call, like `{ authorization: "Bearer <token>" }` (the server's API key). */
  headers?: Record<string, string>;
  /**
   * Certificate authorities (PEM) to trust for an `https:` URL instead of the system's: the
   * server's own certificate when it is self-signed, or a private CA's. @default the system's
   */
  ca?: CaCertificates;
  /** A transport to use instead of one built from `url` and `protocol` (tests, custom TLS). */
  transport?: Transport;
  /**
   * Resolves the output types of untyped handles (`submitByName`, `handle(id)`).
   * @default the well-known types and Taskwire's messages ({@link createTaskwireRegistry})
   */
  registry?: Registry;
  /**
   * Run before and after every submission, in this order (`interceptors.ts`): add labels from
   * the caller's request, record the ids. @default none
   */
  interceptors?: readonly SubmitInterceptor[];
}

/** A task definition, or just its contract: what `submit` needs to type the input and output. */
export interface TaskLike<I extends DescMessage, O extends DescMessage> {
  readonly spec: TaskSpec<I, O>;
}

/** One submission of a batch. Build typed ones with {@link batchItem}. */
export interface BatchItem<O extends DescMessage = DescMessage> {
  /** The task type's name. */
  readonly type: string;
  /** The input: a packed message, or a JSON object for types that take `google.protobuf.Struct`. */
  readonly input: JsonObject | Any;
  readonly options?: SubmitOptions;
  /** The output schema, which types the item's handle. */
  readonly output?: O;
}

/** The handles of a batch, one per item, in order, each typed by its item. */
export type BatchHandles<T extends readonly BatchItem[]> = {
  -readonly [K in keyof T]: T[K] extends BatchItem<infer O> ? TaskHandle<O> : TaskHandle;
};

/** Filter and page of {@link TaskwireClient.listTasks}. */
/** Which of a task's log lines to read. */
export interface TaskLogsOptions {
  /** Only this attempt's lines. @default every attempt */
  attempt?: number;
  /** Only lines at this level or above. @default "debug" (all) */
  minLevel?: "debug" | "info" | "warn" | "error";
  /** At most 1000. @default 100 */
  pageSize?: number;
  /** `nextPageToken` of the previous page. */
  pageToken?: string;
}

export interface ListTasksOptions {
  /** Any of these states. @default all */
  states?: readonly TaskState[];
  type?: string;
  queue?: string;
  /** At most 1000. @default 50 */
  pageSize?: number;
  /** `nextPageToken` of the previous page. */
  pageToken?: string;
  /** Only tasks carrying every one of these labels, e.g. `{ schedule: "reports.nightly" }`. */
  labels?: Record<string, string>;
  /** Only the tasks that depend on this task (its children). */
  parentId?: string;
}

/**
 * A typed batch item: `input` is checked against the task's input schema, and the handle
 * `submitBatch` returns for it is typed by the output schema.
 */
export function batchItem<I extends DescMessage, O extends DescMessage>(
  task: TaskLike<I, O>,
  input: TaskValueInit<I>,
  options?: SubmitOptions,
): BatchItem<O> {
  return { type: task.spec.name, input: packValue(task.spec.input, input), options, output: task.spec.output };
}

/** A client of one Taskwire server (or load balancer). Create it with {@link createClient}. */
export class TaskwireClient implements TaskCalls {
  /**
   * @param rpc The generated TaskService client.
   * @param admin The fleet's operations, on the same transport.
   * @param schedules Recurring tasks, on the same transport.
   * @param registry Resolves the output types of untyped handles.
   * @param release Releases the connection; see {@link close}.
   * @param interceptors Run around every submission.
   * @internal Use {@link createClient}.
   */
  constructor(
    private readonly rpc: Client<typeof TaskService>,
    /**
     * The operator's calls (AdminService): workers, servers, queues, counts, bulk retry, cancel
     * and delete. Reads need a `viewer` or `admin` key, actions an `admin` key.
     * @example
     * const { retried } = await client.admin.retryTasks({ selector: { states: ["FAILED"], queue: "emails" } });
     */
    readonly admin: AdminClient,
    /**
     * Recurring tasks (ScheduleService): upsert, get, list, pause, resume, trigger, delete.
     * Reads need a `viewer` or `admin` key, changes an `admin` key.
     * @example
     * await client.schedules.upsert("reports.nightly", { task: generateReport, input: { month: "auto" }, cron: "30 2 * * *", timeZone: "Europe/Vienna" });
     */
    readonly schedules: SchedulesClient,
    private readonly registry: Registry,
    private readonly release: () => void = () => {},
    private readonly interceptors: SubmitInterceptors = new SubmitInterceptors(),
  ) {}

  /**
   * Submits a typed task: `input` is checked against the task's input schema at compile time, and
   * the handle's `result()` resolves to its output message.
   * @example
   * const handle = await client.submit(factorial, { value: 20 });
   * const output = await handle.result(); // StringValue
   */
  async submit<I extends DescMessage, O extends DescMessage>(
    task: TaskLike<I, O>,
    input: TaskValueInit<I>,
    options?: SubmitOptions,
    callOptions?: CallOptions,
  ): Promise<TaskHandle<O>> {
    const request = buildSubmitRequest(task.spec.name, packValue(task.spec.input, input), options);
    const submitted = await this.submitOne(request, callOptions);
    return new TaskHandle(this, submitted.id, this.typedDecoder(task.spec.output), submitted.existing);
  }

  /**
   * Submits a task by its type's name. A JSON object is sent as a `google.protobuf.Struct`;
   * pass an `Any` for other input types. The handle's `result()` resolves to the output as JSON.
   */
  async submitByName(
    type: string,
    input: JsonObject | Any,
    options?: SubmitOptions,
    callOptions?: CallOptions,
  ): Promise<TaskHandle> {
    const request = buildSubmitRequest(type, toAny(input), options);
    const submitted = await this.submitOne(request, callOptions);
    return new TaskHandle(this, submitted.id, this.untypedDecoder(), submitted.existing);
  }

  /** One Submit, inside the interceptors. */
  private async submitOne(request: SubmitRequest, callOptions: CallOptions | undefined): Promise<SubmittedTaskInfo> {
    await this.interceptors.before([request], "submit");
    const response = await this.rpc.submit(request, callOptions);
    const task = requireTask(response.task);
    const submitted = { id: task.id, state: task.state, existing: response.existing };
    await this.interceptors.after([request], [submitted], "submit");
    return submitted;
  }

  /**
   * Submits many tasks in one call, all or none: one invalid item refuses the whole batch.
   * @returns one handle per item, in order.
   */
  async submitBatch<T extends readonly BatchItem[] | []>(items: T, callOptions?: CallOptions): Promise<BatchHandles<T>> {
    const list: readonly BatchItem[] = items;
    const tasks = list.map((item) => buildSubmitRequest(item.type, toAny(item.input), item.options));
    await this.interceptors.before(tasks, "submitBatch");
    const response = await this.rpc.submitBatch({ tasks }, callOptions);
    if (response.tasks.length !== list.length) {
      throw new Error(`SubmitBatch answered ${response.tasks.length} tasks for ${list.length} items`);
    }
    await this.interceptors.after(tasks, response.tasks, "submitBatch");
    const handles = list.map((item, index) => {
      const submitted = response.tasks[index];
      if (!submitted) throw new Error(`SubmitBatch answered no task for item ${index}`);
      const decode = item.output ? this.typedDecoder(item.output) : this.untypedDecoder();
      return new TaskHandle(this, submitted.id, decode, submitted.existing);
    });
    return handles as BatchHandles<T>;
  }

  /**
   * A chain (Celery's `chain`): each item runs after the one before it succeeded, submitted in
   * one atomic batch. Read the previous output in a handler with `ctx.parents.outputOf(task)`.
   * @example
   * const [order, receipt] = await client.chain([batchItem(placeOrder, { sku: "A1" }), batchItem(sendReceipt, {})]);
   */
  chain<T extends readonly BatchItem[] | []>(items: T, callOptions?: CallOptions): Promise<BatchHandles<T>> {
    return this.submitBatch(chainItems(items) as T, callOptions);
  }

  /** A group (Celery's `group`): items that run independently, in parallel, submitted in one atomic batch. */
  group<T extends readonly BatchItem[] | []>(items: T, callOptions?: CallOptions): Promise<BatchHandles<T>> {
    return this.submitBatch(items, callOptions);
  }

  /**
   * A chord (Celery's `chord`): fan-out, then fan-in: `callback` runs after every item of the
   * group succeeded, and reads their outputs with `ctx.parents.outputsOf(task)`.
   */
  async chord<T extends readonly BatchItem[] | [], O extends DescMessage>(
    group: T,
    callback: BatchItem<O>,
    callOptions?: CallOptions,
  ): Promise<{ group: BatchHandles<T>; callback: TaskHandle<O> }> {
    const handles: TaskHandle[] = await this.submitBatch(chordItems(group, callback), callOptions);
    return { group: handles.slice(0, -1) as BatchHandles<T>, callback: handles.at(-1) as unknown as TaskHandle<O> };
  }

  /**
   * A flow (BullMQ's `FlowProducer.add`): a tree in which each node runs after all its children
   * succeeded. @returns the handles in the tree's shape.
   */
  async flow<O extends DescMessage>(root: FlowNode<O>, callOptions?: CallOptions): Promise<FlowHandle<O>> {
    const { items, tree } = flowItems(root);
    return tree(await this.submitBatch(items, callOptions)) as unknown as FlowHandle<O>;
  }

  /**
   * Any acyclic graph, by node names: each node runs after the nodes it names in `after`.
   * Submitted in one atomic batch. @throws RangeError for an unknown name or a cycle (nothing is sent).
   * @example
   * const { order, email, stock } = await client.graph({
   *   order: batchItem(placeOrder, { sku: "A1" }),
   *   email: { ...batchItem(sendConfirmation, {}), after: ["order"] },
   *   stock: { ...batchItem(updateInventory, {}), after: ["order"] },
   * });
   */
  async graph<T extends Record<string, GraphNode>>(nodes: T, callOptions?: CallOptions): Promise<GraphHandles<T>> {
    const { names, items } = graphItems(nodes);
    const handles: TaskHandle[] = await this.submitBatch(items, callOptions);
    return Object.fromEntries(names.map((name, i) => [name, handles[i]])) as GraphHandles<T>;
  }

  /**
   * Rebuilds the handle of a task submitted earlier (by this process or another). With `task`,
   * `result()` decodes the typed output; without, it gives JSON.
   */
  handle(id: string): TaskHandle;
  handle<O extends DescMessage>(id: string, task: TaskLike<DescMessage, O>): TaskHandle<O>;
  handle<O extends DescMessage>(id: string, task?: TaskLike<DescMessage, O>): TaskHandle<O> | TaskHandle {
    return task ? new TaskHandle(this, id, this.typedDecoder(task.spec.output)) : new TaskHandle(this, id, this.untypedDecoder());
  }

  /**
   * Why a task is not running: the reasons that hold it back now, most decisive first (README
   * "Limits and fairness"); none when it is running, finished or about to start.
   * @throws ConnectError `NotFound` for an unknown id.
   */
  async explainTask(id: string, options?: CallOptions): Promise<{ task: Task; reasons: WaitReason[] }> {
    const response = await this.rpc.explainTask({ id }, options);
    return { task: requireTask(response.task), reasons: response.reasons };
  }

  /** The task's current state. @throws ConnectError `NotFound` for an unknown id. */
  async getStatus(id: string, options?: CallOptions): Promise<Task> {
    return requireTask((await this.rpc.getStatus({ id }, options)).task);
  }

  /**
   * The task with its output or error. With `wait` (milliseconds or "30s"), the server answers
   * as soon as the task ends, or after `wait` with the task as it is.
   */
  async getResult(id: string, wait?: number | string, options?: CallOptions): Promise<Task> {
    const request = { id, wait: wait === undefined ? undefined : durationFromMs(durationToMs(wait, "wait")) };
    return requireTask((await this.rpc.getResult(request, options)).task);
  }

  /** Live progress of a task; see {@link TaskHandle.progress}. */
  streamProgress(id: string, options?: CallOptions): AsyncIterable<StreamProgressResponse> {
    return this.rpc.streamProgress({ id }, options);
  }

  /**
   * Cancels a task; see {@link TaskHandle.cancel}.
   * @throws ConnectError `FailedPrecondition` when the task has already finished.
   */
  async cancel(id: string, reason?: string, options?: CallOptions): Promise<Task> {
    return requireTask((await this.rpc.cancel({ id, reason: reason ?? "" }, options)).task);
  }

  /** The catalog of task types declared by workers. */
  async listTypes(options?: CallOptions): Promise<TaskType[]> {
    return (await this.rpc.listTypes({}, options)).types;
  }

  /** Tasks, newest first, with the number matching the filter and the next page's token. */
  async listTasks(filter: ListTasksOptions = {}, options?: CallOptions): Promise<ListTasksResponse> {
    return this.rpc.listTasks(
      {
        states: [...(filter.states ?? [])],
        type: filter.type ?? "",
        queue: filter.queue ?? "",
        pageSize: filter.pageSize ?? 0,
        pageToken: filter.pageToken ?? "",
        labels: filter.labels ?? {},
        parentId: filter.parentId ?? "",
      },
      options,
    );
  }

  /**
   * A page of a task's stored log lines, oldest first (`GetTaskLogs`), with the number stored
   * and dropped (past the server's per-task bounds).
   * @throws ConnectError `NotFound` for an unknown id, `InvalidArgument` for a bad filter or token.
   */
  async getTaskLogs(id: string, filter: TaskLogsOptions = {}, options?: CallOptions): Promise<GetTaskLogsResponse> {
    return this.rpc.getTaskLogs(
      { id, attempt: filter.attempt ?? 0, minLevel: filter.minLevel ?? "", pageSize: filter.pageSize ?? 0, pageToken: filter.pageToken ?? "" },
      options,
    );
  }

  /**
   * A task's log lines: the stored ones, then live ones as its workers send them, until the task
   * ends (`StreamTaskLogs`; the last message carries `finalState`).
   */
  streamTaskLogs(id: string, filter: Omit<TaskLogsOptions, "pageSize" | "pageToken"> & { afterSequence?: bigint } = {}, options?: CallOptions): AsyncIterable<StreamTaskLogsResponse> {
    return this.rpc.streamTaskLogs(
      { id, attempt: filter.attempt ?? 0, minLevel: filter.minLevel ?? "", afterSequence: filter.afterSequence ?? 0n },
      options,
    );
  }

  /**
   * Closes the HTTP/2 connection of a client created with the gRPC protocol (idle connections
   * do not keep the process alive, so this is optional). Calls in flight fail. Safe to call twice.
   */
  close(): void {
    this.release();
  }

  private typedDecoder<O extends DescMessage>(schema: O): (output: Any) => TaskOutput<O> {
    return (output) => unpackValue(schema, output) as TaskOutput<O>;
  }

  private untypedDecoder(): (output: Any) => TaskOutput<DescMessage> {
    return (output) => anyValueToJson(output, this.registry);
  }
}

/**
 * Creates a client.
 * @example
 * const client = createClient({ url: "http://127.0.0.1:50051" });
 */
export function createClient(options: ClientOptions): TaskwireClient {
  let transport = options.transport;
  let release = (): void => {};
  if (!transport) {
    if ((options.protocol ?? "grpc") === "grpc") {
      const sessionManager = createSessionManager(options.url, { ca: options.ca });
      // No gzip of responses (a SubmitBatch answer, a page of tasks): the server's CPU is worth
      // more than the bytes; pass a `transport` of your own to accept compression.
      transport = createGrpcTransport({ baseUrl: options.url, sessionManager, acceptCompression: [] });
      release = () => sessionManager.abort();
    } else {
      const nodeOptions = options.ca === undefined ? undefined : { ca: options.ca };
      // Reads without side effects (GetStatus, ListTypes, ListTasks, the admin views) go as HTTP
      // GET, which caches and proxies understand; the rest as POST.
      transport = createConnectTransport({ baseUrl: options.url, httpVersion: "1.1", nodeOptions, useHttpGet: true });
    }
  }
  if (options.headers) transport = withHeaders(transport, options.headers);
  transport = withTracePropagation(transport); // issue 21: traces
  return new TaskwireClient(
    createRpcClient(TaskService, transport),
    new AdminClient(createRpcClient(AdminService, transport)),
    new SchedulesClient(createRpcClient(ScheduleService, transport)),
    options.registry ?? createTaskwireRegistry(),
    release,
    new SubmitInterceptors(options.interceptors),
  );
}

/** Adds `headers` to every call of `transport`; headers given to a call win. */
function withHeaders(transport: Transport, headers: Record<string, string>): Transport {
  const merge = (callHeaders: Parameters<Transport["unary"]>[3]): Headers => {
    const merged = new Headers(headers);
    new Headers(callHeaders).forEach((value, name) => merged.set(name, value));
    return merged;
  };
  return {
    unary: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.unary(method, signal, timeoutMs, merge(header), input, contextValues),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs, merge(header), input, contextValues),
  };
}

function toAny(input: JsonObject | Any): Any {
  return isMessage(input, AnySchema) ? input : packValue(StructSchema, input);
}

function requireTask(task: Task | undefined): Task {
  if (!task) throw new Error("the server answered without a task");
  return task;
}
