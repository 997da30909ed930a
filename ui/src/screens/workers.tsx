/**
 * Workers: every connected worker (host, SDK, server, queues, slots, heartbeat age, running
 * tasks, draining), with Drain; and a warning for each type or queue that has waiting tasks but
 * no worker to run them.
 */
import { useState } from "preact/hooks";
import { CountGroup, WorkerState } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { TaskState } from "../../../gen/taskwire/v1/task_pb.js";
import { errorText } from "../api.js";
import { ActionButton, ErrorBanner, Notice, ScreenHeader, useNotice } from "../components.js";
import { ago, formatCount, shortId } from "../format.js";
import { href, usePoll } from "../hooks.js";
import { useSession } from "../session.js";

/** The Workers screen. */
export function WorkersScreen() {
  const { clients } = useSession();
  const [notice, setNotice] = useNotice();
  const [showGone, setShowGone] = useState(false);
  const workers = usePoll((signal) => clients.admin.listWorkers({ includeDisconnected: showGone }, { signal }), [showGone]);
  // Waiting work by type and queue, against the types' and queues' workers.
  const orphans = usePoll(
    async (signal) => {
      const [counts, types, queues] = await Promise.all([
        clients.admin.countTasks({ selector: { states: [TaskState.QUEUED, TaskState.SCHEDULED] }, groupBy: [CountGroup.TYPE, CountGroup.QUEUE] }, { signal }),
        clients.tasks.listTypes({}, { signal }),
        clients.admin.listQueues({}, { signal }),
      ]);
      const served = new Map(types.types.map((t) => [t.name, t.workerCount]));
      const queueWorkers = new Map(queues.queues.map((q) => [q.name, q.workerIds.length]));
      const warnings: string[] = [];
      const byType = new Map<string, number>();
      const byQueue = new Map<string, number>();
      for (const c of counts.counts) {
        byType.set(c.type, (byType.get(c.type) ?? 0) + Number(c.count));
        byQueue.set(c.queue, (byQueue.get(c.queue) ?? 0) + Number(c.count));
      }
      for (const [type, n] of byType) if ((served.get(type) ?? 0) === 0) warnings.push(`Type ${type} has ${formatCount(n)} waiting tasks and no connected worker serves it.`);
      for (const [queue, n] of byQueue) if ((queueWorkers.get(queue) ?? 0) === 0) warnings.push(`Queue ${queue} has ${formatCount(n)} waiting tasks and no connected worker serves it.`);
      return warnings;
    },
    [],
    15_000,
  );
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title="Workers">
        <label>
          <input type="checkbox" checked={showGone} onChange={(e) => setShowGone(e.currentTarget.checked)} /> Show disconnected
        </label>
      </ScreenHeader>
      {(orphans.data ?? []).map((w) => (
        <p class="warning" role="alert" key={w}>
          {w}
        </p>
      ))}
      <Notice text={notice} />
      <ErrorBanner error={workers.error ?? orphans.error} />
      <table class="list" aria-label="workers">
        <thead>
          <tr>
            <th scope="col">Worker</th>
            <th scope="col">Host</th>
            <th scope="col">SDK</th>
            <th scope="col">Server</th>
            <th scope="col">Queues</th>
            <th scope="col">Slots</th>
            <th scope="col">Heartbeat</th>
            <th scope="col">Running</th>
            <th scope="col">State</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(workers.data?.workers ?? []).map((w) => (
            <tr key={w.id}>
              <td title={w.id}>{w.id}</td>
              <td>
                {w.host} (pid {w.pid})
              </td>
              <td>{w.sdk}</td>
              <td title={w.serverId}>{shortId(w.serverId)}</td>
              <td>{w.queues.join(", ")}</td>
              <td>
                {w.slotsInUse}/{w.slots}
              </td>
              <td>{ago(w.lastHeartbeatTime)}</td>
              <td>
                {w.running.map((r) => (
                  <a key={r.taskId} href={href("tasks", r.taskId)} title={`${r.type} attempt ${r.attempt}`} class="chip">
                    {shortId(r.taskId)}
                  </a>
                ))}
              </td>
              <td>{WorkerState[w.state]}</td>
              <td>
                <ActionButton
                  permission="fleet.act"
                  disabled={w.state !== WorkerState.CONNECTED}
                  label={`drain worker ${w.id}`}
                  onClick={async () => {
                    try {
                      await clients.admin.drainWorker({ id: w.id, reason: "drained from the dashboard" });
                      setNotice(`Worker ${w.id} is asked to drain.`);
                      workers.reload();
                    } catch (e) {
                      setNotice(errorText(e));
                    }
                  }}
                >
                  Drain
                </ActionButton>
              </td>
            </tr>
          ))}
          {workers.data && workers.data.workers.length === 0 && (
            <tr>
              <td colSpan={10} class="muted">
                No worker is connected.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
