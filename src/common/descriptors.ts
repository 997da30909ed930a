/**
 * The `FileDescriptorSet` a worker sends with its Hello: the files defining the input and
 * output messages of every task type it serves, with all their dependencies, so the server can
 * validate submissions and publish the types through reflection without knowing them in advance.
 *
 * The SDK builds it with {@link descriptorSetOf}; the server reads any worker's set with
 * {@link resolveDescriptorSet}, which accepts what protobuf runtimes other than protoc's plugins
 * produce (see docs/worker-protocol.md, "Descriptors").
 */
import { create, createFileRegistry, type DescFile, type DescMessage, type FileRegistry } from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  file_google_protobuf_any,
  file_google_protobuf_api,
  file_google_protobuf_compiler_plugin,
  file_google_protobuf_cpp_features,
  file_google_protobuf_descriptor,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_field_mask,
  file_google_protobuf_go_features,
  file_google_protobuf_java_features,
  file_google_protobuf_source_context,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_type,
  file_google_protobuf_wrappers,
  type DescriptorProto,
  type FieldDescriptorProto,
  type FileDescriptorProto,
  type FileDescriptorSet,
} from "@bufbuild/protobuf/wkt";

/** Collects the files of `schemas` and their transitive dependencies, dependencies first. */
export function descriptorSetOf(schemas: Iterable<DescMessage>): FileDescriptorSet {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const schema of schemas) visit(schema.file);
  return create(FileDescriptorSetSchema, { file: ordered.map((file) => file.proto) });
}

/** A set of descriptors that cannot be resolved; the message says which file and why. */
export class DescriptorSetError extends Error {
  override readonly name = "DescriptorSetError";
}

/**
 * The well-known types' files (`google/protobuf/*.proto`) every protobuf runtime ships, by file
 * name: a worker need not send them, and the copy it sends is replaced by this one (so that every
 * type refers to one `google.protobuf.Struct`, the one the server's JSON codec knows).
 */
export const WELL_KNOWN_FILES: ReadonlyMap<string, DescFile> = new Map(
  [
    file_google_protobuf_any,
    file_google_protobuf_api,
    file_google_protobuf_compiler_plugin,
    file_google_protobuf_cpp_features,
    file_google_protobuf_descriptor,
    file_google_protobuf_duration,
    file_google_protobuf_empty,
    file_google_protobuf_field_mask,
    file_google_protobuf_go_features,
    file_google_protobuf_java_features,
    file_google_protobuf_source_context,
    file_google_protobuf_struct,
    file_google_protobuf_timestamp,
    file_google_protobuf_type,
    file_google_protobuf_wrappers,
  ].map((file) => [file.proto.name, file]),
);

/**
 * protoc's JSON name of a field (`ToJsonName` in protoc's descriptor.cc): underscores dropped,
 * the letter after each one upper-cased (ASCII only), everything else kept: `vertex_count` →
 * `vertexCount`, `a__b` → `aB`, `_x` → `X`.
 */
export function protocJsonName(fieldName: string): string {
  let result = "";
  let upperNext = false;
  for (const character of fieldName) {
    if (character === "_") upperNext = true;
    else if (upperNext) {
      result += /[a-z]/.test(character) ? character.toUpperCase() : character;
      upperNext = false;
    } else result += character;
  }
  return result;
}

/** What {@link resolveDescriptorSet} makes of a worker's set. */
export interface ResolvedDescriptorSet {
  /**
   * The set as stored: the well-known files it needs (the server's copies: imported, sent, or
   * defining a message of `messages`), then the worker's files in dependency order, every field
   * with its JSON name. Resolving it again gives the same set.
   */
  set: FileDescriptorSet;
  /** The registry of `set`. */
  registry: FileRegistry;
}

/**
 * Reads a worker's `FileDescriptorSet` as protoc would have written it, so that sets made by any
 * protobuf runtime resolve the same:
 *
 * - **any file order**: files are sorted so that each comes after the files it imports (the set
 *   may list dependents first, as Python's and Java's runtimes do);
 * - **well-known types**: `google/protobuf/*.proto` files ({@link WELL_KNOWN_FILES}) need not be
 *   in the set, even when a declared message (`messages`) is one of theirs, like
 *   `google.protobuf.Struct`; the server's own copies are used either way;
 * - **JSON names**: a field without `json_name` (runtime descriptors of Python, Java and C++
 *   carry none) gets protoc's ({@link protocJsonName}), so Connect/JSON and reflection name its
 *   fields as protoc-generated code does.
 *
 * The input is not modified. @throws DescriptorSetError naming the file that does not resolve:
 * an import that is neither in the set nor a well-known type, an import cycle, a file given twice
 * with different contents, or a type reference that does not resolve.
 */
export function resolveDescriptorSet(input: FileDescriptorSet, messages: Iterable<string> = []): ResolvedDescriptorSet {
  try {
    return resolve(input, messages);
  } catch (error) {
    // A set nested deeper than the stack allows (RangeError) is refused like any other.
    if (error instanceof DescriptorSetError) throw error;
    throw new DescriptorSetError(error instanceof Error ? error.message : String(error));
  }
}

