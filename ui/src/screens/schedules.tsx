/** Schedules: next and last fires, the last fired task's state; pause/resume and trigger now. */
import { errorText } from "../api.js";
import { ActionButton, ErrorBanner, Notice, ScreenHeader, StateBadge, useNotice } from "../components.js";
import { ago, formatDuration, formatTime, shortId } from "../format.js";
import { href, usePoll } from "../hooks.js";
import { useSession } from "../session.js";

/** The Schedules screen. */
export function SchedulesScreen() {
  const { clients } = useSession();
  const [notice, setNotice] = useNotice();
  const schedules = usePoll((signal) => clients.schedules.listSchedules({ pageSize: 500 }, { signal }), []);
  const act = async (what: () => Promise<unknown>, done: string): Promise<void> => {
    try {
      await what();
      setNotice(done);
      schedules.reload();
    } catch (e) {
      setNotice(errorText(e));
    }
  };
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title="Schedules" />
      <Notice text={notice} />
      <ErrorBanner error={schedules.error} />
      <table class="list" aria-label="schedules">
        <thead>
          <tr>
            <th scope="col">Schedule</th>
            <th scope="col">Type</th>
            <th scope="col">When</th>
            <th scope="col">Next fire</th>
            <th scope="col">Last fire</th>
            <th scope="col">Last task</th>
            <th scope="col">State</th>
            <th scope="col">
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {(schedules.data?.schedules ?? []).map((s) => {
            const spec = s.definition?.spec;
            const when = spec?.kind.case === "cron" ? `cron ${spec.kind.value}${spec.timeZone ? ` (${spec.timeZone})` : " (UTC)"}` : spec?.kind.case === "interval" ? `every ${formatDuration(spec.kind.value)}` : "—";
            return (
              <tr key={s.id}>
                <td>{s.id}</td>
                <td>
                  <a href={href("types", s.definition?.task?.type ?? "")}>{s.definition?.task?.type}</a>
                </td>
                <td>{when}</td>
                <td>{s.nextFireTimes[0] ? `${formatTime(s.nextFireTimes[0])} (${ago(s.nextFireTimes[0])})` : "—"}</td>
                <td>{s.lastFireTime ? `${formatTime(s.lastFireTime)} (${ago(s.lastFireTime)})` : "never"}</td>
                <td>
                  {s.lastTaskId ? (
                    <>
                      <a href={href("tasks", s.lastTaskId)} title={s.lastTaskId}>
                        {shortId(s.lastTaskId)}
                      </a>{" "}
                      {s.lastTaskState ? <StateBadge state={s.lastTaskState} /> : null}
                    </>
                  ) : (
                    "—"
                  )}
                  {s.lastError && <span class="error-inline">{s.lastError}</span>}
                </td>
                <td>{s.paused ? <span class="badge state-paused">PAUSED</span> : <span class="badge state-running">ACTIVE</span>}</td>
                <td class="row-actions">
                  {s.paused ? (
                    <ActionButton permission="fleet.act" label={`resume schedule ${s.id}`} onClick={() => act(() => clients.schedules.resumeSchedule({ id: s.id }), `Schedule ${s.id} resumed.`)}>
                      Resume
                    </ActionButton>
                  ) : (
                    <ActionButton permission="fleet.act" label={`pause schedule ${s.id}`} onClick={() => act(() => clients.schedules.pauseSchedule({ id: s.id }), `Schedule ${s.id} paused.`)}>
                      Pause
                    </ActionButton>
                  )}
                  <ActionButton permission="fleet.act" label={`trigger schedule ${s.id} now`} onClick={() => act(() => clients.schedules.triggerSchedule({ id: s.id }), `Schedule ${s.id} fired.`)}>
                    Trigger now
                  </ActionButton>
                </td>
              </tr>
            );
          })}
          {schedules.data && schedules.data.schedules.length === 0 && (
            <tr>
              <td colSpan={8} class="muted">
                No schedule.
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
