/**
 * The dispatch safety tick, every second: a dispatch pass that tries every queue again, in case
 * a wake-up was lost (wake-ups are pub/sub, which a Redis reconnect can drop).
 */
import type { Logger } from "../../core/logger.js";
import type { Dispatcher } from "../engine/dispatcher.js";
import { periodic, type Duty } from "./duty.js";

/** A dispatch pass runs at least this often, even without wake-ups. */
const DISPATCH_SAFETY_TICK_MS = 1000;

export function dispatchTick(deps: { dispatcher: Dispatcher; logger: Logger }): Duty {
  return periodic({
    name: "dispatch tick",
    intervalMs: DISPATCH_SAFETY_TICK_MS,
    logger: deps.logger,
    run: async () => deps.dispatcher.recheck(),
  });
}