function resolve(input: FileDescriptorSet, messages: Iterable<string>): ResolvedDescriptorSet {
  const byName = new Map<string, FileDescriptorProto>();
  const wellKnown = new Set<DescFile>();
  for (const file of input.file) {
    const known = WELL_KNOWN_FILES.get(file.name);
    if (known) {
      addWithDependencies(known, wellKnown);
      continue;
    }
    if (file.name === "") throw new DescriptorSetError("a file of the set has no name");
    if (byName.has(file.name)) throw new DescriptorSetError(`file "${file.name}" is in the set twice`);
    byName.set(file.name, file);
  }
  // Depth-first, dependencies before the file, with an explicit stack (a chain of thousands of
  // files must not overflow the call stack).
  const ordered: FileDescriptorProto[] = [];
  const state = new Map<string, "visiting" | "done">();
  for (const root of byName.values()) {
    if (state.has(root.name)) continue;
    const stack: { file: FileDescriptorProto; next: number }[] = [{ file: root, next: 0 }];
    state.set(root.name, "visiting");
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const dependency = top.file.dependency[top.next++];
      if (dependency === undefined) {
        stack.pop();
        state.set(top.file.name, "done");
        ordered.push(withJsonNames(top.file));
        continue;
      }
      const known = WELL_KNOWN_FILES.get(dependency);
      if (known) {
        addWithDependencies(known, wellKnown);
        continue;
      }
      const inSet = byName.get(dependency);
      if (!inSet) {
        throw new DescriptorSetError(
          `file "${top.file.name}" imports "${dependency}", which is neither in the set nor a well-known type (google/protobuf/*.proto)`,
        );
      }
      const seen = state.get(dependency);
      if (seen === "done") continue;
      if (seen === "visiting") {
        const cycle = stack.slice(stack.findIndex((entry) => entry.file.name === dependency)).map((entry) => entry.file.name);
        throw new DescriptorSetError(`import cycle: ${[...cycle, dependency].join(" → ")}`);
      }
      state.set(dependency, "visiting");
      stack.push({ file: inSet, next: 0 });
    }
  }

  // A declared message of the well-known types (a Struct-only type) needs its file, sent or not.
  const defined = definedMessages(ordered);
  for (const name of messages) {
    const file = defined.has(name) ? undefined : WELL_KNOWN_MESSAGES.get(name);
    if (file) addWithDependencies(file, wellKnown);
  }
  // One set in dependency order: protobuf-es builds its registry in one linear pass.
  const set = create(FileDescriptorSetSchema, { file: [...wellKnown].map((file) => file.proto).concat(ordered) });
  return { set, registry: createFileRegistry(set) };
}

/** The file of each well-known message, by full name. */
const WELL_KNOWN_MESSAGES: ReadonlyMap<string, DescFile> = new Map(
  [...WELL_KNOWN_FILES.values()].flatMap((file) => nestedMessageNames(file.proto).map((name) => [name, file] as const)),
);

/** Full names of the messages the files define, nested ones included. */
function definedMessages(files: readonly FileDescriptorProto[]): Set<string> {
  return new Set(files.flatMap(nestedMessageNames));
}

function nestedMessageNames(file: FileDescriptorProto): string[] {
  const names: string[] = [];
  const walk = (prefix: string, messages: readonly DescriptorProto[]): void => {
    for (const message of messages) {
      const name = prefix === "" ? message.name : `${prefix}.${message.name}`;
      names.push(name);
      walk(name, message.nestedType);
    }
  };
  walk(file.package, file.messageType);
  return names;
}

/** Adds `file` to `into` after the files it imports (dependencies first). */
function addWithDependencies(file: DescFile, into: Set<DescFile>): void {
  if (into.has(file)) return;
  for (const dependency of file.dependencies) addWithDependencies(dependency, into);
  into.add(file);
}

/** A copy of `file` whose fields all have a JSON name (the original's when it has one). */
function withJsonNames(file: FileDescriptorProto): FileDescriptorProto {
  const missing = (fields: readonly FieldDescriptorProto[]) => fields.some((field) => !field.jsonName);
  const messageNeeds = (message: DescriptorProto): boolean =>
    missing(message.field) || missing(message.extension) || message.nestedType.some(messageNeeds);
  if (!missing(file.extension) && !file.messageType.some(messageNeeds)) return file;
  const fillFields = (fields: readonly FieldDescriptorProto[]) =>
    fields.map((field) => (field.jsonName ? field : { ...field, jsonName: protocJsonName(field.name) }));
  const fillMessage = (message: DescriptorProto): DescriptorProto => ({
    ...message,
    field: fillFields(message.field),
    extension: fillFields(message.extension),
    nestedType: message.nestedType.map(fillMessage),
  });
  return { ...file, extension: fillFields(file.extension), messageType: file.messageType.map(fillMessage) };
}
