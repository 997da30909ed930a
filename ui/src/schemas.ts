/**
 * Task types' message schemas in the browser: `GetTaskType` gives a type's descriptors (a
 * `FileDescriptorSet`), from which a registry decodes its inputs and outputs (`google.protobuf.Any`)
 * and the typed form builds new ones. Loaded once per type and page.
 */
import { createFileRegistry, toJson, type DescMessage, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { anyUnpack, type Any } from "@bufbuild/protobuf/wkt";
import type { TaskType } from "../../gen/taskwire/v1/task_pb.js";
import type { Clients } from "./api.js";

/** A task type with its messages resolved. */
export interface TypeSchemas {
  type: TaskType;
  registry: Registry;
  input: DescMessage | undefined;
  output: DescMessage | undefined;
}

const cache = new Map<string, Promise<TypeSchemas>>();

/** The schemas of task type `name` (cached; a failed load is tried again next time). */
export function loadType(clients: Clients, name: string): Promise<TypeSchemas> {
  let loading = cache.get(name);
  if (loading === undefined) {
    loading = clients.tasks.getTaskType({ name }).then((response) => {
      const type = response.type;
      if (type === undefined || response.descriptors === undefined) throw new Error(`the server sent no descriptors for ${name}`);
      const registry = createFileRegistry(response.descriptors);
      return { type, registry, input: registry.getMessage(type.inputType), output: registry.getMessage(type.outputType) };
    });
    loading.catch(() => cache.delete(name));
    cache.set(name, loading);
  }
  return loading;
}

/** An `Any` as protobuf JSON of its message, decoded with `registry`; undefined when it cannot be. */
export function anyToJson(any: Any | undefined, registry: Registry): { desc: DescMessage; json: JsonValue } | undefined {
  if (any === undefined || any.typeUrl === "") return undefined;
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  const desc = registry.getMessage(name);
  const message = anyUnpack(any, registry);
  if (desc === undefined || message === undefined) return undefined;
  return { desc, json: toJson(desc, message, { registry, alwaysEmitImplicit: true }) };
}

/** Well-known message types the form and the views treat as one value. */
export type WellKnownKind = "timestamp" | "duration" | "json" | "wrapper" | "fieldmask" | "empty";

/** How a message type is edited and shown, when it is a well-known type. */
export function wellKnownKind(desc: DescMessage): WellKnownKind | undefined {
  switch (desc.typeName) {
    case "google.protobuf.Timestamp":
      return "timestamp";
    case "google.protobuf.Duration":
      return "duration";
    case "google.protobuf.Struct":
    case "google.protobuf.Value":
    case "google.protobuf.ListValue":
    case "google.protobuf.Any":
      return "json";
    case "google.protobuf.FieldMask":
      return "fieldmask";
    case "google.protobuf.Empty":
      return "empty";
    case "google.protobuf.DoubleValue":
    case "google.protobuf.FloatValue":
    case "google.protobuf.Int64Value":
    case "google.protobuf.UInt64Value":
    case "google.protobuf.Int32Value":
    case "google.protobuf.UInt32Value":
    case "google.protobuf.BoolValue":
    case "google.protobuf.StringValue":
    case "google.protobuf.BytesValue":
      return "wrapper";
    default:
      return undefined;
  }
}
