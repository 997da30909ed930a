/** Overview: the backlog by state, the last hour per minute, queue wait, workers, paused queues (`GetOverview`). */
import type { OverviewMinute } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState } from "../../../gen/taskwire/v1/task_pb.js";
import { ErrorBanner, ScreenHeader, StateBadge } from "../components.js";
import { formatCount, formatDuration } from "../format.js";
import { href, usePoll } from "../hooks.js";
import { useSession } from "../session.js";

function MinuteChart({ minutes }: { minutes: OverviewMinute[] }) {
  const max = Math.max(1, ...minutes.map((m) => Number(m.succeeded + m.failed)));
  const width = 600;
  const height = 120;
  const bar = width / Math.max(1, minutes.length);
  const total = (key: "succeeded" | "failed" | "started") => minutes.reduce((sum, m) => sum + Number(m[key]), 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Finished per minute over the last hour: ${total("succeeded")} succeeded, ${total("failed")} failed`}>
        {minutes.map((m, i) => {
          const ok = (Number(m.succeeded) / max) * (height - 10);
          const bad = (Number(m.failed) / max) * (height - 10);
          return (
            <g key={i}>
              <rect class="bar-ok" x={i * bar + 1} y={height - ok} width={bar - 2} height={ok} />
              <rect class="bar-bad" x={i * bar + 1} y={height - ok - bad} width={bar - 2} height={bad} />
            </g>
          );
        })}
      </svg>
      <figcaption>
        Last hour, per minute: <span class="ok">{formatCount(total("succeeded"))} succeeded</span>, <span class="bad">{formatCount(total("failed"))} failed</span>,{" "}
        {formatCount(total("started"))} attempts started
      </figcaption>
    </figure>
  );
}

/** The Overview screen. */
export function OverviewScreen() {
  const { clients } = useSession();
  const { data, error } = usePoll((signal) => clients.admin.getOverview({}, { signal }), []);
  const backlog = (state: TaskState) => Number(data?.backlog.find((c) => c.state === state)?.count ?? 0n);
  const lastMinute = data?.minutes.at(-1);
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title="Overview" />
      <ErrorBanner error={error} />
      {data && (
        <>
          <div class="cards">
            {[TaskState.SCHEDULED, TaskState.QUEUED, TaskState.RUNNING, TaskState.CANCELLING].map((state) => (
              <a class="card" href={`${href("tasks")}?state=${TaskState[state]}`} key={state}>
                <StateBadge state={state} />
                <strong data-testid={`backlog-${TaskState[state]}`}>{formatCount(backlog(state))}</strong>
              </a>
            ))}
            <a class="card" href={href("workers")}>
              <span>Workers</span>
              <strong>{data.workers}</strong>
              <small>
                {data.slotsInUse} of {data.slots} slots in use
              </small>
            </a>
            <div class="card">
              <span>Queue wait (hour)</span>
              <strong>p50 {formatDuration(data.queueWaitP50)}</strong>
              <small>p95 {formatDuration(data.queueWaitP95)}</small>
            </div>
            <div class="card">
              <span>This minute</span>
              <strong>{formatCount(lastMinute?.succeeded ?? 0n)} ok</strong>
              <small>{formatCount(lastMinute?.failed ?? 0n)} failed</small>
            </div>
            <a class="card" href={href("queues")}>
              <span>Paused queues</span>
              <strong>{data.pausedQueues.length}</strong>
              <small>{data.pausedQueues.join(", ") || "none"}</small>
            </a>
            <div class="card">
              <span>Servers</span>
              <strong>{data.servers}</strong>
            </div>
          </div>
          <MinuteChart minutes={data.minutes} />
        </>
      )}
    </section>
  );
}
