/**
 * Types: the catalog (ListTypes) and one type's page: its input and output schemas, defaults,
 * the workers serving it, and the typed submit form generated from its input message.
 */
import { useEffect, useState } from "preact/hooks";
import { errorText } from "../api.js";
import { ErrorBanner, ScreenHeader } from "../components.js";
import { ago, formatDuration, shortId } from "../format.js";
import { href, usePoll } from "../hooks.js";
import { loadType, type TypeSchemas } from "../schemas.js";
import { describeLimits, loadLimits } from "../limits.js";
import { useSession } from "../session.js";
import { SubmitForm } from "../submit-form.js";
import { SchemaView } from "../typed-view.js";

/** The catalog. */
export function TypesScreen() {
  const { clients } = useSession();
  const types = usePoll((signal) => clients.tasks.listTypes({}, { signal }), [], 15_000);
  const limits = usePoll((signal) => loadLimits(clients, signal), [], 30_000);
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title="Types" />
      <ErrorBanner error={types.error} />
      <table class="list" aria-label="task types">
        <thead>
          <tr>
            <th scope="col">Type</th>
            <th scope="col">Input</th>
            <th scope="col">Output</th>
            <th scope="col">Queue</th>
            <th scope="col">Workers</th>
            <th scope="col">Limits</th>
            <th scope="col">Declared</th>
          </tr>
        </thead>
        <tbody>
          {(types.data?.types ?? []).map((t) => (
            <tr key={t.name}>
              <td>
                <a href={href("types", t.name)}>{t.name}</a>
                {t.description && <small class="muted"> {t.description}</small>}
              </td>
              <td>
                <code>{t.inputType}</code>
              </td>
              <td>
                <code>{t.outputType}</code>
              </td>
              <td>{t.defaults?.queue || "by priority"}</td>
              <td class={t.workerCount === 0 ? "warning-cell" : undefined}>{t.workerCount}</td>
              <td>{describeLimits(limits.data?.types.get(t.name))}</td>
              <td>{ago(t.updateTime)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** One type: schemas, defaults, workers, submit form. */
export function TypeScreen({ name }: { name: string }) {
  const { clients } = useSession();
  const [schemas, setSchemas] = useState<TypeSchemas | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    setSchemas(undefined);
    loadType(clients, name).then(setSchemas, (e: unknown) => setError(errorText(e)));
  }, [name, clients]);
  const workers = usePoll(async (signal) => (await clients.admin.listWorkers({}, { signal })).workers.filter((w) => w.types.includes(name)), [name], 15_000);
  const d = schemas?.type.defaults;
  return (
    <section aria-labelledby="screen-title">
      <ScreenHeader title={`Type ${name}`} />
      <ErrorBanner error={error ?? workers.error} />
      {schemas && (
        <>
          {schemas.type.description && <p>{schemas.type.description}</p>}
          <dl class="facts" aria-label="defaults">
            <dt>Queue</dt>
            <dd>{d?.queue || "by priority"}</dd>
            <dt>Priority</dt>
            <dd>{d?.priority ?? 0}</dd>
            <dt>Timeout</dt>
            <dd>{formatDuration(d?.timeout)}</dd>
            <dt>Max attempts</dt>
            <dd>{d?.maxAttempts ?? "—"}</dd>
            <dt>Back-off</dt>
            <dd>{d?.backoff ? `${formatDuration(d.backoff.initial)} × ${d.backoff.multiplier} up to ${formatDuration(d.backoff.max)}` : "—"}</dd>
            <dt>Retention</dt>
            <dd>{d?.retention ? formatDuration(d.retention) : "server default"}</dd>
            <dt>Owner</dt>
            <dd>{schemas.type.owner || "—"}</dd>
          </dl>
          <h2>Workers serving it</h2>
          {(workers.data ?? []).length === 0 ? (
            <p class="warning">No connected worker serves {name}: its tasks wait.</p>
          ) : (
            <ul>
              {(workers.data ?? []).map((w) => (
                <li key={w.id}>
                  {w.id} on {w.host} ({w.slotsInUse}/{w.slots} slots, server {shortId(w.serverId)})
                </li>
              ))}
            </ul>
          )}
          <div class="two-columns">
            <section aria-label="input schema">
              <h2>Input: {schemas.type.inputType}</h2>
              {schemas.input ? <SchemaView desc={schemas.input} /> : <p class="error">Not in the descriptors.</p>}
            </section>
            <section aria-label="output schema">
              <h2>Output: {schemas.type.outputType}</h2>
              {schemas.output ? <SchemaView desc={schemas.output} /> : <p class="error">Not in the descriptors.</p>}
            </section>
          </div>
          <h2>Submit</h2>
          <SubmitForm schemas={schemas} onSubmitted={(id) => (location.hash = href("tasks", id))} />
        </>
      )}
    </section>
  );
}
