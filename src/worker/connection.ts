/**
 * One stream session with a server: Hello, Welcome, then grants, assignments, cancels, drain
 * and acknowledgements until the stream ends. The worker runs one session at a time and opens
 * a new one after this one ends (see worker.ts); running attempts and unacknowledged results
 * belong to the worker, not the session, so they survive a broken stream.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import {
  ConnectRequestSchema,
  ReportKind,
  type Assignment,
  type ConnectRequest,
  type ConnectResponse,
  type Hello,
  type Welcome,
  type WorkerService,
} from "../../gen/taskwire/v1/worker_service_pb.js";
import type { Logger } from "../core/logger.js";
import { Channel } from "./channel.js";
import type { Outbox } from "./outbox.js";
import type { TaskPool } from "./task-pool.js";

/** What the session needs from its worker. */
export interface SessionDeps {
  client: Client<typeof WorkerService>;
  hello: Hello;
  headers: Readonly<Record<string, string>> | undefined;
  /** Attempts the worker holds at most: its concurrency plus its prefetch (Hello.slots). */
  slots: number;
  pool: TaskPool;
  outbox: Outbox;
  logger: Logger;
  /** How long to wait for acknowledgements and for the server to end the stream when finishing. */
  finishWaitMs: number;
  /** True once the worker stops taking work for good. */
  isStopping(): boolean;
  /** The server welcomed the worker. */
  onWelcome(welcome: Welcome): void;
  /** The server asked the worker to drain; `stop`: an operator did, and the worker stops after it. */
  onDrain(reason: string, stop: boolean): void;
}

/** How a session ended. */
export type SessionEnd =
  /** The worker finished its work and closed the stream (after a Drain or on shutdown). */
  | { kind: "finished" }
  /** The stream broke, the server ended it, or refused the worker; `error` is what was raised. */
  | { kind: "lost"; error: unknown };

/** Time allowed between opening the stream and the Welcome. */
const WELCOME_TIMEOUT_MS = 30_000;
/** Heartbeat interval when the Welcome gives none. */
const DEFAULT_HEARTBEAT_MS = 5_000;

/** One `WorkerService.Connect` stream. */
export class WorkerSession {
  readonly #deps: SessionDeps;
  readonly #requests = new Channel<ConnectRequest>();
  readonly #abort = new AbortController();
  #welcome: Welcome | undefined;
  #finishing = false;
  #closedByUs = false;
  #lostError: unknown;
  /** Slots granted on this stream and not yet filled by an assignment. */
  #outstanding = 0;
  #heartbeat: NodeJS.Timeout | undefined;
  #welcomeTimer: NodeJS.Timeout | undefined;
  #closeTimer: NodeJS.Timeout | undefined;

  constructor(deps: SessionDeps) {
    this.#deps = deps;
  }

  /** Whether the server welcomed this session. */
  get welcomed(): boolean {
    return this.#welcome !== undefined;
  }

