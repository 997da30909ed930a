/**
 * One task: its typed input and output (decoded with the type's descriptors), the state
 * timeline with its attempts, each attempt's error with its stack, live progress from
 * StreamProgress, its live log, context and dependencies (`task-panels.tsx`), and the actions:
 * cancel, retry, clone and edit-and-retry through the typed form.
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { useEffect, useState } from "preact/hooks";
import { ErrorKind, TaskState, type Task } from "../../../gen/taskwire/v1/task_pb.js";
import { errorText } from "../api.js";
import { ActionButton, ErrorBanner, Notice, ProgressBar, ScreenHeader, StateBadge, useNotice } from "../components.js";
import { ago, formatDuration, formatMs, formatTime, isFinished, stateName } from "../format.js";
import { href } from "../hooks.js";
import { anyToJson, loadType, type TypeSchemas } from "../schemas.js";
import { useSession } from "../session.js";
import { SubmitForm } from "../submit-form.js";
import { TypedMessage } from "../typed-view.js";
import { ContextPanel, DependencyPanel, LogPanel, WhyPanel } from "./task-panels.js";

function TypedAny({ any, schemas, what }: { any: Task["input"]; schemas: TypeSchemas | undefined; what: string }) {
  if (any === undefined) return <p class="muted">No {what}.</p>;
  const decoded = schemas ? anyToJson(any, schemas.registry) : undefined;
  if (decoded === undefined) return <p class="muted">{any.typeUrl} ({any.value.byteLength} bytes; its descriptors are not known)</p>;
  return (
    <div data-testid={`task-${what}`}>
      <p class="field-type">{decoded.desc.typeName}</p>
      <TypedMessage desc={decoded.desc} json={decoded.json} />
    </div>
  );
}

/** Follows the task: GetStatus, then StreamProgress while it is unfinished (reconnecting after a drop). */
function useLiveTask(id: string): { task: Task | undefined; error: string | undefined; reload: () => void } {
  const { clients } = useSession();
  const [task, setTask] = useState<Task | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    const controller = new AbortController();
    const { signal } = controller;
    void (async () => {
      for (let attempt = 0; !signal.aborted; attempt++) {
        try {
          const current = (await clients.tasks.getStatus({ id }, { signal })).task;
          setTask(current);
          setError(undefined);
          if (!current || isFinished(current.state)) return;
          for await (const event of clients.tasks.streamProgress({ id }, { signal })) {
            setTask((old) => (old ? { ...old, state: event.state, attempt: event.attempt, progress: event.progress ?? old.progress, context: event.context ?? old.context } : old));
            if (isFinished(event.state)) break;
          }
          setTask((await clients.tasks.getStatus({ id }, { signal })).task);
          return;
        } catch (e) {
          if (signal.aborted) return;
          setError(errorText(e));
          await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 1000 * 2 ** attempt)));
        }
      }
    })();
    return () => controller.abort();
  }, [id, tick, clients]);
  return { task, error, reload: () => setTick((t) => t + 1) };
}

