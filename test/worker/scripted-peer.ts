/**
 * A scripted `WorkerService` peer for worker tests: a real Connect server on `node:http2`
 * (port 0) whose `Connect` handler is driven by the test. Each stream the worker opens becomes a
 * {@link PeerStream}: the test reads what the worker sent, in order, and decides what to answer.
 */
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConnectError, type Code, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  ConnectResponseSchema,
  WorkerService,
  type ConnectRequest,
  type ConnectResponse,
} from "../../gen/taskwire/v1/worker_service_pb.js";
import { Channel } from "../../src/worker/channel.js";

type RequestCase = NonNullable<ConnectRequest["message"]["case"]>;
type RequestValue<C extends RequestCase> = Extract<ConnectRequest["message"], { case: C }>["value"];
type ResponseInit = MessageInitShape<typeof ConnectResponseSchema>["message"];

/** Waits for one value that arrives later. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** One `Connect` stream as the server sees it. */
export class PeerStream {
  /** Every message received, heartbeats included, in order. */
  readonly received: ConnectRequest[] = [];
  /** Acknowledge every CompleteReport and Release at once. */
  autoAck: boolean;
  /** End the response stream once the worker half-closes (as the real server does). */
  endWhenRequestsEnd = true;
  readonly #inbox: ConnectRequest[] = [];
  #waiter: (() => void) | undefined;
  readonly #outgoing = new Channel<ConnectResponse>();
  #error: ConnectError | undefined;
  readonly #requestsEnded = deferred();
  readonly #closed = deferred();
  #requestsDone = false;

  constructor(autoAck: boolean) {
    this.autoAck = autoAck;
  }

  /** Resolves when the worker has half-closed (or dropped) its side. */
  get requestsEnded(): Promise<void> {
    return this.#requestsEnded.promise;
  }

  /** Resolves when the handler has returned. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  /** The next message that is not a heartbeat. */
  async next(): Promise<ConnectRequest["message"]> {
    return (await this.#take((request) => request.message.case !== "heartbeat")).message;
  }

  /** The next non-heartbeat message, which must be of `kind`. */
  async nextOf<C extends RequestCase>(kind: C): Promise<RequestValue<C>> {
    const message = await this.next();
    if (message.case !== kind) {
      throw new Error(`expected ${kind}, got ${message.case ?? "nothing"}: ${JSON.stringify(message.value, bigints)}`);
    }
    return message.value as RequestValue<C>;
  }

  /** The next heartbeat (other messages stay queued). */
  async nextHeartbeat(): Promise<void> {
    await this.#take((request) => request.message.case === "heartbeat");
  }

  /** True when the worker sent nothing more than heartbeats so far. */
  get idle(): boolean {
    return this.#inbox.every((request) => request.message.case === "heartbeat");
  }

  /** Sends a message to the worker. */
  send(message: ResponseInit): void {
    this.#outgoing.push(create(ConnectResponseSchema, { message }));
  }

  /** Sends a Welcome; heartbeats default to once an hour so they do not get in the way. */
  welcome(heartbeatMs = 3_600_000, sessionId = "session-1"): void {
    this.send({
      case: "welcome",
      value: { sessionId, heartbeatInterval: durationFromMs(heartbeatMs), leaseTimeout: durationFromMs(30_000) },
    });
  }

  /** Ends the response stream normally. */
  end(): void {
    this.#outgoing.close();
  }

  /** Ends the stream with an error status. */
  fail(code: Code, message: string): void {
    this.#error = new ConnectError(message, code);
    this.#outgoing.close();
  }

  async #take(match: (request: ConnectRequest) => boolean): Promise<ConnectRequest> {
    for (;;) {
      const index = this.#inbox.findIndex(match);
      if (index >= 0) return this.#inbox.splice(index, 1)[0] as ConnectRequest;
      if (this.#requestsDone) throw new Error("the worker closed the stream");
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  #wakeReader(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** The handler: feeds the inbox from the worker and yields what the test sends. */
  async *serve(requests: AsyncIterable<ConnectRequest>, context: HandlerContext): AsyncGenerator<ConnectResponse> {
    context.signal.addEventListener("abort", () => this.#outgoing.close());
    void (async () => {
      try {
        for await (const request of requests) {
          this.received.push(request);
          this.#inbox.push(request);
          if (this.autoAck && request.message.case === "complete") {
            this.send({
              case: "completeAck",
              value: { tasks: request.message.value.results.map(({ taskId, attempt }) => ({ taskId, attempt })) },
            });
          }
          if (this.autoAck && request.message.case === "release") {
            this.send({ case: "completeAck", value: { tasks: request.message.value.tasks.map(({ taskId, attempt }) => ({ taskId, attempt })) } });
          }
          this.#wakeReader();
        }
      } catch {
        // The worker dropped the stream.
      } finally {
        this.#requestsDone = true;
        this.#wakeReader();
        this.#requestsEnded.resolve();
        if (this.endWhenRequestsEnd) this.#outgoing.close();
      }
    })();
    try {
      for await (const response of this.#outgoing) yield response;
      if (this.#error) throw this.#error;
    } finally {
      this.#closed.resolve();
    }
  }
}

/** The scripted server. */
export class ScriptedPeer {
  readonly #server: Http2Server;
  readonly #sessions = new Set<ServerHttp2Session>();
  readonly #streams: PeerStream[] = [];
  #waiter: (() => void) | undefined;
  /** Default of `PeerStream.autoAck` for new streams. */
  autoAck = true;
  /** Number of streams opened so far. */
  opened = 0;

  private constructor() {
    this.#server = createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(WorkerService, {
            connect: (requests, context) => {
              const stream = new PeerStream(this.autoAck);
              this.opened++;
              this.#streams.push(stream);
              const waiter = this.#waiter;
              this.#waiter = undefined;
              waiter?.();
              return stream.serve(requests, context);
            },
          }),
      }),
    );
    this.#server.on("session", (session) => {
      this.#sessions.add(session);
      session.on("close", () => this.#sessions.delete(session));
    });
  }

  /** Starts a peer on a free port. */
  static async start(): Promise<ScriptedPeer> {
    const peer = new ScriptedPeer();
    await new Promise<void>((resolve) => peer.#server.listen(0, "127.0.0.1", resolve));
    return peer;
  }

  /** The URL a worker connects to. */
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The next stream the worker opens. */
  async nextStream(): Promise<PeerStream> {
    for (;;) {
      const stream = this.#streams.shift();
      if (stream) return stream;
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** Stops the server, dropping open connections. */
  async close(): Promise<void> {
    for (const session of this.#sessions) session.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** `JSON.stringify` replacer for messages with int64 fields. */
export function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}
