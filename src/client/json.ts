/**
 * Task values as JSON, for callers that do not know a task's output type in advance (untyped
 * handles, the CLI). Types are resolved through a registry that knows the well-known types and
 * Taskwire's own messages; pass your generated files to know yours.
 */
import { createRegistry, toJson, type DescFile, type DescMessage, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import {
  AnySchema,
  anyUnpack,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  type Any,
} from "@bufbuild/protobuf/wkt";
import { file_taskwire_v1_task } from "../../gen/taskwire/v1/task_pb.js";
import { file_taskwire_v1_task_service } from "../../gen/taskwire/v1/task_service_pb.js";
import { typeNameOfUrl } from "../common/any.js";

/**
 * A registry of the well-known types (Struct, wrappers, Timestamp, Duration, Empty), Taskwire's
 * messages, and `extra` (your generated `file_…` or `…Schema` exports).
 */
export function createTaskwireRegistry(...extra: (Registry | DescFile | DescMessage)[]): Registry {
  return createRegistry(
    file_google_protobuf_struct,
    file_google_protobuf_wrappers,
    file_google_protobuf_timestamp,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_taskwire_v1_task,
    file_taskwire_v1_task_service,
    ...extra,
  );
}

/**
 * The value an `Any` holds, as proto JSON: a Struct is its JSON object, a wrapper its value
 * (`StringValue` → a string), any other known message its JSON object. A type the registry does
 * not know comes back as `{ "@type": url, "value": "<base64 bytes>" }`.
 */
export function anyValueToJson(any: Any, registry: Registry): JsonValue {
  const schema = registry.getMessage(typeNameOfUrl(any.typeUrl));
  const message = schema ? anyUnpack(any, schema) : undefined;
  if (!schema || !message) return opaqueAny(any);
  return toJson(schema, message, { registry });
}

/**
 * An `Any` as proto JSON, `{ "@type": url, ... }`, with the same fallback as
 * {@link anyValueToJson} for types the registry does not know.
 */
export function anyToJson(any: Any, registry: Registry): JsonValue {
  if (!registry.getMessage(typeNameOfUrl(any.typeUrl))) return opaqueAny(any);
  const json = toJson(AnySchema, any, { registry });
  // "@type" first, as people expect to read it.
  return typeof json === "object" && json !== null && !Array.isArray(json) ? { "@type": any.typeUrl, ...json } : json;
}

function opaqueAny(any: Any): JsonValue {
  return { "@type": any.typeUrl, value: base64Encode(any.value) };
}
