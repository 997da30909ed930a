/**
 * Encoding `submit --input` JSON as the task type's input message. JSON objects go as
 * `google.protobuf.Struct`; other input types are encoded from their proto JSON when the CLI
 * knows the message (the well-known types, such as `UInt32Value` from `--input 20`).
 */
import { fromJson, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { anyPack, StructSchema, type Any } from "@bufbuild/protobuf/wkt";
import { UsageError, type CliContext } from "./context.js";

/**
 * The JSON on standard input (`--input @-`), read to its end.
 * @throws UsageError when there is no standard input, or it is not JSON.
 */
export async function readStdinJson(ctx: Pick<CliContext, "stdin">): Promise<JsonValue> {
  if (!ctx.stdin) throw new UsageError("--input @- reads standard input, and this run has none");
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : Buffer.from(chunk));
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new UsageError(`--input @-: standard input is not JSON: ${(error as Error).message}`);
  }
}

/**
 * Packs `json` as a message of `inputType` (a full message name; undefined when the type is not
 * in the catalog, in which case it is sent as a Struct and the server answers for it).
 * @throws UsageError when the JSON does not fit the type, or the CLI does not know the type.
 */
export function encodeInput(json: JsonValue, inputType: string | undefined, registry: Registry): Any {
  const typeName = inputType ?? StructSchema.typeName;
  const schema = typeName === StructSchema.typeName ? StructSchema : registry.getMessage(typeName);
  if (!schema) {
    throw new UsageError(
      `the CLI cannot encode ${typeName}; submit this type with the typed client, or with buf curl / grpcurl through server reflection`,
    );
  }
  if (schema === StructSchema && (typeof json !== "object" || json === null || Array.isArray(json))) {
    throw new UsageError(`--input must be a JSON object (the input type is ${typeName})`);
  }
  try {
    return anyPack(schema, fromJson(schema, json, { registry }));
  } catch (error) {
    throw new UsageError(`--input is not a valid ${typeName}: ${(error as Error).message}`);
  }
}
