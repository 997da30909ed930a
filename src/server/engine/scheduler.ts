/**
 * The scheduler: writes schedules (checking the task type and input against the catalog), and
 * fires the due ones (`duties/schedules.ts` calls {@link Scheduler.fireDue} on the one server
 * holding the duty's lease).
 *
 * A fire is one step: plan the fire times (`fire-plan.ts`: late, missed, catch-up), apply the
 * overlap policy against the previous fire's task, build each task as a submission of the
 * template (validated again; labelled `schedule=<id>`; idempotency key
 * `schedule:<id>:<fire time>`), then commit the tasks together with the schedule's next fire
 * time in one transaction fenced by the revision the plan was made from (`TaskStore.fireSchedule`).
 * Two servers firing at once therefore produce one task per fire time, and a server that dies
 * at any point leaves either nothing (the next holder fires it, late) or the whole fire (the
 * reconciler indexes the task if the index write was lost). Keep in line with the README's
 * "Schedules".
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { createHash } from "node:crypto";
import { SubmitRequestSchema } from "../../../gen/taskwire/v1/task_service_pb.js";
import { fireTimes } from "../../common/schedule-times.js";
import { AlreadyExistsError, InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import { SCHEDULE_LABEL } from "../../core/labels.js";
import type { Logger } from "../../core/logger.js";
import type { ScheduleDefinitionRecord, ScheduleRecord, ScheduleView } from "../../core/schedule-types.js";
import { TERMINAL_STATES } from "../../core/task-states.js";
import type { NewTask, TaskRecord } from "../../core/task-types.js";
import type { NewSchedule, TaskStore } from "../../store/store.js";
import { buildNewTask } from "../rpc/submission.js";
import type { Catalog } from "./catalog.js";
import { fireKey, jitterOf, planFires } from "./fire-plan.js";
import type { TaskSubmitter } from "./submitter.js";

/** What the scheduler needs from the rest of the server. */
export interface SchedulerDeps {
  store: TaskStore;
  catalog: Catalog;
  submitter: TaskSubmitter;
  logger: Logger;
  /** The clock. @default Date.now */
  now?: () => number;
}

/** Due schedules read per statement, and statements per run of the duty. */
const DUE_BATCH = 100;
const DUE_BATCHES_PER_RUN = 10;
/** How often a trigger re-reads a schedule that changed under it. */
const TRIGGER_ATTEMPTS = 3;

/** Whether `error` means the template no longer fits (recorded on the schedule) rather than an outage (retried). */
function isTemplateError(error: unknown): error is Error {
  return error instanceof InvalidArgumentError || error instanceof NotFoundError;
}

function notFound(id: string): NotFoundError {
  return new NotFoundError("SCHEDULE_NOT_FOUND", `schedule "${id}" does not exist`);
}

