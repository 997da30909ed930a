/**
 * A form generated from a message descriptor: an editor per field (text, numbers, checkboxes,
 * enum selects, nested fieldsets, repeated and map fields with add and remove, a choice per
 * oneof, and the well-known types as one value: times, durations, JSON for Struct/Value/Any,
 * wrappers as their scalar). The form's value is the message's protobuf JSON; errors are shown
 * at the field whose path (`input.items[0].name`) they name.
 */
import { ScalarType, type DescEnum, type DescField, type DescMessage, type DescOneof, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { wellKnownKind } from "./schemas.js";
import { fieldTypeName } from "./typed-view.js";

/** Field paths to error messages. */
export type FieldErrors = ReadonlyMap<string, string>;

interface EditorProps<T> {
  path: string;
  value: T | undefined;
  onChange: (value: T | undefined) => void;
  errors: FieldErrors;
  label: string;
}

const idOf = (path: string): string => `f-${path.replace(/[^A-Za-z0-9_-]/g, "_")}`;

function FieldError({ path, errors }: { path: string; errors: FieldErrors }) {
  const message = errors.get(path);
  if (message === undefined) return null;
  return (
    <span class="field-error" id={`${idOf(path)}-error`} role="alert">
      {message}
    </span>
  );
}

const SIXTY_FOUR = new Set([ScalarType.INT64, ScalarType.UINT64, ScalarType.SINT64, ScalarType.FIXED64, ScalarType.SFIXED64]);
const NUMBERS = new Set([ScalarType.INT32, ScalarType.UINT32, ScalarType.SINT32, ScalarType.FIXED32, ScalarType.SFIXED32, ScalarType.DOUBLE, ScalarType.FLOAT]);

function ScalarInput({ scalar, path, value, onChange, errors, label }: EditorProps<JsonValue> & { scalar: ScalarType }) {
  const id = idOf(path);
  const described = errors.has(path) ? `${id}-error` : undefined;
  if (scalar === ScalarType.BOOL) {
    return (
      <input id={id} type="checkbox" aria-label={label} aria-describedby={described} checked={value === true} onChange={(e) => onChange((e.currentTarget as HTMLInputElement).checked || undefined)} />
    );
  }
  const numeric = NUMBERS.has(scalar);
  const integer = numeric && scalar !== ScalarType.DOUBLE && scalar !== ScalarType.FLOAT;
  const common = {
    id,
    "aria-label": label,
    "aria-invalid": errors.has(path) || undefined,
    "aria-describedby": described,
    value: value === undefined || value === null ? "" : String(value),
    onInput: (e: Event) => {
      const text = (e.currentTarget as HTMLInputElement).value;
      if (text === "") onChange(undefined);
      else onChange(numeric ? Number(text) : text);
    },
  };
  if (numeric) return <input type="number" step={integer ? 1 : "any"} {...common} />;
  return <input type="text" inputMode={SIXTY_FOUR.has(scalar) ? "numeric" : undefined} placeholder={scalar === ScalarType.BYTES ? "base64" : SIXTY_FOUR.has(scalar) ? "integer" : undefined} {...common} />;
}

function EnumSelect({ desc, path, value, onChange, label }: EditorProps<JsonValue> & { desc: DescEnum }) {
  return (
    <select id={idOf(path)} aria-label={label} value={typeof value === "string" ? value : (desc.values[0]?.name ?? "")} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value)}>
      {desc.values.map((v) => (
        <option key={v.number} value={v.name}>
          {v.name}
        </option>
      ))}
    </select>
  );
}