  /** Runs the session until the stream ends. Never rejects. */
  async run(): Promise<SessionEnd> {
    const { client, hello, headers, logger } = this.#deps;
    this.#send({ case: "hello", value: hello });
    this.#welcomeTimer = setTimeout(
      () => this.#fail(new Error(`the server sent no Welcome within ${WELCOME_TIMEOUT_MS} ms`)),
      WELCOME_TIMEOUT_MS,
    );
    try {
      const responses = client.connect(this.#requests, { signal: this.#abort.signal, headers });
      for await (const response of responses) this.#handle(response);
      if (this.#closedByUs) return { kind: "finished" };
      return { kind: "lost", error: this.#lostError ?? new Error("the server ended the stream") };
    } catch (error) {
      if (this.#closedByUs && this.#lostError === undefined) return { kind: "finished" };
      return { kind: "lost", error: this.#lostError ?? error };
    } finally {
      clearTimeout(this.#welcomeTimer);
      clearInterval(this.#heartbeat);
      clearTimeout(this.#closeTimer);
      if (this.#welcome) this.#deps.outbox.detach();
      this.#requests.close();
      this.#abort.abort();
      logger.debug("stream closed");
    }
  }

  /**
   * The worker is stopping: send Draining and close once running attempts have reported.
   * Before the Welcome there is nothing to hand back, so the stream is abandoned at once.
   */
  stopTakingWork(): void {
    if (this.#welcome) this.#finish();
    else this.abort();
  }

  /** Ends the stream at once (the worker gives up waiting). */
  abort(): void {
    this.#closedByUs = true;
    this.#abort.abort();
  }

  #send(message: MessageInitShape<typeof ConnectRequestSchema>["message"]): void {
    this.#requests.push(create(ConnectRequestSchema, { message }));
  }

  #fail(error: Error): void {
    this.#lostError ??= error;
    this.#abort.abort(error);
  }

  #handle(response: ConnectResponse): void {
    const message = response.message;
    if (!this.#welcome && message.case !== "welcome") {
      this.#fail(new Error(`protocol error: expected Welcome, got ${message.case ?? "an empty message"}`));
      return;
    }
    switch (message.case) {
      case "welcome":
        this.#onWelcome(message.value);
        break;
      case "assign":
        for (const assignment of message.value.tasks) this.#onAssignment(assignment);
        break;
      case "cancel":
        for (const ref of message.value.tasks) {
          const running = this.#deps.pool.cancel(ref.taskId, ref.attempt, message.value.reason);
          this.#deps.logger.info({ taskId: ref.taskId, attempt: ref.attempt, running }, "cancel received");
        }
        break;
      case "drain":
        this.#deps.logger.info({ reason: message.value.reason, stop: message.value.stop }, "server asked to drain");
        this.#deps.onDrain(message.value.reason, message.value.stop);
        this.#finish();
        break;
      case "completeAck":
        this.#deps.outbox.acknowledge(message.value.tasks);
        break;
      case "refused":
        // Items the server dropped (or an attempt it failed): said once here, the stream goes on.
        for (const item of message.value.items) {
          this.#deps.logger.warn(
            { taskId: item.taskId || undefined, attempt: item.attempt, report: ReportKind[item.report], count: item.count },
            `the server refused a report: ${item.message}`,
          );
        }
        break;
      case undefined:
        this.#deps.logger.warn("ignoring an empty message from the server (a newer protocol?)");
        break;
    }
  }

  #onWelcome(welcome: Welcome): void {
    if (this.#welcome) {
      this.#deps.logger.warn("ignoring a second Welcome");
      return;
    }
    clearTimeout(this.#welcomeTimer);
    this.#welcome = welcome;
    const intervalMs = welcome.heartbeatInterval ? durationMs(welcome.heartbeatInterval) : 0;
    const heartbeatMs = intervalMs >= 10 ? intervalMs : DEFAULT_HEARTBEAT_MS;
    this.#heartbeat = setInterval(() => this.#send({ case: "heartbeat", value: {} }), heartbeatMs);
    this.#deps.logger.info({ sessionId: welcome.sessionId, heartbeatMs }, "connected");
    this.#deps.onWelcome(welcome);
    if (this.#deps.isStopping()) this.#finish();
    // Unacknowledged results of earlier streams first, then the free slots.
    this.#deps.outbox.attach({
      send: (request) => this.#requests.push(request),
      takeGrant: () => this.#takeGrant(),
    });
  }

  #takeGrant(): number {
    if (this.#finishing || this.#deps.isStopping()) return 0;
    const free = this.#deps.slots - this.#deps.pool.size - this.#outstanding;
    if (free <= 0) return 0;
    this.#outstanding += free;
    return free;
  }

  #onAssignment(assignment: Assignment): void {
    const { pool, slots, logger, outbox } = this.#deps;
    this.#outstanding = Math.max(0, this.#outstanding - 1);
    if (pool.size >= slots && !pool.has(assignment.taskId, assignment.attempt)) {
      // The server assigned past the granted slots: hand the attempt back (not counted) rather than overload.
      logger.error({ taskId: assignment.taskId, attempt: assignment.attempt }, "assignment without a free slot, released");
      outbox.addRelease([{ taskId: assignment.taskId, attempt: assignment.attempt }], `no free slot (${slots} slots)`);
      return;
    }
    pool.start(assignment);
  }

  /**
   * Stops taking work, hands back the prefetched attempts that have not started (`Release`: they
   * go back to their queues, their attempt not counted), waits for running attempts and
   * acknowledgements, then half-closes.
   */
  #finish(): void {
    if (this.#finishing) return;
    this.#finishing = true;
    this.#send({ case: "draining", value: {} });
    const { pool, outbox, finishWaitMs, logger } = this.#deps;
    const released = pool.releaseWaiting();
    if (released.length > 0) {
      logger.info({ released: released.length }, "handing back prefetched attempts that have not started");
      outbox.addRelease(released, "draining");
    }
    const ended = new Promise<void>((resolve) => this.#abort.signal.addEventListener("abort", () => resolve()));
    void (async () => {
      await Promise.race([pool.whenIdle(), ended]);
      if (this.#abort.signal.aborted) return;
      outbox.flush();
      const acked = await Promise.race([
        outbox.whenAcked().then(() => true),
        ended.then(() => false),
        delay(finishWaitMs).then(() => false),
      ]);
      if (this.#abort.signal.aborted) return;
      if (!acked) logger.warn({ unacked: outbox.unackedCount }, "results not acknowledged; closing anyway");
      this.#closedByUs = true;
      this.#requests.close();
      // The server ends its side when ours ends; do not wait for it forever.
      this.#closeTimer = setTimeout(() => this.#abort.abort(), finishWaitMs);
    })();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