/** A digest of a declared definition: the same declaration gives the same digest. */
export function declarationHash(definition: ScheduleDefinitionRecord): string {
  const labels = Object.fromEntries(Object.entries(definition.options.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const canonical = JSON.stringify({
    ...definition,
    input: Buffer.from(definition.input).toString("base64"),
    options: { ...definition.options, labels },
  });
  return createHash("sha256").update(canonical).digest("hex");
}

/** Writes and fires schedules; see the file header. */
export class Scheduler {
  readonly #now: () => number;

  constructor(private readonly deps: SchedulerDeps) {
    this.#now = deps.now ?? Date.now;
  }

  /**
   * Checks what needs the catalog: the type exists (NOT_FOUND otherwise) and the input is of its
   * input type (INVALID_ARGUMENT naming `field`.task.input).
   */
  async check(definition: ScheduleDefinitionRecord, field: string): Promise<void> {
    const entry = await this.deps.catalog.get(definition.type);
    this.deps.catalog.validateInput(entry, { $typeName: "google.protobuf.Any", typeUrl: definition.inputTypeUrl, value: definition.input }, `${field}.task.input`);
  }

  #newSchedule(id: string, definition: ScheduleDefinitionRecord, paused: boolean, source: NewSchedule["source"], declaredHash: string | null): NewSchedule {
    const now = this.#now();
    const next = fireTimes(definition.spec).next(now);
    return {
      ...definition,
      id,
      pausedAt: paused ? new Date(now) : null,
      nextFireAt: next === undefined ? null : new Date(next),
      source,
      declaredHash,
    };
  }

  /** Creates a schedule. @throws AlreadyExistsError when the id is taken. */
  async create(id: string, definition: ScheduleDefinitionRecord, paused: boolean): Promise<ScheduleView> {
    await this.check(definition, "schedule");
    const created = await this.deps.store.createSchedule(this.#newSchedule(id, definition, paused, "API", null), new Date(this.#now()));
    if (!created) throw new AlreadyExistsError("SCHEDULE_ALREADY_EXISTS", `schedule "${id}" exists; UpsertSchedule or UpdateSchedule changes it`);
    this.deps.logger.info({ scheduleId: id, type: definition.type, paused }, "schedule created");
    return this.get(id);
  }

  /** Creates or replaces a schedule (an existing one keeps its paused state). */
  async upsert(id: string, definition: ScheduleDefinitionRecord, paused: boolean): Promise<{ schedule: ScheduleView; created: boolean }> {
    await this.check(definition, "schedule");
    const created = await this.deps.store.upsertSchedule(this.#newSchedule(id, definition, paused, "API", null), new Date(this.#now()));
    return { schedule: await this.get(id), created };
  }

  /** Replaces an existing schedule's definition. @throws NotFoundError */
  async update(id: string, definition: ScheduleDefinitionRecord): Promise<ScheduleView> {
    await this.check(definition, "schedule");
    if (!(await this.deps.store.updateSchedule(this.#newSchedule(id, definition, false, "API", null), new Date(this.#now())))) throw notFound(id);
    return this.get(id);
  }

  /**
   * Upserts the schedules workers declare with their types, each only when its declaration
   * changed since a worker last declared it (see `TaskStore.declareSchedules`), so a schedule
   * changed by hand stays as changed until a worker brings a different declaration.
   */
  async declare(declared: readonly { id: string; definition: ScheduleDefinitionRecord; field: string }[]): Promise<void> {
    if (declared.length === 0) return;
    for (const d of declared) await this.check(d.definition, d.field);
    const written = await this.deps.store.declareSchedules(
      declared.map((d) => this.#newSchedule(d.id, d.definition, false, "WORKER", declarationHash(d.definition))),
      new Date(this.#now()),
    );
    if (written.length > 0) this.deps.logger.info({ schedules: written }, "schedules declared by a worker written");
  }

  /** @throws NotFoundError */
  async get(id: string): Promise<ScheduleView> {
    const found = await this.deps.store.getSchedule(id);
    if (!found) throw notFound(id);
    return found;
  }

  /** Schedules by id, after `afterId`, of one type when given. */
  list(filter: { type?: string; afterId?: string; limit: number }): Promise<ScheduleView[]> {
    return this.deps.store.listSchedules(filter);
  }

  /** Stops firing. @throws NotFoundError */
  async pause(id: string): Promise<ScheduleView> {
    const now = new Date(this.#now());
    if (!(await this.deps.store.setSchedulePaused(id, now, null, now))) throw notFound(id);
    this.deps.logger.info({ scheduleId: id }, "schedule paused");
    return this.get(id);
  }

  /** Fires again from the first fire time after now. @throws NotFoundError */
  async resume(id: string): Promise<ScheduleView> {
    const schedule = await this.get(id);
    const now = this.#now();
    const next = fireTimes(schedule.spec).next(now);
    await this.deps.store.setSchedulePaused(id, null, next === undefined ? null : new Date(next), new Date(now));
    this.deps.logger.info({ scheduleId: id }, "schedule resumed");
    return this.get(id);
  }

  /** Deletes a schedule. @throws NotFoundError */
  async delete(id: string): Promise<void> {
    if (!(await this.deps.store.deleteSchedule(id))) throw notFound(id);
    this.deps.logger.info({ scheduleId: id }, "schedule deleted");
  }

  /**
   * Fires a schedule once now, paused or not, whatever its overlap policy; its next fire time
   * stays. @throws NotFoundError; InvalidArgumentError when its template no longer fits its type.
   */
  async trigger(id: string): Promise<{ task: TaskRecord; fireMs: number }> {
    for (let attempt = 1; ; attempt++) {
      const schedule = await this.get(id);
      const fireMs = this.#now();
      const task = await this.#buildTask(schedule, fireMs);
      const results = await this.deps.store.fireSchedule({ id, revision: schedule.revision, tasks: [task], lastFireAt: new Date(fireMs), lastError: null, now: new Date(fireMs) });
      if (results?.[0]) {
        await this.deps.submitter.index(results);
        this.deps.logger.info({ scheduleId: id, taskId: results[0].task.id }, "schedule triggered");
        return { task: results[0].task, fireMs };
      }
      if (attempt >= TRIGGER_ATTEMPTS) throw new Error(`schedule ${id} changed ${attempt} times while being triggered`);
    }
  }

  /** The task a fire at `fireMs` submits: the template as a submission, validated against its type. */
  async #buildTask(schedule: ScheduleRecord, fireMs: number): Promise<NewTask> {
    const { options } = schedule;
    const runAt = fireMs + jitterOf(schedule.id, fireMs, schedule.spec.jitterMs);
    const request = create(SubmitRequestSchema, {
      type: schedule.type,
      input: { typeUrl: schedule.inputTypeUrl, value: schedule.input },
      queue: options.queue,
      priority: options.priority,
      schedule: { case: "runAt", value: timestampFromDate(new Date(runAt)) },
      timeout: options.timeoutMs === undefined ? undefined : durationFromMs(options.timeoutMs),
      maxAttempts: options.maxAttempts,
      idempotencyKey: fireKey(schedule.id, fireMs),
      labels: { ...options.labels, [SCHEDULE_LABEL]: schedule.id },
    });
    return buildNewTask(this.deps.catalog, request, new Date(this.#now()), "schedule.task");
  }

  /** Fires every due schedule (bounded per run). @returns how many tasks were submitted. */
  async fireDue(): Promise<number> {
    let submitted = 0;
    for (let batch = 0; batch < DUE_BATCHES_PER_RUN; batch++) {
      const due = await this.deps.store.dueSchedules(new Date(this.#now()), DUE_BATCH);
      for (const schedule of due) submitted += await this.fire(schedule);
      if (due.length < DUE_BATCH) break;
    }
    return submitted;
  }

  /** One fire of a due schedule; see the file header. @returns how many tasks it submitted. */
  async fire(schedule: ScheduleRecord): Promise<number> {
    const { logger, store, submitter } = this.deps;
    const log = logger.child({ scheduleId: schedule.id });
    const now = this.#now();
    if (schedule.nextFireAt === null) return 0;
    const plan = planFires(fireTimes(schedule.spec), schedule.catchUp, schedule.catchUpLimit, schedule.nextFireAt.getTime(), now);
    if (plan.skippedMissed) log.info({ catchUp: schedule.catchUp, since: schedule.nextFireAt.toISOString() }, "fire times missed while no server fired them are skipped");
    let fires = plan.fires;
    // Several fire times at once (catch-up) with SKIP or CANCEL_PREVIOUS: each would skip, or
    // cancel, the one before it, so the latest alone fires.
    if (schedule.overlap !== "ALLOW" && fires.length > 1) fires = fires.slice(-1);
    if (fires.length > 0 && schedule.overlap !== "ALLOW" && schedule.lastTaskId !== null) {
      const previous = await store.getTask(schedule.lastTaskId);
      if (previous && !TERMINAL_STATES.has(previous.state)) {
        if (schedule.overlap === "SKIP") {
          log.info({ previousTaskId: previous.id, fireTime: new Date(fires[0] ?? now).toISOString() }, "fire skipped: the previous fire's task has not finished");
          fires = [];
        } else {
          await submitter.cancel(previous.id, `cancelled by schedule ${schedule.id}: the next fire came (CANCEL_PREVIOUS)`);
        }
      }
    }
    const tasks: NewTask[] = [];
    let lastError: string | null | undefined;
    try {
      for (const fireMs of fires) tasks.push(await this.#buildTask(schedule, fireMs));
      if (tasks.length > 0) lastError = null;
    } catch (error) {
      if (!isTemplateError(error)) throw error;
      lastError = error.message;
      tasks.length = 0;
      log.warn({ err: error }, "schedule fire submitted no task: its template no longer fits its type");
    }
    const results = await store.fireSchedule({
      id: schedule.id,
      revision: schedule.revision,
      tasks,
      nextFireAt: plan.nextFireAt === undefined ? null : new Date(plan.nextFireAt),
      lastFireAt: fires.length > 0 ? new Date(fires.at(-1) ?? now) : undefined,
      lastError,
      now: new Date(now),
    });
    if (results === undefined) {
      log.debug("schedule changed or was fired elsewhere meanwhile; nothing fired");
      return 0;
    }
    await submitter.index(results);
    const fresh = results.filter((r) => !r.existing);
    if (fresh.length > 0) log.info({ tasks: fresh.map((r) => r.task.id), fireTimes: fires.map((ms) => new Date(ms).toISOString()) }, "schedule fired");
    if (plan.nextFireAt === undefined) log.info("schedule ended: no fire time is left");
    return fresh.length;
  }
}
