/**
 * Submitting a task of a type through its generated form: the input message (`MessageEditor`)
 * and the submission's options (queue, priority, delay, timeout, attempts, labels, idempotency
 * key). Used by the Types screen (submit), and by the Task screen (clone, edit and retry: the
 * form starts from the task's input and options). The server's field errors are shown at the
 * fields they name.
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { anyPack, durationFromMs } from "@bufbuild/protobuf/wkt";
import { useState } from "preact/hooks";
import type { SubmitRequest } from "../../gen/taskwire/v1/task_service_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { SubmitRequestSchema } from "../../gen/taskwire/v1/task_service_pb.js";
import { errorText, fieldErrors } from "./api.js";
import { ErrorBanner } from "./components.js";
import { href } from "./hooks.js";
import type { TypeSchemas } from "./schemas.js";
import { useSession } from "./session.js";
import { MessageEditor, type FieldErrors } from "./typed-form.js";

/** Where the form starts. */
export interface SubmitDefaults {
  input?: JsonValue;
  queue?: string;
  priority?: number;
  labels?: Record<string, string>;
}

const SECONDS = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/;

/** `"30s"`, `"1.5m"`, `"250ms"`, `"2h"` → ms; NaN when malformed. */
function parseDurationText(text: string): number {
  const match = SECONDS.exec(text);
  if (!match) return Number.NaN;
  const n = Number(match[1]);
  const unit = match[2] ?? "s";
  return n * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000);
}

function OptionField(props: { name: string; label: string; errors: FieldErrors; children: preact.ComponentChildren }) {
  const message = props.errors.get(props.name);
  return (
    <div class="field" data-field={props.name}>
      <label for={`opt-${props.name}`}>{props.label}</label>
      {props.children}
      {message && (
        <span class="field-error" role="alert" id={`opt-${props.name}-error`}>
          {message}
        </span>
      )}
    </div>
  );
}

