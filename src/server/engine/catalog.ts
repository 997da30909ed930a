/**
 * The catalog of task types. Workers declare types with the descriptors of their messages;
 * the catalog keeps them in PostgreSQL, caches them per server, and validates every
 * submission's input against the declared input type.
 */
import { createHash } from "node:crypto";
import { fromBinary, toBinary, type DescFile, type DescMessage, type FileRegistry, type MutableRegistry } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type Any } from "@bufbuild/protobuf/wkt";
import { InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import type { TaskTypeRecord, TaskTypeSummary } from "../../core/task-types.js";
import { typeNameOfUrl } from "../../common/any.js";
import { DescriptorSetError, resolveDescriptorSet, WELL_KNOWN_FILES } from "../../common/descriptors.js";
import { nonFiniteNumberPath } from "../../common/non-finite-numbers.js";
import type { TaskStore } from "../../store/store.js";

/** A catalog entry with its message descriptors resolved. */
export interface CatalogEntry {
  record: TaskTypeSummary;
  registry: FileRegistry;
  input: DescMessage;
  output: DescMessage;
}

/** How long a cached entry is trusted before it is read again (another server may have updated it). */
const CACHE_TTL_MS = 5_000;

/** Lower-case hex SHA-256 of a serialized descriptor set: its id in the store (`TaskTypeRecord.descriptorSet`). */
export function descriptorSetHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Registries of serialized sets already resolved, by the bytes object: the records of one Hello
 * share one `descriptors` array, so its set is resolved once, however many types it declares
 * (and `Catalog.declare` finds it resolved).
 */
const resolvedBytes = new WeakMap<Uint8Array, FileRegistry>();

/**
 * Reads a worker's descriptor set (any file order, well-known types implied, JSON names filled
 * in: see `resolveDescriptorSet`) into the bytes to store, their hash and their registry;
 * `messages` are the declared types' messages, whose well-known files are added when missing.
 * @throws InvalidArgumentError (`hello.descriptors`) when the set does not resolve.
 */
export function readDescriptorSet(
  set: Parameters<typeof resolveDescriptorSet>[0],
  messages: Iterable<string>,
): { bytes: Uint8Array; hash: string; registry: FileRegistry } {
  let resolved;
  try {
    resolved = resolveDescriptorSet(set, messages);
  } catch (error) {
    throw unresolvable(error);
  }
  const bytes = toBinaryOfSet(resolved.set);
  resolvedBytes.set(bytes, resolved.registry);
  return { bytes, hash: descriptorSetHash(bytes), registry: resolved.registry };
}

function unresolvable(error: unknown): InvalidArgumentError {
  const reason = error instanceof DescriptorSetError ? error.message : error instanceof Error ? error.message : String(error);
  return InvalidArgumentError.field(
    "hello.descriptors",
    `the FileDescriptorSet does not resolve (${reason}); send every file the messages depend on (well-known types may be left out)`,
  );
}

/** The registry of a serialized set (stored, or read by {@link readDescriptorSet}), resolved once per bytes object. */
function registryOfBytes(bytes: Uint8Array): FileRegistry {
  const known = resolvedBytes.get(bytes);
  if (known) return known;
  let registry: FileRegistry;
  try {
    registry = resolveDescriptorSet(fromBinary(FileDescriptorSetSchema, bytes)).registry;
  } catch (error) {
    throw unresolvable(error);
  }
  resolvedBytes.set(bytes, registry);
  return registry;
}

/** The input and output messages of a type in its set's registry. @throws InvalidArgumentError naming the missing one. */
function messagesOf(type: Pick<TaskTypeSummary, "name" | "inputType" | "outputType">, registry: FileRegistry): { input: DescMessage; output: DescMessage } {
  const message = (name: string, role: string): DescMessage => {
    const found = registry.getMessage(name);
    if (!found) {
      throw InvalidArgumentError.field(`hello.types[${type.name}].${role}`, `message "${name}" is not in the descriptors sent with Hello`);
    }
    return found;
  };
  return { input: message(type.inputType, "input_type"), output: message(type.outputType, "output_type") };
}

/**
 * Builds the registry of a declaration's descriptors; throws InvalidArgumentError when they do
 * not resolve. Declarations sharing one `descriptors` array share one registry, resolved once.
 */
export function resolveDescriptors(
  type: Pick<TaskTypeRecord, "name" | "inputType" | "outputType" | "descriptors">,
): Omit<CatalogEntry, "record"> {
  const registry = registryOfBytes(type.descriptors);
  return { registry, ...messagesOf(type, registry) };
}

export class Catalog {
  private readonly cache = new Map<string, { entry: CatalogEntry; loadedAt: number }>();
  /** Resolved sets by hash, shared by the entries declared with them. */
  private readonly sets = new Map<string, FileRegistry>();
  /** Hashes of stored sets that do not resolve (skipped by every refresh, not read again). */
  private readonly unresolvable = new Set<string>();
  /** Sets whose messages the JSON registry has. */
  private readonly inJsonRegistry = new Set<FileRegistry>();

  /**
   * @param jsonRegistry receives the messages of every known type, so Connect/JSON requests can
   *   carry typed inputs as `{"@type": ..., ...}`.
   */
  constructor(
    private readonly store: TaskStore,
    private readonly maxInputBytes: number,
    private readonly jsonRegistry: MutableRegistry,
  ) {}

  /** Records types declared by a worker (already resolved with {@link resolveDescriptors}: their sets are not resolved again). */
  async declare(types: readonly Omit<TaskTypeRecord, "updatedAt">[], now: Date): Promise<void> {
    const entries = types.map((type) => ({ record: summaryOf({ ...type, updatedAt: now }), ...resolveDescriptors(type) }));
    await this.store.upsertTaskTypes(types, now);
    for (const entry of entries) this.remember(entry);
  }

  /**
   * Brings the cache in line with the stored catalog (at start, and now and then: other servers'
   * workers declare types too). Incremental: the listing carries no descriptor bytes; only the
   * sets of changed entries that this server has not resolved yet are read, each once.
   */
  async loadAll(): Promise<void> {
    const listed = await this.store.listTaskTypes();
    const now = Date.now();
    const changed = listed.filter((record) => {
      const cached = this.cache.get(record.name);
      if (cached && cached.entry.record.updatedAt.getTime() === record.updatedAt.getTime() && cached.entry.record.descriptorSet === record.descriptorSet) {
        cached.loadedAt = now;
        return false;
      }
      return true;
    });
    const unread = [...new Set(changed.map((record) => record.descriptorSet))].filter((hash) => !this.sets.has(hash) && !this.unresolvable.has(hash));
    if (unread.length > 0) {
      for (const [hash, bytes] of await this.store.getDescriptorSets(unread)) {
        try {
          this.sets.set(hash, registryOfBytes(bytes));
        } catch {
          this.unresolvable.add(hash); // a stored set that no longer resolves; get() reports it when used
        }
      }
    }
    for (const record of changed) {
      const registry = this.sets.get(record.descriptorSet);
      if (!registry) continue;
      try {
        this.remember({ record, registry, ...messagesOf(record, registry) });
      } catch {
        // The declared messages are not in the set; get() reports it when used.
      }
    }
    const names = new Set(listed.map((record) => record.name));
    for (const name of this.cache.keys()) if (!names.has(name)) this.cache.delete(name);
    this.forgetUnusedSets();
  }

  /** Every resolved entry this server knows, newest declaration first. */
  entries(): CatalogEntry[] {
    return [...this.cache.values()]
      .map(({ entry }) => entry)
      .sort((a, b) => b.record.updatedAt.getTime() - a.record.updatedAt.getTime());
  }

  /**
   * The files of every known type, each set once (however many types share it), the sets of the
   * newest declarations first; server reflection describes them.
   */
  files(): DescFile[] {
    const registries = new Set(this.entries().map((entry) => entry.registry));
    return [...registries].flatMap((registry) => [...registry.files]);
  }

  private remember(entry: CatalogEntry): void {
    this.cache.set(entry.record.name, { entry, loadedAt: Date.now() });
    this.sets.set(entry.record.descriptorSet, entry.registry);
    if (this.inJsonRegistry.has(entry.registry)) return;
    this.inJsonRegistry.add(entry.registry);
    for (const desc of entry.registry) {
      // The well-known types stay the ones the JSON codec was built with.
      if (WELL_KNOWN_FILES.has(desc.file.proto.name)) continue;
      if (desc.kind === "message" || desc.kind === "enum") this.jsonRegistry.add(desc);
    }
  }

  /** Drops resolved sets no cached entry uses any more. */
  private forgetUnusedSets(): void {
    const used = new Set([...this.cache.values()].map(({ entry }) => entry.record.descriptorSet));
    for (const hash of this.sets.keys()) if (!used.has(hash)) this.sets.delete(hash);
    const registries = new Set(this.sets.values());
    for (const registry of this.inJsonRegistry) if (!registries.has(registry)) this.inJsonRegistry.delete(registry);
  }

  /**
   * The cached entry of a type, however old (the refresh keeps it current): what a completion
   * checks its output against without waiting for PostgreSQL. Undefined when not cached.
   */
  peek(name: string): CatalogEntry | undefined {
    return this.cache.get(name)?.entry;
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
    const registry = this.sets.get(record.descriptorSet) ?? resolveDescriptors(record).registry;
    const entry = { record: summaryOf(record), registry, ...messagesOf(record, registry) };
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

/** A record without its descriptor bytes (the cache keeps the resolved registry instead). */
function summaryOf(record: TaskTypeRecord): TaskTypeSummary {
  const { descriptors: _bytes, ...summary } = record;
  return summary;
}

function toBinaryOfSet(set: ReturnType<typeof resolveDescriptorSet>["set"]): Uint8Array {
  return toBinary(FileDescriptorSetSchema, set);
}
