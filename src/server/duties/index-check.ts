/**
 * The index guard's check, every second: a lost dispatch index (Redis restarted empty, flushed)
 * is rebuilt from PostgreSQL by one server (`engine/index-guard.ts`); after a rebuild, this
 * server dispatches and promotes at once.
 */
import type { Logger } from "../../core/logger.js";
import type { Dispatcher } from "../engine/dispatcher.js";
import { EPOCH_CHECK_MS, type IndexGuard } from "../engine/index-guard.js";
import { periodic, type Duty } from "./duty.js";
import type { Promoter } from "./promoter.js";

export function indexCheck(deps: { guard: IndexGuard; dispatcher: Dispatcher; promoter: Promoter; logger: Logger }): Duty {
  return periodic({
    name: "dispatch index check",
    intervalMs: EPOCH_CHECK_MS,
    logger: deps.logger,
    async run() {
      const report = await deps.guard.check();
      if (report === undefined) return;
      deps.dispatcher.recheck();
      deps.promoter.schedule(Date.now());
    },
  });
}
