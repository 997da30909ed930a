/**
 * The limits operators set on task types and queues (`dispatch_limits`). Every server reads the
 * whole (small) table every second (`server/duties/limits-refresh.ts`), so a change made through
 * any server is in force on all of them within a second, and survives restarts and the loss of
 * Redis.
 *
 * Strategy: a change is one upsert that merges the fields given into the row (`coalesce` of the
 * new value over the stored one), so two operators setting different fields at once both win;
 * a clear is one DELETE.
 */
import { and, asc, eq, sql } from "drizzle-orm";
import type { LimitOverrideRecord, LimitScope, LimitValues, RateRule } from "../../core/dispatch-limits.js";
import type { TaskwireDatabase } from "../database.js";
import { dispatchLimits, type DispatchLimitRow } from "../schema.js";
import { timestampParam } from "../sql-helpers.js";

/** Every limit an operator set, types then queues, each by name. */
export async function listDispatchLimits(db: TaskwireDatabase): Promise<LimitOverrideRecord[]> {
  const rows = await db.select().from(dispatchLimits).orderBy(asc(dispatchLimits.scope), asc(dispatchLimits.name));
  // "queue" < "type" in SQL order: types first, as ListLimits answers.
  return rows.map(toRecord).sort((a, b) => (a.scope === b.scope ? 0 : a.scope === "type" ? -1 : 1));
}

/** Merges `patch`'s given fields into the limits of one type or queue. @returns the row after the change. */
export async function setDispatchLimit(
  db: TaskwireDatabase,
  scope: LimitScope,
  name: string,
  patch: LimitValues,
  now: Date,
): Promise<LimitOverrideRecord> {
  const values = {
    scope,
    name,
    concurrency: patch.concurrency ?? null,
    perKey: patch.perKey ?? null,
    rateCount: patch.rate?.count ?? null,
    rateIntervalMs: patch.rate ? patch.rate.intervalMs : null,
    keyRateCount: patch.keyRate?.count ?? null,
    keyRateIntervalMs: patch.keyRate ? patch.keyRate.intervalMs : null,
    updatedAt: now,
  };
  const keep = (column: string) => sql.raw(`coalesce(excluded.${column}, dispatch_limits.${column})`);
  const [row] = await db
    .insert(dispatchLimits)
    .values(values)
    .onConflictDoUpdate({
      target: [dispatchLimits.scope, dispatchLimits.name],
      set: {
        concurrency: keep("concurrency"),
        perKey: keep("per_key"),
        // A rate's two columns change together.
        rateCount: keep("rate_count"),
        rateIntervalMs: sql.raw("case when excluded.rate_count is null then dispatch_limits.rate_interval_ms else excluded.rate_interval_ms end"),
        keyRateCount: keep("key_rate_count"),
        keyRateIntervalMs: sql.raw("case when excluded.key_rate_count is null then dispatch_limits.key_rate_interval_ms else excluded.key_rate_interval_ms end"),
        updatedAt: timestampParam(now),
      },
    })
    .returning();
  if (!row) throw new Error(`setDispatchLimit: no row returned for ${scope} ${name}`);
  return toRecord(row);
}

/** Drops the limits an operator set on one type or queue. @returns whether there were any. */
export async function clearDispatchLimit(db: TaskwireDatabase, scope: LimitScope, name: string): Promise<boolean> {
  const rows = await db
    .delete(dispatchLimits)
    .where(and(eq(dispatchLimits.scope, scope), eq(dispatchLimits.name, name)))
    .returning({ name: dispatchLimits.name });
  return rows.length > 0;
}

function toRecord(row: DispatchLimitRow): LimitOverrideRecord {
  return {
    scope: row.scope,
    name: row.name,
    concurrency: row.concurrency,
    perKey: row.perKey,
    rate: rate(row.rateCount, row.rateIntervalMs),
    keyRate: rate(row.keyRateCount, row.keyRateIntervalMs),
    updatedAt: row.updatedAt,
  };
}

function rate(count: number | null, intervalMs: number | null): RateRule | null {
  return count === null ? null : { count, intervalMs: intervalMs ?? 0 };
}
