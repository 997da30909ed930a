/**
 * Finds numbers JSON cannot hold in a task input: a `google.protobuf.Value` (the numbers of a
 * `google.protobuf.Struct`, free-form JSON) that is NaN or ±Infinity. Such an input decodes as
 * protobuf, but the task could never be shown as JSON (Connect/JSON, `buf curl`, the CLI, the
 * browser dashboard): protobuf's JSON mapping of `Value` refuses non-finite numbers. `double` and
 * `float` fields of typed messages are not concerned: their JSON mapping writes `"NaN"`,
 * `"Infinity"` and `"-Infinity"`.
 *
 * The walk reads the wire format guided by the descriptor, so it works the same for every
 * message, whatever its generated representation. Keep in line with the README's "Limits".
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

const VALUE = "google.protobuf.Value";
const STRUCT = "google.protobuf.Struct";
const LIST_VALUE = "google.protobuf.ListValue";
/** `google.protobuf.Value.number_value`. */
const NUMBER_VALUE = 2;

/**
 * The path of the first non-finite `google.protobuf.Value` number in `bytes`, a message of
 * `desc`, like `input.scores[2]` or `input.limits["max"]`; undefined when there is none.
 * `bytes` must already be known to decode as `desc` (which bounds the nesting depth).
 * @param path the name of the message in the path (the request field, like `input`).
 */
export function nonFiniteNumberPath(desc: DescMessage, bytes: Uint8Array, path: string): string | undefined {
  if (!mayHoldValue(desc)) return undefined;
  const reader = new BinaryReader(bytes);
  const counts = new Map<number, number>();
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (desc.typeName === VALUE && number === NUMBER_VALUE && wireType === WireType.Bit64) {
      if (!Number.isFinite(reader.double())) return path;
      continue;
    }
    const field = desc.fields.find((f) => f.number === number);
    const inner = field && wireType === WireType.LengthDelimited ? messageOf(field) : undefined;
    if (!field || !inner || !mayHoldValue(inner)) {
      reader.skip(wireType, number);
      continue;
    }
    const index = counts.get(number) ?? 0;
    counts.set(number, index + 1);
    const found =
      field.fieldKind === "map"
        ? inMapEntry(field, inner, reader.bytes(), path)
        : nonFiniteNumberPath(inner, reader.bytes(), stepInto(desc, field, path, index));
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The message type a field holds (singular, repeated or as map value), if any. */
function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "message") return field.message;
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  if (field.fieldKind === "map" && field.mapKind === "message") return field.message;
  return undefined;
}

/** Paths read as JSON inside `Value` and `ListValue`: a `Value` adds no step, a list item is `[i]`. */
function stepInto(desc: DescMessage, field: DescField, path: string, index: number): string {
  if (desc.typeName === VALUE) return path;
  if (desc.typeName === LIST_VALUE) return `${path}[${index}]`;
  return field.fieldKind === "list" ? `${path}.${field.name}[${index}]` : `${path}.${field.name}`;
}

/** Looks into one map entry (key = 1, value = 2); a Struct's keys read as JSON members. */
function inMapEntry(field: Extract<DescField, { fieldKind: "map" }>, value: DescMessage, bytes: Uint8Array, path: string): string | undefined {
  const reader = new BinaryReader(bytes);
  let key = "";
  let valueBytes: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    if (number === 1) key = readKey(reader, field.mapKey);
    else if (number === 2 && wireType === WireType.LengthDelimited) valueBytes = reader.bytes();
    else reader.skip(wireType, number);
  }
  if (valueBytes === undefined) return undefined;
  const member = field.parent.typeName === STRUCT && /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  const prefix = field.parent.typeName === STRUCT ? path : `${path}.${field.name}`;
  return nonFiniteNumberPath(value, valueBytes, `${prefix}${member}`);
}

function readKey(reader: BinaryReader, type: ScalarType): string {
  switch (type) {
    case ScalarType.STRING:
      return reader.string();
    case ScalarType.BOOL:
      return String(reader.bool());
    case ScalarType.FIXED32:
      return String(reader.fixed32());
    case ScalarType.SFIXED32:
      return String(reader.sfixed32());
    case ScalarType.FIXED64:
      return String(reader.fixed64());
    case ScalarType.SFIXED64:
      return String(reader.sfixed64());
    case ScalarType.SINT32:
      return String(reader.sint32());
    case ScalarType.SINT64:
      return String(reader.sint64());
    case ScalarType.UINT32:
      return String(reader.uint32());
    case ScalarType.UINT64:
      return String(reader.uint64());
    default:
      return String(reader.int64());
  }
}

const holdsValue = new WeakMap<DescMessage, boolean>();

/** True when a message of `desc` can contain a `google.protobuf.Value` (at any depth). */
function mayHoldValue(desc: DescMessage): boolean {
  let known = holdsValue.get(desc);
  if (known === undefined) {
    known = reaches(desc, new Set());
    holdsValue.set(desc, known);
  }
  return known;
}

/** Depth-first search for `google.protobuf.Value` through message fields; `seen` breaks cycles. */
function reaches(desc: DescMessage, seen: Set<DescMessage>): boolean {
  if (desc.typeName === VALUE) return true;
  if (seen.has(desc)) return false;
  seen.add(desc);
  return desc.fields.some((field) => {
    const inner = messageOf(field);
    return inner !== undefined && reaches(inner, seen);
  });
}
