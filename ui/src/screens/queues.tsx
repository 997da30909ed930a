/** Queues: depth by state, oldest wait, throughput, limits, paused; pause/resume, and purge after a confirmation with the count. */
import { useState } from "preact/hooks";
import { errorText } from "../api.js";
import { ActionButton, ConfirmDialog, ErrorBanner, Notice, ScreenHeader, useNotice, type Confirmation } from "../components.js";
import { ago, formatCount, formatDuration } from "../format.js";
import { href, usePoll } from "../hooks.js";
import { describeLimits, loadLimits } from "../limits.js";
import { useSession } from "../session.js";

/** The Queues screen. */
export function QueuesScreen() {
  const { clients } = useSession();
  const [notice, setNotice] = useNotice();
  const [confirmation, setConfirmation] = useState<Confirmation | undefined>();
  const queues = usePoll((signal) => clients.admin.listQueues({}, { signal }), []);
  const limits = usePoll((signal) => loadLimits(clients, signal), [], 30_000);
  const act = async (what: () => Promise<unknown>, done: string): Promise<void> => {
    try {
      await what();
      setNotice(done);
      queues.reload();
    } catch (e) {
      setNotice(errorText(e));
    }
  };
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title="Queues" />
      <Notice text={notice} />
      <ErrorBanner error={queues.error} />
      <table class="list" aria-label="queues">
        <thead>
          <tr>
            <th scope="col">Queue</th>
            <th scope="col">Scheduled</th>
            <th scope="col">Queued</th>
            <th scope="col">Running</th>
            <th scope="col">Oldest queued</th>
            <th scope="col">Last minute</th>
            <th scope="col">Last hour</th>
            <th scope="col">Workers</th>
            <th scope="col">Limits</th>
            <th scope="col">State</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(queues.data?.queues ?? []).map((q) => {
            const waiting = Number(q.queued + q.scheduled);
            return (
              <tr key={q.name} data-queue={q.name}>
                <td>
                  <a href={`${href("tasks")}?queue=${encodeURIComponent(q.name)}`}>{q.name}</a>
                </td>
                <td>{formatCount(q.scheduled)}</td>
                <td>{formatCount(q.queued)}</td>
                <td>{formatCount(q.running)}</td>
                <td>{formatDuration(q.oldestQueuedAge)}</td>
                <td>
                  {formatCount(q.succeededLastMinute)} ok / {formatCount(q.failedLastMinute)} failed
                </td>
                <td>
                  {formatCount(q.succeededLastHour)} ok / {formatCount(q.failedLastHour)} failed
                </td>
                <td>{q.workerIds.length}</td>
                <td>{describeLimits(limits.data?.queues.get(q.name))}</td>
                <td>{q.paused ? <span class="badge state-paused" title={`paused ${ago(q.pauseTime)}`}>PAUSED</span> : <span class="badge state-running">ACTIVE</span>}</td>
                <td class="row-actions">
                  {q.paused ? (
                    <ActionButton permission="fleet.act" label={`resume queue ${q.name}`} onClick={() => act(() => clients.admin.resumeQueue({ name: q.name }), `Queue ${q.name} resumed.`)}>
                      Resume
                    </ActionButton>
                  ) : (
                    <ActionButton permission="fleet.act" label={`pause queue ${q.name}`} onClick={() => act(() => clients.admin.pauseQueue({ name: q.name }), `Queue ${q.name} paused.`)}>
                      Pause
                    </ActionButton>
                  )}
                  <ActionButton
                    permission="fleet.act"
                    danger
                    disabled={waiting === 0}
                    label={`purge queue ${q.name}`}
                    onClick={() =>
                      setConfirmation({
                        title: `Purge ${q.name}`,
                        message: `Cancel the ${formatCount(waiting)} queued and scheduled tasks of queue ${q.name}? Running tasks go on.`,
                        confirm: `Purge ${formatCount(waiting)} tasks`,
                        run: async () => {
                          const { cancelled } = await clients.admin.purgeQueue({ name: q.name, reason: "purged from the dashboard" });
                          setNotice(`${cancelled} tasks of ${q.name} cancelled.`);
                          queues.reload();
                        },
                      })
                    }
                  >
                    Purge
                  </ActionButton>
                </td>
              </tr>
            );
          })}
          {queues.data && queues.data.queues.length === 0 && (
            <tr>
              <td colSpan={11} class="muted">
                No queue holds a task or has a worker.
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <ConfirmDialog confirmation={confirmation} onClose={() => setConfirmation(undefined)} />
    </section>
  );
}
