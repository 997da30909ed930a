/**
 * Recurring tasks (`taskwire.v1.ScheduleService`): create, upsert (for deploy scripts), read,
 * change, pause, resume, trigger and delete schedules. Reads need a `viewer` or `admin` API key;
 * changes need `admin`. Reach it as `client.schedules` (see `createClient`).
 */
import type { DescMessage, JsonObject } from "@bufbuild/protobuf";
import { isMessage } from "@bufbuild/protobuf";
import { AnySchema, StructSchema, type Any } from "@bufbuild/protobuf/wkt";
import type { CallOptions, Client } from "@connectrpc/connect";
import type { Schedule, ScheduleDefinition } from "../../gen/taskwire/v1/schedule_pb.js";
import type { ScheduleService } from "../../gen/taskwire/v1/schedule_service_pb.js";
import type { Task } from "../../gen/taskwire/v1/task_pb.js";
import { packValue } from "../common/any.js";
import { scheduleDefinitionOf, type ScheduleTiming } from "../common/schedule-options.js";
import type { TaskSpec, TaskValueInit } from "../common/task-definition.js";

/**
 * A schedule of a task definition: the fires' `input` is typed by the task's input schema.
 * @example
 * await client.schedules.upsert("reports.monthly", { task: generateReport, input: { month: "auto" }, cron: "0 6 1 * *", timeZone: "Europe/Vienna" });
 */
export type TypedScheduleOptions<I extends DescMessage> = ScheduleTiming & {
  task: { readonly spec: TaskSpec<I, DescMessage> };
  input?: TaskValueInit<I>;
};

/** A schedule of a task type by name: JSON for `google.protobuf.Struct` inputs, or an `Any`. */
export type NamedScheduleOptions = ScheduleTiming & {
  type: string;
  input?: JsonObject | Any;
};

/** What a schedule is: see {@link TypedScheduleOptions} and {@link NamedScheduleOptions}. */
export type ScheduleOptions<I extends DescMessage = DescMessage> = TypedScheduleOptions<I> | NamedScheduleOptions;

/** The API's definition of `options`. @throws RangeError on a malformed option */
export function buildScheduleDefinition<I extends DescMessage>(options: ScheduleOptions<I>): ScheduleDefinition {
  if ("task" in options) {
    const input = options.input === undefined ? undefined : packValue(options.task.spec.input, options.input);
    return scheduleDefinitionOf(options, options.task.spec.name, input);
  }
  const input = options.input === undefined ? undefined : isMessage(options.input, AnySchema) ? options.input : packValue(StructSchema, options.input);
  return scheduleDefinitionOf(options, options.type, input);
}

/** Schedules. Get it as `client.schedules`; it shares the client's transport and headers. */
export class SchedulesClient {
  /**
   * @param rpc The generated ScheduleService client.
   * @internal Use `createClient(...).schedules`.
   */
  constructor(private readonly rpc: Client<typeof ScheduleService>) {}

  /**
   * Creates the schedule, or replaces the definition of the one with this id: running it again
   * with the same options changes nothing. An existing schedule keeps its paused state.
   */
  async upsert<I extends DescMessage>(id: string, options: ScheduleOptions<I>, callOptions?: CallOptions): Promise<{ schedule: Schedule; created: boolean }> {
    const response = await this.rpc.upsertSchedule({ id, schedule: buildScheduleDefinition(options), paused: false }, callOptions);
    return { schedule: required(response.schedule), created: response.created };
  }

  /** Creates a schedule (paused with `paused: true`). @throws ConnectError `AlreadyExists` when the id is taken. */
  async create<I extends DescMessage>(id: string, options: ScheduleOptions<I> & { paused?: boolean }, callOptions?: CallOptions): Promise<Schedule> {
    const response = await this.rpc.createSchedule({ id, schedule: buildScheduleDefinition(options), paused: options.paused ?? false }, callOptions);
    return required(response.schedule);
  }

  /** Replaces an existing schedule's definition. @throws ConnectError `NotFound` */
  async update<I extends DescMessage>(id: string, options: ScheduleOptions<I>, callOptions?: CallOptions): Promise<Schedule> {
    return required((await this.rpc.updateSchedule({ id, schedule: buildScheduleDefinition(options) }, callOptions)).schedule);
  }

  /** One schedule with its next `next` fire times (default 5). @throws ConnectError `NotFound` */
  async get(id: string, options: { next?: number } = {}, callOptions?: CallOptions): Promise<Schedule> {
    return required((await this.rpc.getSchedule({ id, nextCount: options.next ?? 0 }, callOptions)).schedule);
  }

  /** Every schedule (of one task type with `type`), by id, each with its next fire time. */
  async list(options: { type?: string } = {}, callOptions?: CallOptions): Promise<Schedule[]> {
    const all: Schedule[] = [];
    let pageToken = "";
    do {
      const page = await this.rpc.listSchedules({ type: options.type ?? "", pageSize: 1000, pageToken }, callOptions);
      all.push(...page.schedules);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return all;
  }

  /** Stops firing until resumed. */
  async pause(id: string, callOptions?: CallOptions): Promise<Schedule> {
    return required((await this.rpc.pauseSchedule({ id }, callOptions)).schedule);
  }

  /** Fires again from the next fire time after now. */
  async resume(id: string, callOptions?: CallOptions): Promise<Schedule> {
    return required((await this.rpc.resumeSchedule({ id }, callOptions)).schedule);
  }

  /** Fires once now, paused or not. @returns the task it submitted. */
  async trigger(id: string, callOptions?: CallOptions): Promise<Task> {
    const response = await this.rpc.triggerSchedule({ id }, callOptions);
    if (!response.task) throw new Error("the server answered without a task");
    return response.task;
  }

  /** Deletes a schedule; the tasks it fired stay. */
  async delete(id: string, callOptions?: CallOptions): Promise<void> {
    await this.rpc.deleteSchedule({ id }, callOptions);
  }
}

function required(schedule: Schedule | undefined): Schedule {
  if (!schedule) throw new Error("the server answered without a schedule");
  return schedule;
}
