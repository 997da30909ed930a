/**
 * Packing task values into `google.protobuf.Any` and back, with `google.protobuf.Struct`
 * carried as plain JSON objects on the TypeScript side.
 */
import {
  create,
  fromBinary,
  fromJson,
  toBinary,
  toJson,
  type DescMessage,
  type JsonObject,
  type MessageShape,
} from "@bufbuild/protobuf";
import { anyPack, anyUnpack, AnySchema, StructSchema, type Any } from "@bufbuild/protobuf/wkt";
import type { TaskValue, TaskValueInit } from "./task-definition.js";

/** The type URL of a message type, as carried in `Any.typeUrl`. */
export function typeUrlOf(typeName: string): string {
  return `type.googleapis.com/${typeName}`;
}

/** The full message name of an `Any` type URL (the part after the last `/`). */
export function typeNameOfUrl(typeUrl: string): string {
  const slash = typeUrl.lastIndexOf("/");
  return slash < 0 ? typeUrl : typeUrl.slice(slash + 1);
}

function isStruct(schema: DescMessage): boolean {
  return schema.typeName === StructSchema.typeName;
}

/** Packs a value of `schema` (a JSON object for Struct) into an `Any`. */
export function packValue<S extends DescMessage>(schema: S, value: TaskValueInit<S> | MessageShape<S>): Any {
  if (isStruct(schema)) {
    return anyPack(StructSchema, structFromJson(value as JsonObject));
  }
  return anyPack(schema, create(schema, value as never));
}

/**
 * Unpacks an `Any` holding a `schema` message; a Struct comes back as a JSON object.
 * @throws Error when the `Any` holds another type or undecodable bytes.
 */
export function unpackValue<S extends DescMessage>(schema: S, any: Any): TaskValue<S> {
  const typeName = typeNameOfUrl(any.typeUrl);
  if (typeName !== schema.typeName) {
    throw new Error(`expected ${schema.typeName}, got ${typeName || "an empty type URL"}`);
  }
  if (isStruct(schema)) {
    const struct = anyUnpack(any, StructSchema);
    if (!struct) throw new Error(`cannot decode ${schema.typeName}`);
    return structToJson(struct) as TaskValue<S>;
  }
  return fromBinary(schema, any.value) as TaskValue<S>;
}

/** Serializes an `Any` (for storage or transfer as bytes). */
export function anyToBinary(any: Any): Uint8Array {
  return toBinary(AnySchema, any);
}

/** A JSON object as a `google.protobuf.Struct` message. */
export function structFromJson(json: JsonObject): MessageShape<typeof StructSchema> {
  return fromJson(StructSchema, json);
}

/** A `google.protobuf.Struct` message as a JSON object. */
export function structToJson(struct: MessageShape<typeof StructSchema>): JsonObject {
  return toJson(StructSchema, struct) as JsonObject;
}
