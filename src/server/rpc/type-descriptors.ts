/**
 * `GetTaskType`'s descriptors: the files that define a task type's input and output messages, as
 * a `google.protobuf.FileDescriptorSet` in dependency order (every file after the files it
 * imports), so a client that cannot use server reflection (a browser over HTTP/1.1: reflection
 * is a bidirectional stream) builds a registry from it with `createFileRegistry` and decodes or
 * builds the type's messages. Only the files the two messages need are sent, not the whole set
 * their worker declared.
 */
import { create, type DescFile, type DescMessage } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema, type FileDescriptorSet } from "@bufbuild/protobuf/wkt";

/** The files `messages` are defined in, with everything they import, each after its imports. */
export function descriptorSetOf(messages: readonly DescMessage[]): FileDescriptorSet {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  const visit = (file: DescFile): void => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dependency of file.dependencies) visit(dependency);
    ordered.push(file);
  };
  for (const message of messages) visit(message.file);
  return create(FileDescriptorSetSchema, { file: ordered.map((file) => file.proto) });
}
