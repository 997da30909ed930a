/**
 * `taskwire.v1.ScheduleService`: recurring tasks. The requests are checked here field by field
 * (`schedule-convert.ts`); the scheduler (`engine/scheduler.ts`) checks the type and input
 * against the catalog, writes, and fires. Reads need `fleet.read`, changes `fleet.act`
 * (`auth/roles.ts`).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { ScheduleService } from "../../../gen/taskwire/v1/schedule_service_pb.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { SCHEDULE_ID } from "../../core/schedule-types.js";
import { TYPE_NAME } from "../../core/limits.js";
import type { Scheduler } from "../engine/scheduler.js";
import { taskToProto } from "../convert.js";
import { definitionFromProto, scheduleToProto, validScheduleId } from "./schedule-convert.js";

/** Next fire times shown by GetSchedule by default, and at most. */
const DEFAULT_NEXT = 5;
const MAX_NEXT = 100;
/** Schedules per ListSchedules page by default, and at most. */
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;

function encodePageToken(id: string): string {
  return Buffer.from(`after:${id}`).toString("base64url");
}

function decodePageToken(token: string): string {
  const text = Buffer.from(token, "base64url").toString();
  const id = text.startsWith("after:") ? text.slice("after:".length) : "";
  if (!SCHEDULE_ID.test(id)) throw InvalidArgumentError.field("page_token", "is not a token returned by ListSchedules");
  return id;
}

/** Builds the service implementation. */
export function createScheduleService(scheduler: Scheduler): ServiceImpl<typeof ScheduleService> {
  return {
    async createSchedule(request) {
      const id = validScheduleId(request.id);
      const schedule = await scheduler.create(id, definitionFromProto(request.schedule, "schedule"), request.paused);
      return { schedule: scheduleToProto(schedule, DEFAULT_NEXT) };
    },

    async upsertSchedule(request) {
      const id = validScheduleId(request.id);
      const { schedule, created } = await scheduler.upsert(id, definitionFromProto(request.schedule, "schedule"), request.paused);
      return { schedule: scheduleToProto(schedule, DEFAULT_NEXT), created };
    },

    async getSchedule(request) {
      if (request.nextCount < 0 || request.nextCount > MAX_NEXT) throw InvalidArgumentError.field("next_count", `must be from 0 to ${MAX_NEXT}`);
      const schedule = await scheduler.get(validScheduleId(request.id));
      return { schedule: scheduleToProto(schedule, request.nextCount || DEFAULT_NEXT) };
    },

    async listSchedules(request) {
      if (request.type !== "" && !TYPE_NAME.test(request.type)) throw InvalidArgumentError.field("type", "is not a valid task type name");
      if (request.pageSize < 0 || request.pageSize > MAX_PAGE) throw InvalidArgumentError.field("page_size", `must be from 0 to ${MAX_PAGE}`);
      const limit = request.pageSize || DEFAULT_PAGE;
      const afterId = request.pageToken === "" ? undefined : decodePageToken(request.pageToken);
      const schedules = await scheduler.list({ type: request.type || undefined, afterId, limit });
      const last = schedules.at(-1);
      return {
        schedules: schedules.map((s) => scheduleToProto(s, 1)),
        nextPageToken: schedules.length === limit && last ? encodePageToken(last.id) : "",
      };
    },

    async updateSchedule(request) {
      const id = validScheduleId(request.id);
      return { schedule: scheduleToProto(await scheduler.update(id, definitionFromProto(request.schedule, "schedule")), DEFAULT_NEXT) };
    },

    async pauseSchedule(request) {
      return { schedule: scheduleToProto(await scheduler.pause(validScheduleId(request.id)), DEFAULT_NEXT) };
    },

    async resumeSchedule(request) {
      return { schedule: scheduleToProto(await scheduler.resume(validScheduleId(request.id)), DEFAULT_NEXT) };
    },

    async triggerSchedule(request) {
      const { task, fireMs } = await scheduler.trigger(validScheduleId(request.id));
      return { task: taskToProto(task), fireTime: timestampFromDate(new Date(fireMs)) };
    },

    async deleteSchedule(request) {
      await scheduler.delete(validScheduleId(request.id));
      return {};
    },
  };
}
