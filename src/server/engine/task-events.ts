/**
 * Live events about tasks (state changes and progress), fanned out through the broker so a
 * subscriber on any server sees events from workers on any other.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  StreamProgressResponseSchema,
  type StreamProgressResponse,
} from "../../../gen/taskwire/v1/task_service_pb.js";
import type { Broker, Unsubscribe } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import { TERMINAL_STATES, type TaskRecord } from "../../core/task-types.js";
import { errorToProto, progressToProto, stateToProto } from "../convert.js";

/** The event describing a task's current state (the first event of a stream, and every state change). */
export function stateEvent(task: TaskRecord): StreamProgressResponse {
  const lastError = task.errors.at(-1);
  const failedNow = lastError !== undefined && lastError.attempt === task.attempt && task.state !== "SUCCEEDED";
  return create(StreamProgressResponseSchema, {
    taskId: task.id,
    state: stateToProto(task.state),
    attempt: task.attempt,
    progress: task.progress ? progressToProto(task.progress) : undefined,
    output: task.state === "SUCCEEDED" && task.output && task.outputTypeUrl
      ? { typeUrl: task.outputTypeUrl, value: task.output }
      : undefined,
    error: failedNow ? errorToProto(lastError) : undefined,
    time: timestampFromDate(new Date()),
    context: task.context,
  });
}

/** True for the event that ends a stream. */
export function isTerminalEvent(event: StreamProgressResponse, terminal = TERMINAL_PROTO_STATES): boolean {
  return terminal.has(event.state);
}

const TERMINAL_PROTO_STATES = new Set([...TERMINAL_STATES].map(stateToProto));

export class TaskEvents {
  constructor(
    private readonly broker: Broker,
    private readonly logger: Logger,
  ) {}

  /**
   * Publishes events, all in one broker call; failures are logged, never thrown (events are
   * best effort, state is in PostgreSQL).
   */
  publish(events: readonly StreamProgressResponse[]): void {
    if (events.length === 0) return;
    const payloads = events.map((event) => ({ taskId: event.taskId, payload: toBinary(StreamProgressResponseSchema, event) }));
    this.broker.publishTaskEvents(payloads).catch((error: unknown) => {
      this.logger.warn({ err: error, tasks: events.length }, "could not publish task events");
    });
  }

  /** Receives the events of one task. */
  subscribe(taskId: string, listener: (event: StreamProgressResponse) => void): Promise<Unsubscribe> {
    return this.broker.subscribeTaskEvents(taskId, (payload) => {
      try {
        listener(fromBinary(StreamProgressResponseSchema, payload));
      } catch (error) {
        this.logger.warn({ err: error, taskId }, "dropped an undecodable task event");
      }
    });
  }
}