/** `2026-12-04T18:30` (local) ↔ RFC 3339 (UTC). */
function toLocalInput(value: JsonValue | undefined): string {
  if (typeof value !== "string") return "";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

function JsonArea({ path, value, onChange, errors, label }: EditorProps<JsonValue>) {
  const id = idOf(path);
  return (
    <textarea
      id={id}
      rows={4}
      aria-label={label}
      aria-invalid={errors.has(path) || undefined}
      spellcheck={false}
      placeholder="JSON"
      defaultValue={value === undefined ? "" : JSON.stringify(value, null, 2)}
      onInput={(e) => {
        const text = (e.currentTarget as HTMLTextAreaElement).value.trim();
        if (text === "") return onChange(undefined);
        try {
          onChange(JSON.parse(text) as JsonValue);
          (e.currentTarget as HTMLTextAreaElement).setCustomValidity("");
        } catch {
          (e.currentTarget as HTMLTextAreaElement).setCustomValidity("not valid JSON");
        }
      }}
    />
  );
}

function WellKnownInput(props: EditorProps<JsonValue> & { desc: DescMessage }) {
  const { desc, path, value, onChange, label } = props;
  switch (wellKnownKind(desc)) {
    case "timestamp":
      return (
        <input
          id={idOf(path)}
          type="datetime-local"
          step={1}
          aria-label={label}
          value={toLocalInput(value)}
          onInput={(e) => {
            const text = (e.currentTarget as HTMLInputElement).value;
            onChange(text === "" ? undefined : new Date(text).toISOString());
          }}
        />
      );
    case "duration":
    case "fieldmask":
      return <ScalarInput {...props} scalar={ScalarType.STRING} />;
    case "wrapper": {
      const inner = desc.fields[0];
      return inner?.fieldKind === "scalar" ? <ScalarInput {...props} scalar={inner.scalar} /> : null;
    }
    case "empty":
      return <span class="muted">no fields</span>;
    default:
      return <JsonArea {...props} />;
  }
}

function ListEditor({ field, path, value, onChange, errors, label }: EditorProps<JsonValue[]> & { field: DescField & { fieldKind: "list" } }) {
  const items = value ?? [];
  const set = (i: number, item: JsonValue | undefined): void => onChange(items.map((old, j) => (j === i ? (item ?? null) : old)));
  return (
    <div class="list-editor">
      {items.map((item, i) => {
        const itemPath = `${path}[${i}]`;
        const itemLabel = `${label} item ${i + 1}`;
        return (
          <div class="list-item" key={i}>
            {field.listKind === "message" ? (
              <MessageEditor desc={field.message} path={itemPath} value={item ?? undefined} onChange={(v) => set(i, v)} errors={errors} label={itemLabel} />
            ) : field.listKind === "enum" ? (
              <EnumSelect desc={field.enum} path={itemPath} value={item} onChange={(v) => set(i, v)} errors={errors} label={itemLabel} />
            ) : (
              <ScalarInput scalar={field.scalar} path={itemPath} value={item} onChange={(v) => set(i, v)} errors={errors} label={itemLabel} />
            )}
            <button type="button" class="small" aria-label={`remove ${itemLabel}`} onClick={() => onChange(items.filter((_, j) => j !== i))}>
              Remove
            </button>
            <FieldError path={itemPath} errors={errors} />
          </div>
        );
      })}
      <button
        type="button"
        class="small"
        aria-label={`add to ${label}`}
        onClick={() => onChange([...items, field.listKind === "message" ? {} : field.listKind === "enum" ? (field.enum.values[0]?.name ?? 0) : field.scalar === ScalarType.BOOL ? false : ""])}
      >
        Add
      </button>
    </div>
  );
}

function MapEditor({ field, path, value, onChange, errors, label }: EditorProps<JsonObject> & { field: DescField & { fieldKind: "map" } }) {
  const entries = Object.entries(value ?? {});
  const write = (next: [string, JsonValue][]): void => onChange(next.length === 0 ? undefined : Object.fromEntries(next));
  return (
    <div class="list-editor">
      {entries.map(([key, item], i) => {
        const entryPath = `${path}[${key}]`;
        return (
          <div class="list-item" key={i}>
            <input aria-label={`${label} key ${i + 1}`} value={key} onInput={(e) => write(entries.map((old, j) => (j === i ? [(e.currentTarget as HTMLInputElement).value, old[1]] : old)))} />
            {field.mapKind === "message" ? (
              <MessageEditor desc={field.message} path={entryPath} value={item} onChange={(v) => write(entries.map((old, j) => (j === i ? [key, v ?? {}] : old)))} errors={errors} label={`${label} ${key}`} />
            ) : field.mapKind === "enum" ? (
              <EnumSelect desc={field.enum} path={entryPath} value={item} onChange={(v) => write(entries.map((old, j) => (j === i ? [key, v ?? null] : old)))} errors={errors} label={`${label} ${key}`} />
            ) : (
              <ScalarInput scalar={field.scalar} path={entryPath} value={item} onChange={(v) => write(entries.map((old, j) => (j === i ? [key, v ?? ""] : old)))} errors={errors} label={`${label} value ${i + 1}`} />
            )}
            <button type="button" class="small" aria-label={`remove ${label} entry ${i + 1}`} onClick={() => write(entries.filter((_, j) => j !== i))}>
              Remove
            </button>
          </div>
        );
      })}
      <button type="button" class="small" aria-label={`add to ${label}`} onClick={() => write([...entries, [`key${entries.length + 1}`, field.mapKind === "message" ? {} : ""]])}>
        Add
      </button>
    </div>
  );
}

function FieldEditor({ field, path, value, onChange, errors }: Omit<EditorProps<JsonValue>, "label"> & { field: DescField }) {
  const label = field.name;
  const id = idOf(path);
  let editor;
  switch (field.fieldKind) {
    case "scalar":
      editor = <ScalarInput scalar={field.scalar} path={path} value={value} onChange={onChange} errors={errors} label={label} />;
      break;
    case "enum":
      editor = <EnumSelect desc={field.enum} path={path} value={value} onChange={onChange} errors={errors} label={label} />;
      break;
    case "message":
      editor = <MessageEditor desc={field.message} path={path} value={value} onChange={onChange} errors={errors} label={label} />;
      break;
    case "list":
      editor = <ListEditor field={field} path={path} value={Array.isArray(value) ? value : undefined} onChange={onChange} errors={errors} label={label} />;
      break;
    case "map":
      editor = <MapEditor field={field} path={path} value={value && typeof value === "object" && !Array.isArray(value) ? value : undefined} onChange={onChange} errors={errors} label={label} />;
      break;
  }
  return (
    <div class="field" data-field={path}>
      <label for={id}>
        {field.name} <span class="field-type">{fieldTypeName(field)}</span>
      </label>
      {editor}
      <FieldError path={path} errors={errors} />
    </div>
  );
}

function OneofEditor({ oneof, path, value, onChange, errors }: { oneof: DescOneof; path: string; value: JsonObject; onChange: (v: JsonObject) => void; errors: FieldErrors }) {
  const chosen = oneof.fields.find((f) => value[f.jsonName] !== undefined);
  const without = (): JsonObject => Object.fromEntries(Object.entries(value).filter(([k]) => !oneof.fields.some((f) => f.jsonName === k)));
  return (
    <fieldset class="oneof">
      <legend>
        <label for={idOf(`${path}.${oneof.name}`)}>{oneof.name} (one of)</label>
      </legend>
      <select
        id={idOf(`${path}.${oneof.name}`)}
        value={chosen?.jsonName ?? ""}
        onChange={(e) => {
          const name = (e.currentTarget as HTMLSelectElement).value;
          const field = oneof.fields.find((f) => f.jsonName === name);
          onChange(field ? { ...without(), [name]: field.fieldKind === "message" ? {} : field.fieldKind === "scalar" && field.scalar === ScalarType.BOOL ? false : "" } : without());
        }}
      >
        <option value="">none</option>
        {oneof.fields.map((f) => (
          <option key={f.number} value={f.jsonName}>
            {f.name}
          </option>
        ))}
      </select>
      {chosen && <FieldEditor field={chosen} path={`${path}.${chosen.name}`} value={value[chosen.jsonName]} onChange={(v) => onChange(v === undefined ? without() : { ...value, [chosen.jsonName]: v })} errors={errors} />}
    </fieldset>
  );
}

/** An editor of a `desc` message whose value is its protobuf JSON; see the file header. */
export function MessageEditor({ desc, path, value, onChange, errors, label }: EditorProps<JsonValue> & { desc: DescMessage }) {
  if (wellKnownKind(desc) !== undefined) return <WellKnownInput desc={desc} path={path} value={value} onChange={onChange} errors={errors} label={label} />;
  const object: JsonObject = value !== null && typeof value === "object" && !Array.isArray(value) ? value : {};
  const set = (field: DescField, v: JsonValue | undefined): void => {
    const next: JsonObject = { ...object };
    if (v === undefined) delete next[field.jsonName];
    else next[field.jsonName] = v;
    onChange(next);
  };
  const shownOneofs = new Set<DescOneof>();
  return (
    <fieldset class="message" aria-label={label}>
      <legend>{desc.name}</legend>
      {desc.fields.map((field) => {
        const oneof = field.oneof;
        if (oneof !== undefined && field.proto.proto3Optional !== true) {
          if (shownOneofs.has(oneof)) return null;
          shownOneofs.add(oneof);
          return <OneofEditor key={`o${oneof.name}`} oneof={oneof} path={path} value={object} onChange={onChange} errors={errors} />;
        }
        return <FieldEditor key={field.number} field={field} path={`${path}.${field.name}`} value={object[field.jsonName]} onChange={(v) => set(field, v)} errors={errors} />;
      })}
    </fieldset>
  );
}
