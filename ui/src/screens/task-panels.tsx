/**
 * The Task screen's panels fed by their own RPCs: the live log (`StreamTaskLogs`: the stored
 * lines, then live ones until the task ends), the task's context (`Task.context`, kept across
 * retries), its parents and children (`parent_ids`, `ListTasks` by `parent_id`) as a small
 * graph, and why a waiting task is not running (`ExplainTask`).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { useEffect, useState } from "preact/hooks";
import { ParentFailurePolicy, TaskState, type Task } from "../../../gen/taskwire/v1/task_pb.js";
import { WaitReasonKind, type TaskLogLine } from "../../../gen/taskwire/v1/task_service_pb.js";
import { errorText } from "../api.js";
import { ErrorBanner, StateBadge } from "../components.js";
import { formatTime, isFinished, shortId } from "../format.js";
import { href, usePoll } from "../hooks.js";
import { useSession } from "../session.js";

/** Lines the page keeps (the newest); older ones stay on the server (`taskwire logs`). */
const KEPT_LINES = 2000;
const LEVELS = ["debug", "info", "warn", "error"] as const;

/** The task's log, followed live. */
export function LogPanel({ task }: { task: Task }) {
  const { clients } = useSession();
  const [lines, setLines] = useState<TaskLogLine[]>([]);
  const [dropped, setDropped] = useState(0n);
  const [minLevel, setMinLevel] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [live, setLive] = useState(false);
  useEffect(() => {
    const controller = new AbortController();
    setLines([]);
    setError(undefined);
    void (async () => {
      let after = 0n;
      for (let attempt = 0; !controller.signal.aborted; attempt++) {
        try {
          setLive(true);
          for await (const message of clients.tasks.streamTaskLogs({ id: task.id, minLevel, afterSequence: after }, { signal: controller.signal })) {
            if (message.lines.length > 0) {
              after = message.lines.at(-1)!.sequence;
              setLines((old) => [...old, ...message.lines].slice(-KEPT_LINES));
            }
            setDropped(message.droppedCount);
            attempt = 0;
          }
          setLive(false);
          return;
        } catch (e) {
          setLive(false);
          if (controller.signal.aborted) return;
          setError(errorText(e));
          await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * 2 ** attempt)));
        }
      }
    })();
    return () => controller.abort();
  }, [task.id, minLevel, clients]);
  return (
    <section aria-labelledby="logs-title">
      <h2 id="logs-title">
        Logs {live && !isFinished(task.state) ? <span class="badge state-running">LIVE</span> : null}
      </h2>
      <label>
        Level{" "}
        <select value={minLevel} onChange={(e) => setMinLevel(e.currentTarget.value)}>
          <option value="">all</option>
          {LEVELS.map((level) => (
            <option key={level} value={level}>
              {level} and above
            </option>
          ))}
        </select>
      </label>
      <ErrorBanner error={error} />
      {lines.length === 0 ? (
        <p class="muted">No log lines{isFinished(task.state) ? "" : " yet"}.</p>
      ) : (
        <ol class="logs" aria-label="log lines" data-testid="task-logs">
          {lines.map((line) => (
            <li key={String(line.sequence)} class={`log-${line.level}`}>
              <span class="muted">{formatTime(line.time)}</span> <span class="log-level">{line.level}</span> <span class="muted">#{line.attempt}</span> {line.message}
              {line.fields && Object.keys(line.fields).length > 0 ? <code class="log-fields">{JSON.stringify(line.fields)}</code> : null}
            </li>
          ))}
        </ol>
      )}
      {dropped > 0n && <p class="warning">{String(dropped)} lines were not stored (the task reached its log bound).</p>}
    </section>
  );
}

/** The task's context (JSON under dotted keys), as the last attempt saved it. */
export function ContextPanel({ context }: { context: JsonObject | undefined }) {
  const json = context;
  return (
    <section aria-labelledby="context-title">
      <h2 id="context-title">Context</h2>
      {json && Object.keys(json).length > 0 ? (
        <pre class="json" data-testid="task-context">
          {JSON.stringify(json, null, 2)}
        </pre>
      ) : (
        <p class="muted">No context set.</p>
      )}
    </section>
  );
}

