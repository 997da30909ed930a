/**
 * Queue settings, every second and whenever the control plane says they changed: the paused
 * queues are read from PostgreSQL (a tiny table) and handed to the dispatcher. PostgreSQL is the
 * truth, so a pause survives restarts and the loss of Redis, and a lost control message delays
 * a pause by at most a second.
 */
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import type { Dispatcher } from "../engine/dispatcher.js";
import { periodic, type Duty } from "./duty.js";

/** How often the settings are read again even without a control message. */
export const QUEUE_SETTINGS_REFRESH_MS = 1_000;

/** The duty, with `refresh()` for the control plane's nudge. */
export interface QueueSettingsDuty extends Duty {
  /** Reads the settings now. */
  refresh(): Promise<void>;
}

export function queueSettings(deps: { store: TaskStore; dispatcher: Dispatcher; logger: Logger }): QueueSettingsDuty {
  async function refresh(): Promise<void> {
    const settings = await deps.store.listQueueSettings();
    deps.dispatcher.setPaused(new Set(settings.filter((s) => s.pausedAt !== null).map((s) => s.queue)));
  }
  const duty = periodic({ name: "queue settings refresh", intervalMs: QUEUE_SETTINGS_REFRESH_MS, logger: deps.logger, run: refresh });
  return { ...duty, refresh };
}