/** The form; `onSubmitted` gets the new task's id. */
export function SubmitForm({ schemas, defaults, submitLabel = "Submit", onSubmitted }: { schemas: TypeSchemas; defaults?: SubmitDefaults; submitLabel?: string; onSubmitted: (id: string) => void }) {
  const session = useSession();
  const { type, input: inputDesc, registry } = schemas;
  const [input, setInput] = useState<JsonValue | undefined>(defaults?.input);
  const [queue, setQueue] = useState(defaults?.queue ?? "");
  const [priority, setPriority] = useState(defaults?.priority === undefined ? "" : String(defaults.priority));
  const [delay, setDelay] = useState("");
  const [timeout, setTimeoutText] = useState("");
  const [maxAttempts, setMaxAttempts] = useState("");
  const [labels, setLabels] = useState(Object.entries(defaults?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join("\n"));
  const [idempotencyKey, setIdempotencyKey] = useState("");
  const [errors, setErrors] = useState<FieldErrors>(new Map());
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const allowed = session.may("tasks.submit");

  if (inputDesc === undefined) return <p class="error">The descriptors of {type.inputType} are missing; this type cannot be submitted from the dashboard.</p>;

  const build = (): MessageInitShape<typeof SubmitRequestSchema> => {
    const local = new Map<string, string>();
    let message;
    try {
      message = fromJson(inputDesc, input ?? {}, { registry });
    } catch (e) {
      local.set("input", e instanceof Error ? e.message : String(e));
    }
    const request: MessageInitShape<typeof SubmitRequestSchema> = { type: type.name, queue: queue.trim(), idempotencyKey };
    if (priority.trim() !== "") request.priority = Number(priority);
    if (maxAttempts.trim() !== "") request.maxAttempts = Number(maxAttempts);
    const duration = (text: string, field: string) => {
      if (text.trim() === "") return undefined;
      const ms = parseDurationText(text);
      if (Number.isNaN(ms)) {
        local.set(field, "a duration like 30s, 5m, 250ms or 2h");
        return undefined;
      }
      return durationFromMs(ms);
    };
    const delayValue = duration(delay, "delay");
    if (delayValue) request.schedule = { case: "delay", value: delayValue };
    request.timeout = duration(timeout, "timeout");
    const labelMap: Record<string, string> = {};
    for (const line of labels.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf("=");
      if (at <= 0) local.set("labels", `"${line}" is not key=value`);
      else labelMap[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    request.labels = labelMap;
    if (local.size > 0) throw Object.assign(new Error("the form has errors"), { fields: local });
    request.input = anyPack(inputDesc, message!);
    return request;
  };

  const onSubmit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setError(undefined);
    setErrors(new Map());
    let request;
    try {
      request = build();
    } catch (e) {
      setErrors((e as { fields?: Map<string, string> }).fields ?? new Map());
      setError("Some fields are not valid.");
      return;
    }
    setBusy(true);
    try {
      const response = await session.clients.tasks.submit(request as SubmitRequest);
      if (response.task) onSubmitted(response.task.id);
    } catch (e) {
      const fields = fieldErrors(e);
      setErrors(fields);
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="submit-form" onSubmit={(e) => void onSubmit(e)} aria-label={`submit ${type.name}`} noValidate>
      <ErrorBanner error={error} />
      <section aria-label="input">
        <h3>Input ({type.inputType})</h3>
        {errors.get("input") && (
          <p class="field-error" role="alert" data-field="input">
            {errors.get("input")}
          </p>
        )}
        <MessageEditor desc={inputDesc} path="input" value={input} onChange={setInput} errors={errors} label="input" />
      </section>
      <details class="options" open={defaults !== undefined || errors.size > 0}>
        <summary>Options</summary>
        <OptionField name="queue" label="Queue" errors={errors}>
          <input id="opt-queue" value={queue} placeholder={type.defaults?.queue || "default"} onInput={(e) => setQueue(e.currentTarget.value)} aria-invalid={errors.has("queue") || undefined} />
        </OptionField>
        <OptionField name="priority" label="Priority" errors={errors}>
          <input id="opt-priority" type="number" step={1} value={priority} placeholder={String(type.defaults?.priority ?? 0)} onInput={(e) => setPriority(e.currentTarget.value)} />
        </OptionField>
        <OptionField name="delay" label="Delay" errors={errors}>
          <input id="opt-delay" value={delay} placeholder="e.g. 30s" onInput={(e) => setDelay(e.currentTarget.value)} />
        </OptionField>
        <OptionField name="timeout" label="Timeout" errors={errors}>
          <input id="opt-timeout" value={timeout} placeholder="type default" onInput={(e) => setTimeoutText(e.currentTarget.value)} />
        </OptionField>
        <OptionField name="max_attempts" label="Max attempts" errors={errors}>
          <input id="opt-max_attempts" type="number" step={1} value={maxAttempts} placeholder={String(type.defaults?.maxAttempts ?? "")} onInput={(e) => setMaxAttempts(e.currentTarget.value)} />
        </OptionField>
        <OptionField name="labels" label="Labels (key=value per line)" errors={errors}>
          <textarea id="opt-labels" rows={2} value={labels} onInput={(e) => setLabels(e.currentTarget.value)} />
        </OptionField>
        <OptionField name="idempotency_key" label="Idempotency key" errors={errors}>
          <input id="opt-idempotency_key" value={idempotencyKey} onInput={(e) => setIdempotencyKey(e.currentTarget.value)} />
        </OptionField>
      </details>
      {[...errors].filter(([field]) => field.startsWith("labels[")).map(([field, message]) => (
        <p class="field-error" role="alert" key={field}>
          {field}: {message}
        </p>
      ))}
      <button type="submit" class="primary" disabled={!allowed || busy} title={allowed ? undefined : "Needs a key with tasks.submit (an admin key)"} data-permission="tasks.submit">
        {submitLabel}
      </button>{" "}
      <a href={href("types", type.name)}>Type {type.name}</a>
    </form>
  );
}
