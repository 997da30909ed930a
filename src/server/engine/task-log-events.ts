/**
 * Live task log lines, fanned out through the broker like progress events (`task-events.ts`), so
 * a `StreamTaskLogs` on any server sees the lines a worker on any other sent. The lines of one
 * task travel on the broker's per-task channel of the topic `logs:<task id>` (no task id has
 * that form, so the topic never meets a task's own events), each message one
 * `StreamTaskLogsResponse` holding the lines of one stored batch, after they were stored: a
 * subscriber reads the stored lines first and then takes the live ones with a later sequence.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  StreamTaskLogsResponseSchema,
  TaskLogLineSchema,
  type StreamTaskLogsResponse,
  type TaskLogLine,
} from "../../../gen/taskwire/v1/task_service_pb.js";
import type { Broker, Unsubscribe } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { TaskLogLineRecord } from "../../core/task-logs.js";

/** The broker topic carrying a task's log lines. */
export function logTopic(taskId: string): string {
  return `logs:${taskId.toLowerCase()}`;
}

/** A stored line in its wire form. */
export function logLineToProto(line: TaskLogLineRecord): TaskLogLine {
  return create(TaskLogLineSchema, {
    sequence: line.sequence,
    attempt: line.attempt,
    level: line.level,
    message: line.message,
    fields: line.fields,
    time: timestampFromDate(line.time),
  });
}

/** Publishes and receives the stored lines of tasks, live. */
export class TaskLogEvents {
  constructor(
    private readonly broker: Broker,
    private readonly logger: Logger,
  ) {}

  /**
   * Publishes the lines of one stored batch (any number of tasks) in one broker call; failures
   * are logged, never thrown (the lines are stored; a follower reads them on its next catch-up).
   */
  publish(lines: readonly TaskLogLineRecord[], dropped: ReadonlyMap<string, number>): void {
    const byTask = new Map<string, TaskLogLine[]>();
    for (const line of lines) {
      const id = line.taskId.toLowerCase();
      byTask.set(id, [...(byTask.get(id) ?? []), logLineToProto(line)]);
    }
    for (const id of dropped.keys()) if (!byTask.has(id)) byTask.set(id, []);
    if (byTask.size === 0) return;
    const payloads = [...byTask].map(([taskId, taskLines]) => ({
      taskId: logTopic(taskId),
      payload: toBinary(StreamTaskLogsResponseSchema, create(StreamTaskLogsResponseSchema, { lines: taskLines, droppedCount: BigInt(dropped.get(taskId) ?? 0) })),
    }));
    this.broker.publishTaskEvents(payloads).catch((error: unknown) => {
      this.logger.warn({ err: error, tasks: payloads.length }, "could not publish task log lines");
    });
  }

  /**
   * Receives the lines of one task as they are stored. `droppedCount` of what the listener gets
   * is the number of the task's lines the batch dropped (not a total).
   */
  subscribe(taskId: string, listener: (batch: StreamTaskLogsResponse) => void): Promise<Unsubscribe> {
    return this.broker.subscribeTaskEvents(logTopic(taskId), (payload) => {
      try {
        listener(fromBinary(StreamTaskLogsResponseSchema, payload));
      } catch (error) {
        this.logger.warn({ err: error, taskId }, "dropped undecodable task log lines");
      }
    });
  }
}
