/**
 * Dispatch limits, every second and whenever the control plane says they changed: the limits
 * operators set (`dispatch_limits`, a tiny table) over the limits workers declared with their
 * types (the catalog), resolved into the table the broker's claim enforces (`Broker.setLimits`).
 * PostgreSQL is the truth, so limits survive restarts and the loss of Redis, and a lost control
 * message delays a change by at most a second. Keep in line with the README's "Limits and fairness".
 */
import type { Broker } from "../../broker/broker.js";
import { effectiveLimits, hasLimits, type EffectiveLimits, type LimitTable } from "../../core/dispatch-limits.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import { periodic, type Duty } from "./duty.js";

/** How often the limits are read again even without a control message. */
export const LIMITS_REFRESH_MS = 1_000;

/** The duty, with `refresh()` for the control plane's nudge and `current()` for ExplainTask. */
export interface LimitsRefreshDuty extends Duty {
  /** Reads the limits now and hands them to the broker. */
  refresh(): Promise<void>;
  /** The table last handed to the broker. */
  current(): LimitTable;
}

/** Reads both sources and resolves them (exported for tests and ExplainTask). */
export async function readLimitTable(store: TaskStore): Promise<LimitTable> {
  const [overrides, types] = await Promise.all([store.listDispatchLimits(), store.listTaskTypes()]);
  const typeOverrides = new Map(overrides.filter((o) => o.scope === "type").map((o) => [o.name, o]));
  const typeLimits = new Map<string, EffectiveLimits>();
  for (const type of types) {
    const limits = effectiveLimits(type.defaults.limits, typeOverrides.get(type.name));
    if (hasLimits(limits)) typeLimits.set(type.name, limits);
  }
  const queueLimits = new Map<string, EffectiveLimits>();
  for (const override of overrides) {
    if (override.scope !== "queue") continue;
    const limits = effectiveLimits(null, override);
    if (hasLimits(limits)) queueLimits.set(override.name, limits);
  }
  return { types: typeLimits, queues: queueLimits };
}

export function limitsRefresh(deps: { store: TaskStore; broker: Broker; logger: Logger }): LimitsRefreshDuty {
  let table: LimitTable = { types: new Map(), queues: new Map() };
  let shown = "";
  async function refresh(): Promise<void> {
    table = await readLimitTable(deps.store);
    deps.broker.setLimits(table);
    const summary = JSON.stringify({ types: [...table.types], queues: [...table.queues] });
    if (summary !== shown) {
      shown = summary;
      deps.logger.info({ types: Object.fromEntries(table.types), queues: Object.fromEntries(table.queues) }, "dispatch limits in force");
    }
  }
  const duty = periodic({ name: "limits refresh", intervalMs: LIMITS_REFRESH_MS, logger: deps.logger, run: refresh });
  return { ...duty, refresh, current: () => table };
}