/** The Task screen. */
export function TaskScreen({ id }: { id: string }) {
  const { clients } = useSession();
  const { task, error, reload } = useLiveTask(id);
  const [schemas, setSchemas] = useState<TypeSchemas | undefined>();
  const [schemaError, setSchemaError] = useState<string | undefined>();
  const [form, setForm] = useState<"clone" | "edit" | undefined>();
  const [notice, setNotice] = useNotice();
  const type = task?.type;
  useEffect(() => {
    if (type === undefined) return;
    loadType(clients, type).then(setSchemas, (e: unknown) => setSchemaError(errorText(e)));
  }, [type, clients]);

  if (task === undefined) return <section>{error ? <ErrorBanner error={error} /> : <p>Loading task {id}…</p>}</section>;
  const finished = isFinished(task.state);
  const input = schemas ? anyToJson(task.input, schemas.registry) : undefined;
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title={`Task ${task.id}`}>
        <ActionButton permission="tasks.cancel" danger disabled={finished} label="cancel this task" onClick={async () => {
          try {
            await clients.tasks.cancel({ id: task.id, reason: "cancelled from the dashboard" });
            setNotice("Cancel sent.");
            reload();
          } catch (e) {
            setNotice(errorText(e));
          }
        }}>
          Cancel
        </ActionButton>
        <ActionButton permission="fleet.act" disabled={!finished || task.state === TaskState.SUCCEEDED} label="retry this task" onClick={async () => {
          try {
            const { retried } = await clients.admin.retryTasks({ ids: [task.id] });
            setNotice(retried > 0n ? "Put back to run." : "Not retried (only failed or cancelled tasks are).");
            reload();
          } catch (e) {
            setNotice(errorText(e));
          }
        }}>
          Retry
        </ActionButton>
        <ActionButton permission="tasks.submit" disabled={!schemas} label="clone this task" onClick={() => setForm(form === "clone" ? undefined : "clone")}>
          Clone
        </ActionButton>
        <ActionButton permission="tasks.submit" disabled={!schemas} label="edit the input and run again" onClick={() => setForm(form === "edit" ? undefined : "edit")}>
          Edit and retry
        </ActionButton>
      </ScreenHeader>
      <Notice text={notice} />
      <ErrorBanner error={error ?? schemaError} />
      <dl class="facts">
        <dt>State</dt>
        <dd>
          <StateBadge state={task.state} />
        </dd>
        <dt>Type</dt>
        <dd>
          <a href={href("types", task.type)}>{task.type}</a>
        </dd>
        <dt>Queue</dt>
        <dd>
          <a href={`${href("tasks")}?queue=${encodeURIComponent(task.queue)}`}>{task.queue}</a> (priority {task.priority})
        </dd>
        <dt>Attempt</dt>
        <dd>
          {task.attempt} of {task.maxAttempts}
        </dd>
        <dt>Worker</dt>
        <dd>{task.workerId || "—"}</dd>
        <dt>Created</dt>
        <dd>{formatTime(task.createTime)}</dd>
        <dt>Timeout</dt>
        <dd>{formatDuration(task.timeout)}</dd>
        {Object.keys(task.labels).length > 0 && (
          <>
            <dt>Labels</dt>
            <dd>
              {Object.entries(task.labels).map(([k, v]) => (
                <a class="label" key={k} href={`${href("tasks")}?label=${encodeURIComponent(`${k}=${v}`)}`}>
                  {k}={v}
                </a>
              ))}
            </dd>
          </>
        )}
      </dl>
      <h2>Progress</h2>
      {task.progress || !finished ? <ProgressBar progress={task.progress} /> : <p class="muted">No progress was reported.</p>}
      <WhyPanel task={task} />
      <DependencyPanel task={task} />
      {form && schemas && (
        <section class="panel" aria-label={form === "clone" ? "clone" : "edit and retry"}>
          <h2>{form === "clone" ? "Clone" : "Edit and retry"}</h2>
          <SubmitForm
            schemas={schemas}
            submitLabel={form === "clone" ? "Submit clone" : "Submit edited task"}
            defaults={{ input: input?.json, queue: task.queue, priority: task.priority, labels: form === "edit" ? { ...task.labels, "retry-of": task.id } : { ...task.labels } }}
            onSubmitted={(newId) => {
              setForm(undefined);
              location.hash = href("tasks", newId);
            }}
          />
        </section>
      )}
      <div class="two-columns">
        <section aria-label="input">
          <h2>Input</h2>
          <TypedAny any={task.input} schemas={schemas} what="input" />
        </section>
        <section aria-label="output">
          <h2>Output</h2>
          <TypedAny any={task.output} schemas={schemas} what="output" />
        </section>
      </div>
      <LogPanel task={task} />
      <ContextPanel context={task.context} />
      <h2>Timeline</h2>
      <ol class="timeline" aria-label="state timeline">
        {task.transitions.map((t, i) => {
          const next = task.transitions[i + 1];
          const lasted = next?.time && t.time ? timestampDate(next.time).getTime() - timestampDate(t.time).getTime() : undefined;
          return (
            <li key={i}>
              <StateBadge state={t.state} /> attempt {t.attempt} · {formatTime(t.time)} ({ago(t.time)}){lasted !== undefined ? ` · ${stateName(t.state).toLowerCase()} for ${formatMs(lasted)}` : ""}
            </li>
          );
        })}
      </ol>
      <h2>Attempt errors</h2>
      {task.errors.length === 0 ? (
        <p class="muted">None.</p>
      ) : (
        <ol class="errors">
          {task.errors.map((e, i) => (
            <li key={i}>
              <strong>
                Attempt {e.attempt}: {ErrorKind[e.kind]} {e.name}
              </strong>{" "}
              {e.message} <span class="muted">({e.retryable ? "retryable" : "not retryable"}, {e.workerId || "no worker"}, {formatTime(e.time)})</span>
              {e.stack && (
                <details>
                  <summary>Stack</summary>
                  <pre class="stack">{e.stack}</pre>
                </details>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
