/**
 * The lookups server reflection answers, over a set of proto files: a file by its name, the
 * file declaring a symbol (message, enum, enum value, field, oneof, service, method, extension),
 * the file declaring an extension, and the extension numbers of a message. Files come from the
 * server's generated code and from the `FileDescriptorSet`s workers declared.
 */
import type { DescFile } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";

/** An immutable index of proto files; the first file added under a name or symbol wins. */
export class DescriptorIndex {
  readonly #files = new Map<string, DescFile>();
  readonly #symbols = new Map<string, DescFile>();
  /** Extendee message name → extension number → declaring file. */
  readonly #extensions = new Map<string, Map<number, DescFile>>();

  /** @param files files to index, with their dependencies; earlier ones win conflicts. */
  constructor(files: Iterable<DescFile>) {
    for (const file of files) this.#add(file);
  }

  /** The file named `name` (as in `import`, like `taskwire/v1/task.proto`). */
  fileByName(name: string): DescFile | undefined {
    return this.#files.get(name);
  }

  /** The file declaring the fully-qualified `symbol` (a leading dot is ignored). */
  fileContainingSymbol(symbol: string): DescFile | undefined {
    return this.#symbols.get(symbol.startsWith(".") ? symbol.slice(1) : symbol);
  }

  /** The file declaring extension `number` of message `extendee`. */
  fileContainingExtension(extendee: string, number: number): DescFile | undefined {
    return this.#extensions.get(extendee)?.get(number);
  }

  /** The numbers of every known extension of message `extendee`; undefined when no such message is known. */
  extensionNumbersOf(extendee: string): number[] | undefined {
    const file = this.fileContainingSymbol(extendee);
    if (!file || !isMessageOf(file, extendee)) return undefined;
    return [...(this.#extensions.get(extendee)?.keys() ?? [])].sort((a, b) => a - b);
  }

  /**
   * `file` followed by its transitive dependencies, each once: what a reflection client needs
   * to build the file (the very dependencies it was built with, so the answer is consistent
   * even when two workers declared different versions of a shared file).
   */
  withDependencies(file: DescFile): DescFile[] {
    const out: DescFile[] = [];
    const seen = new Set<string>();
    const visit = (current: DescFile): void => {
      const name = current.proto.name;
      if (seen.has(name)) return;
      seen.add(name);
      out.push(current);
      for (const dependency of current.dependencies) visit(dependency);
    };
    visit(file);
    return out;
  }

  #add(file: DescFile): void {
    const name = file.proto.name;
    if (this.#files.has(name)) return;
    this.#files.set(name, file);
    for (const dependency of file.dependencies) this.#add(dependency);
    const symbol = (fullName: string) => {
      if (!this.#symbols.has(fullName)) this.#symbols.set(fullName, file);
    };
    for (const type of nestedTypes(file)) {
      symbol(type.typeName);
      switch (type.kind) {
        case "message":
          for (const field of type.fields) symbol(`${type.typeName}.${field.name}`);
          for (const oneof of type.oneofs) symbol(`${type.typeName}.${oneof.name}`);
          break;
        case "enum": {
          // Enum values are scoped like siblings of their enum (C++ scoping rules).
          const scope = type.typeName.slice(0, Math.max(0, type.typeName.lastIndexOf(".")));
          for (const value of type.values) symbol(scope === "" ? value.name : `${scope}.${value.name}`);
          break;
        }
        case "service":
          for (const method of type.methods) symbol(`${type.typeName}.${method.name}`);
          break;
        case "extension": {
          const byNumber = this.#extensions.get(type.extendee.typeName) ?? new Map<number, DescFile>();
          if (!byNumber.has(type.number)) byNumber.set(type.number, file);
          this.#extensions.set(type.extendee.typeName, byNumber);
          break;
        }
      }
    }
  }
}

function isMessageOf(file: DescFile, typeName: string): boolean {
  for (const type of nestedTypes(file)) if (type.kind === "message" && type.typeName === typeName) return true;
  return false;
}
