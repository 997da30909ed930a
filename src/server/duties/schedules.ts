/**
 * Schedules, every 250 ms on one server of the fleet at a time (an exclusive duty, taken over
 * within 10 s when its holder dies): fires the schedules that are due (`Scheduler.fireDue`).
 * The short interval is what makes a schedule fire within a second of its time; a run that
 * finds nothing due is one read of a partial index. Keep in line with the README's "Schedules".
 */
import type { Broker } from "../../broker/broker.js";
import type { Logger } from "../../core/logger.js";
import type { Scheduler } from "../engine/scheduler.js";
import { periodic, type Duty } from "./duty.js";

/** How often due schedules are looked for. */
export const SCHEDULES_INTERVAL_MS = 250;

export interface SchedulesDeps {
  scheduler: Scheduler;
  broker: Broker;
  serverId: string;
  logger: Logger;
  /** @default {@link SCHEDULES_INTERVAL_MS} */
  intervalMs?: number;
}

export function schedules(deps: SchedulesDeps): Duty {
  return periodic({
    name: "schedules",
    intervalMs: deps.intervalMs ?? SCHEDULES_INTERVAL_MS,
    logger: deps.logger,
    exclusive: { broker: deps.broker, holder: deps.serverId },
    runAtStart: true,
    async run() {
      await deps.scheduler.fireDue();
    },
  });
}
