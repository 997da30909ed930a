/**
 * A message shown as typed fields: each field of the descriptor with its name, type and value
 * (nested messages as nested tables, repeated fields as lists), from its protobuf JSON.
 */
import { ScalarType, type DescField, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { wellKnownKind } from "./schemas.js";

/** The type of a field as a schema shows it: `string`, `repeated Item`, `map<string, int32>`. */
export function fieldTypeName(field: DescField): string {
  const base = (kind: string, scalar?: ScalarType, name?: string): string => (kind === "scalar" ? ScalarType[scalar ?? 0]!.toLowerCase() : (name ?? kind));
  switch (field.fieldKind) {
    case "scalar":
      return base("scalar", field.scalar);
    case "enum":
      return field.enum.name;
    case "message":
      return field.message.typeName;
    case "list":
      return `repeated ${field.listKind === "scalar" ? base("scalar", field.scalar) : field.listKind === "enum" ? field.enum.name : field.message.typeName}`;
    case "map":
      return `map<${ScalarType[field.mapKey]!.toLowerCase()}, ${field.mapKind === "scalar" ? ScalarType[field.scalar]!.toLowerCase() : field.mapKind === "enum" ? field.enum.name : field.message.typeName}>`;
  }
}

function Scalar({ value }: { value: JsonValue | undefined }) {
  if (value === undefined || value === null) return <span class="muted">unset</span>;
  if (typeof value === "object") return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
  return <code>{String(value)}</code>;
}

function Value({ field, value, message }: { field: DescField; value: JsonValue | undefined; message?: DescMessage }) {
  if (value === undefined || value === null) return <span class="muted">unset</span>;
  if (field.fieldKind === "list" && Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">empty</span>;
    return (
      <ol class="typed-list">
        {value.map((item, i) => (
          <li key={i}>{field.listKind === "message" ? <TypedMessage desc={field.message} json={item} /> : <Scalar value={item} />}</li>
        ))}
      </ol>
    );
  }
  if (field.fieldKind === "map" && typeof value === "object" && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return <span class="muted">empty</span>;
    return (
      <dl class="typed-map">
        {entries.map(([key, item]) => [<dt key={`k${key}`}>{key}</dt>, <dd key={`v${key}`}>{field.mapKind === "message" ? <TypedMessage desc={field.message} json={item} /> : <Scalar value={item} />}</dd>])}
      </dl>
    );
  }
  if (message !== undefined) return <TypedMessage desc={message} json={value} />;
  return <Scalar value={value} />;
}

/** `json` (protobuf JSON of a `desc` message) as a table of typed fields. */
export function TypedMessage({ desc, json }: { desc: DescMessage; json: JsonValue }) {
  if (wellKnownKind(desc) !== undefined || json === null || typeof json !== "object" || Array.isArray(json)) return <Scalar value={json} />;
  const object = json as JsonObject;
  return (
    <table class="typed" aria-label={desc.typeName}>
      <tbody>
        {desc.fields.map((field) => (
          <tr key={field.number}>
            <th scope="row">
              {field.name}
              <span class="field-type">{fieldTypeName(field)}</span>
            </th>
            <td>
              <Value field={field} value={object[field.jsonName]} message={field.fieldKind === "message" ? field.message : undefined} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A message's schema: every field with its number, type and (for enums) values. */
export function SchemaView({ desc, depth = 0 }: { desc: DescMessage; depth?: number }) {
  const kind = wellKnownKind(desc);
  if (kind !== undefined) return <p class="muted">{desc.typeName} ({kind === "json" ? "free-form JSON" : kind})</p>;
  return (
    <table class="schema" aria-label={`fields of ${desc.typeName}`}>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">field</th>
          <th scope="col">type</th>
        </tr>
      </thead>
      <tbody>
        {desc.fields.map((field) => {
          const nested = field.fieldKind === "message" || (field.fieldKind === "list" && field.listKind === "message") ? field.message : undefined;
          const enumDesc = field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum") ? field.enum : undefined;
          return (
            <tr key={field.number}>
              <td>{field.number}</td>
              <td>
                {field.name}
                {field.oneof ? <span class="field-type">oneof {field.oneof.name}</span> : null}
              </td>
              <td>
                <code>{fieldTypeName(field)}</code>
                {enumDesc ? <span class="field-type">{enumDesc.values.map((v) => v.name).join(" | ")}</span> : null}
                {nested && depth < 3 && wellKnownKind(nested) === undefined && nested !== desc ? <SchemaView desc={nested} depth={depth + 1} /> : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