function TaskNode({ task, current }: { task: Task; current?: boolean }) {
  return (
    <li class={current ? "node current" : "node"}>
      {current ? <strong title={task.id}>{shortId(task.id)}</strong> : <a href={href("tasks", task.id)} title={task.id}>{shortId(task.id)}</a>} <StateBadge state={task.state} />
      <small class="muted"> {task.type}</small>
    </li>
  );
}

/** Parents → this task → children. */
export function DependencyPanel({ task }: { task: Task }) {
  const { clients } = useSession();
  const parentKey = task.parentIds.join(",");
  const parents = usePoll(
    async (signal) => Promise.all(task.parentIds.map(async (id) => (await clients.tasks.getStatus({ id }, { signal })).task).map((p) => p.catch(() => undefined))),
    [parentKey],
    isFinished(task.state) ? 0 : 10_000,
  );
  const children = usePoll((signal) => (task.childrenCount > 0 ? clients.tasks.listTasks({ parentId: task.id, pageSize: 50 }, { signal }) : Promise.resolve(undefined)), [task.id, task.childrenCount], 10_000);
  if (task.parentIds.length === 0 && task.childrenCount === 0) return null;
  const shownParents = (parents.data ?? []).filter((p): p is Task => p !== undefined);
  return (
    <section aria-labelledby="graph-title">
      <h2 id="graph-title">Dependencies</h2>
      <ErrorBanner error={parents.error ?? children.error} />
      <div class="graph" role="group" aria-label="parents, this task, children">
        <div>
          <h3>Parents ({task.parentIds.length})</h3>
          <ul aria-label="parents">{shownParents.map((p) => <TaskNode key={p.id} task={p} />)}</ul>
          {task.parentIds.length > 0 && <small class="muted">on a failed parent: {task.onParentFailure === ParentFailurePolicy.RUN ? "run anyway" : "cancel"}</small>}
        </div>
        <span class="arrow" aria-hidden="true">→</span>
        <div>
          <h3>This task</h3>
          <ul>
            <TaskNode task={task} current />
          </ul>
        </div>
        <span class="arrow" aria-hidden="true">→</span>
        <div>
          <h3>Children ({task.childrenCount})</h3>
          <ul aria-label="children">{(children.data?.tasks ?? []).map((c) => <TaskNode key={c.id} task={c} />)}</ul>
          {task.childrenCount > 50 && <a href={`${href("tasks")}?parent=${task.id}`}>all children</a>}
        </div>
      </div>
    </section>
  );
}

/** Why a waiting task is not running (`ExplainTask`), refreshed while it waits. */
export function WhyPanel({ task }: { task: Task }) {
  const { clients } = useSession();
  const waiting = task.state === TaskState.QUEUED || task.state === TaskState.SCHEDULED || task.state === TaskState.WAITING;
  const explained = usePoll((signal) => (waiting ? clients.tasks.explainTask({ id: task.id }, { signal }) : Promise.resolve(undefined)), [task.id, waiting]);
  if (!waiting) return null;
  const reasons = explained.data?.reasons ?? [];
  return (
    <section aria-labelledby="why-title">
      <h2 id="why-title">Why it is not running</h2>
      <ErrorBanner error={explained.error} />
      {explained.data && reasons.length === 0 ? (
        <p class="muted">Nothing holds it back: it starts as soon as a worker takes it.</p>
      ) : (
        <ul class="reasons" data-testid="task-why">
          {reasons.map((reason, i) => (
            <li key={i} data-kind={WaitReasonKind[reason.kind]}>
              {reason.message}
              {reason.holders.length > 0 && (
                <span class="muted">
                  {" "}
                  (held by{" "}
                  {reason.holders.map((id) => (
                    <a key={id} class="chip" href={href("tasks", id)} title={id}>
                      {shortId(id)}
                    </a>
                  ))}
                  )
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
