/**
 * The `FileDescriptorSet` a worker sends with its Hello: the files defining the input and
 * output messages of every task type it serves, with all their dependencies, so the server can
 * validate submissions and publish the types through reflection without knowing them in advance.
 */
import { create, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";

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
