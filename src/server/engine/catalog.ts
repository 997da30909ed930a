/**
 * The catalog of task types. Workers declare types with the descriptors of their messages;
 * the catalog keeps them in PostgreSQL, caches them per server, and validates every
 * submission's input against the declared input type.
 */
import {
  createFileRegistry,
  fromBinary,
  type DescMessage,
  type FileRegistry,
  type MutableRegistry,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type Any } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import type { TaskTypeRecord } from "../../core/task-types.js";
import { typeNameOfUrl } from "../../common/any.js";
import { nonFiniteNumberPath } from "../../common/non-finite-numbers.js";
import type { TaskStore } from "../../store/store.js";

/** A catalog entry with its message descriptors resolved. */
export interface CatalogEntry {
  record: TaskTypeRecord;
  registry: FileRegistry;
  input: DescMessage;
  output: DescMessage;
}

/** How long a cached entry is trusted before it is read again (another server may have updated it). */
const CACHE_TTL_MS = 5_000;

/** Builds the registry of a declaration's descriptors; throws InvalidArgumentError when they do not resolve. */
export function resolveDescriptors(
  type: Pick<TaskTypeRecord, "name" | "inputType" | "outputType" | "descriptors">,
): Omit<CatalogEntry, "record"> {
  let registry: FileRegistry;
  try {
    registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, type.descriptors));
  } catch (error) {
    throw InvalidArgumentError.field(
      "hello.descriptors",
      `the FileDescriptorSet does not resolve (${error instanceof Error ? error.message : String(error)}); send every file the messages depend on`,
    );
  }
  const message = (name: string, role: string): DescMessage => {
    const found = registry.getMessage(name);
    if (!found) {
      throw InvalidArgumentError.field(
        `hello.types[${type.name}].${role}`,
        `message "${name}" is not in the descriptors sent with Hello`,
      );
    }
    return found;
  };
  return { registry, input: message(type.inputType, "input_type"), output: message(type.outputType, "output_type") };
}

export class Catalog {
  private readonly cache = new Map<string, { entry: CatalogEntry; loadedAt: number }>();

  /**
   * @param jsonRegistry receives the messages of every known type, so Connect/JSON requests can
   *   carry typed inputs as `{"@type": ..., ...}`.
   */
  constructor(
    private readonly store: TaskStore,
    private readonly maxInputBytes: number,
    private readonly jsonRegistry: MutableRegistry,
  ) {}

  /** Records types declared by a worker (already resolved with {@link resolveDescriptors}). */
  async declare(types: readonly Omit<TaskTypeRecord, "updatedAt">[], now: Date): Promise<void> {
    const entries = types.map((type) => ({ record: { ...type, updatedAt: now }, ...resolveDescriptors(type) }));
    await this.store.upsertTaskTypes(types, now);
    for (const entry of entries) this.remember(entry);
  }

  /** Reads every type of the catalog (at start, and now and then: other servers' workers declare types too). */
  async loadAll(): Promise<void> {
    for (const record of await this.store.listTaskTypes()) {
      const cached = this.cache.get(record.name);
      if (cached && cached.entry.record.updatedAt.getTime() === record.updatedAt.getTime()) continue;
      try {
        this.remember({ record, ...resolveDescriptors(record) });
      } catch {
        // A stored declaration that no longer resolves is skipped; get() reports it when used.
      }
    }
  }

  /** Every resolved entry this server knows, newest declaration first (server reflection describes them). */
  entries(): CatalogEntry[] {
    return [...this.cache.values()]
      .map(({ entry }) => entry)
      .sort((a, b) => b.record.updatedAt.getTime() - a.record.updatedAt.getTime());
  }

  private remember(entry: CatalogEntry): void {
    this.cache.set(entry.record.name, { entry, loadedAt: Date.now() });
    for (const desc of entry.registry) {
      if (desc.kind === "message" || desc.kind === "enum") this.jsonRegistry.add(desc);
    }
  }

  /** The entry of a type. @throws NotFoundError when no worker ever declared it. */
  async get(name: string): Promise<CatalogEntry> {
    const cached = this.cache.get(name);
    if (cached && Date.now() - cached.loadedAt < CACHE_TTL_MS) return cached.entry;
    const record = await this.store.getTaskType(name);
    if (!record) {
      this.cache.delete(name);
      throw new NotFoundError(
        "TASK_TYPE_NOT_FOUND",
        `task type "${name}" is not known: no worker has declared it (ListTypes shows the known types)`,
      );
    }
    const entry = { record, ...resolveDescriptors(record) };
    this.remember(entry);
    return entry;
  }

  /**
   * Checks that `input` holds a well-formed message of the type's input type, within the size
   * limit, whose JSON numbers are finite (it must show as JSON). `field` names the request field
   * in error messages.
   */
  validateInput(entry: CatalogEntry, input: Any, field: string): void {
    const expected = entry.record.inputType;
    const got = typeNameOfUrl(input.typeUrl);
    if (got !== expected) {
      throw new InvalidArgumentError(
        `${field}: task type "${entry.record.name}" takes ${expected}, got ${got === "" ? "an Any with no type URL" : got}`,
        [{ field, description: `expected type URL type.googleapis.com/${expected}` }],
        "INPUT_TYPE_MISMATCH",
      );
    }
    if (input.value.byteLength > this.maxInputBytes) {
      throw new InvalidArgumentError(
        `${field}: input is ${input.value.byteLength} bytes, the limit is ${this.maxInputBytes}`,
        [{ field, description: `at most ${this.maxInputBytes} bytes` }],
        "INPUT_TOO_LARGE",
      );
    }
    try {
      fromBinary(entry.input, input.value);
    } catch (error) {
      throw new InvalidArgumentError(
        `${field}: not a valid ${expected} (${error instanceof Error ? error.message : String(error)})`,
        [{ field, description: `bytes must decode as ${expected}` }],
        "INPUT_TYPE_MISMATCH",
      );
    }
    const nonFinite = nonFiniteNumberPath(entry.input, input.value, field);
    if (nonFinite !== undefined) {
      throw InvalidArgumentError.field(nonFinite, "is NaN or Infinity; JSON numbers (google.protobuf.Value) must be finite");
    }
  }
}
