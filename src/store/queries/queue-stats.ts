/**
 * queueStats: the figures of each queue (waiting, running, oldest waiting, finished in the last
 * minute and hour) from PostgreSQL, for ListQueues and GetQueue, in ONE statement.
 *
 * Strategy: two grouped reads joined by `union all` and summed per queue, each through an index
 * that holds only its rows, so neither reads the finished tasks that pile up for days:
 * - the unfinished tasks (`state in <unfinished>`, inlined: word for word the predicate of
 *   `tasks_unfinished_id_idx`, and a condition `tasks_state_id_idx` serves; on 5,000 tasks the
 *   planner takes the latter) give the scheduled, queued and running counts and the oldest
 *   queued creation time: as many rows as the backlog, which the broker keeps short;
 * - the tasks finished in the last hour (`state in <terminal> and finished_at >= now - 1 h`, a
 *   range of `tasks_finished_at_idx`) give the succeeded and failed counts of the last hour and,
 *   filtered further, of the last minute. CANCELLED tasks are in neither count.
 * Without `queues`, every queue that shows up in either read is listed, by name. With `queues`,
 * both reads are narrowed to them and the result is exactly those queues, in the order given
 * (each once): an unknown or idle queue gets a row of zeros (`left join` from the names).
 * The time windows are computed here from `now`, so the figures follow the caller's clock.
 */
import { sql, type SQL } from "drizzle-orm";
import type { TaskwireDatabase } from "../database.js";
import { tasks } from "../schema.js";
import { arrayLiteral, SQL_HELD, SQL_TERMINAL, SQL_UNFINISHED, timestampParam } from "../sql-helpers.js";
import type { QueueStatsRecord } from "../store.js";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

/** The figures of each queue (see the file header). */
export async function queueStats(
  db: TaskwireDatabase,
  now: Date,
  queues?: readonly string[],
): Promise<QueueStatsRecord[]> {
  const names = queues === undefined ? undefined : [...new Set(queues)];
  if (names !== undefined && names.length === 0) return [];
  const inQueues = names === undefined ? sql`` : sql` and ${tasks.queue} = any(${arrayLiteral(names)}::text[])`;
  const lastMinute = timestampParam(new Date(now.getTime() - MINUTE_MS));
  const lastHour = timestampParam(new Date(now.getTime() - HOUR_MS));

  // Each read yields the same columns; the other read's figures are zeros.
  const unfinished = sql`
    select ${tasks.queue} as queue,
           count(*) filter (where ${tasks.state} = 'SCHEDULED') as scheduled,
           count(*) filter (where ${tasks.state} = 'QUEUED') as queued,
           count(*) filter (where ${tasks.state} in ${SQL_HELD}) as running,
           min(${tasks.createdAt}) filter (where ${tasks.state} = 'QUEUED') as oldest_queued_at,
           0 as succeeded_last_minute, 0 as failed_last_minute, 0 as succeeded_last_hour, 0 as failed_last_hour
      from ${tasks}
     where ${tasks.state} in ${SQL_UNFINISHED}${inQueues}
     group by ${tasks.queue}`;
  const finished = sql`
    select ${tasks.queue} as queue, 0, 0, 0, null::timestamptz,
           count(*) filter (where ${tasks.state} = 'SUCCEEDED' and ${tasks.finishedAt} >= ${lastMinute}),
           count(*) filter (where ${tasks.state} = 'FAILED' and ${tasks.finishedAt} >= ${lastMinute}),
           count(*) filter (where ${tasks.state} = 'SUCCEEDED'),
           count(*) filter (where ${tasks.state} = 'FAILED')
      from ${tasks}
     where ${tasks.state} in ${SQL_TERMINAL} and ${tasks.finishedAt} >= ${lastHour}${inQueues}
     group by ${tasks.queue}`;
  const figures = sql`(
    select queue,
           sum(scheduled) as scheduled, sum(queued) as queued, sum(running) as running,
           min(oldest_queued_at) as oldest_queued_at,
           sum(succeeded_last_minute) as succeeded_last_minute, sum(failed_last_minute) as failed_last_minute,
           sum(succeeded_last_hour) as succeeded_last_hour, sum(failed_last_hour) as failed_last_hour
      from (${unfinished} union all ${finished}) as u
     group by queue) as s`;

  const count = (column: string): SQL.Aliased<number> =>
    sql<number>`coalesce(s.${sql.raw(column)}, 0)`.mapWith(Number).as(column);
  const columns = {
    scheduled: count("scheduled"),
    queued: count("queued"),
    running: count("running"),
    oldestQueuedAt: sql<Date | null>`s.oldest_queued_at`.mapWith(tasks.createdAt),
    succeededLastMinute: count("succeeded_last_minute"),
    failedLastMinute: count("failed_last_minute"),
    succeededLastHour: count("succeeded_last_hour"),
    failedLastHour: count("failed_last_hour"),
  };
  if (names === undefined) {
    return db
      .select({ queue: sql<string>`s.queue`, ...columns })
      .from(figures)
      .orderBy(sql`s.queue`);
  }
  return db
    .select({ queue: sql<string>`r.queue`, ...columns })
    .from(sql`unnest(${arrayLiteral(names)}::text[]) with ordinality as r(queue, ord) left join ${figures} on s.queue = r.queue`)
    .orderBy(sql`r.ord`);
}
