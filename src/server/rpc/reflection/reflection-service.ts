/**
 * gRPC server reflection (`grpc.reflection.v1` and the older `grpc.reflection.v1alpha`, which
 * has the same messages in another package), so `grpcurl`, `buf curl`, Postman and IDEs can
 * list the services and encode typed JSON without the `.proto` files. It describes the server's
 * own services and, from the catalog, the messages of every task type workers declared: a client
 * can submit `{"@type": "type.googleapis.com/<worker's message>", ...}` for a type defined only
 * in a worker's own `.proto`.
 *
 * Worker-declared types are another team's contracts: when the server checks API keys, only a
 * caller whose key may read tasks sees them (as `ListTypes`); anyone else, keyless tooling
 * among them, sees the built-in services and their messages (`ReflectionSources.catalogVisible`).
 *
 * No package serves reflection for connect-es v2 (connectrpc/connect-es#507), hence this one.
 */
import { create, fromBinary, toBinary, type DescFile, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ServerReflection as ServerReflectionV1,
  ServerReflectionRequestSchema as RequestV1Schema,
  ServerReflectionResponseSchema as ResponseV1Schema,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ServerReflectionV1Alpha,
  ServerReflectionRequestSchema as RequestV1AlphaSchema,
  ServerReflectionResponseSchema as ResponseV1AlphaSchema,
} from "../../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { DescriptorIndex } from "./descriptor-index.js";

/** Where reflection finds what it describes. */
export interface ReflectionSources {
  /** The services this server serves: `list_services` names them, their files always resolve. */
  services: readonly DescService[];
  /** More files that resolve without being served (e.g. `google.rpc` error details). */
  extraFiles?: readonly DescFile[];
  /** The files of the task types workers declared, newest declarations first. */
  catalogFiles(): Iterable<DescFile>;
  /** Re-reads the catalog, for a symbol declared moments ago through another server. */
  refreshCatalog(): Promise<void>;
  /** Whether the caller of a reflection stream may see the catalog's types. @default every caller */
  catalogVisible?(context: HandlerContext): boolean;
}

/** Answers one reflection request at a time, in terms of the v1 messages. */
export class ReflectionResponder {
  readonly #sources: ReflectionSources;
  readonly #serverFiles: DescFile[];
  readonly #serverIndex: DescriptorIndex;
  #index: { key: string; index: DescriptorIndex } | undefined;

  constructor(sources: ReflectionSources) {
    this.#sources = sources;
    this.#serverFiles = [...sources.services.map((service) => service.file), ...(sources.extraFiles ?? [])];
    this.#serverIndex = new DescriptorIndex(this.#serverFiles);
  }

  /** Whether the caller of `context` sees the catalog (see the file header). */
  catalogVisible(context: HandlerContext): boolean {
    return this.#sources.catalogVisible?.(context) ?? true;
  }

  /**
   * The answer to `request`; lookups that fail become an `error_response` (NOT_FOUND,
   * INVALID_ARGUMENT). Without `withCatalog`, only the server's own files are known.
   */
  async answer(request: ServerReflectionRequest, withCatalog = true): Promise<ServerReflectionResponse> {
    const reply = (messageResponse: MessageInitShape<typeof ResponseV1Schema>["messageResponse"]) =>
      create(ResponseV1Schema, { validHost: request.host, originalRequest: request, messageResponse });
    const notFound = (message: string) =>
      reply({ case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: message } });
    const files = (file: DescFile, index: DescriptorIndex) =>
      reply({
        case: "fileDescriptorResponse",
        value: { fileDescriptorProto: index.withDependencies(file).map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) },
      });

    const query = request.messageRequest;
    switch (query.case) {
      case "listServices":
        return reply({
          case: "listServicesResponse",
          value: { service: this.#sources.services.map((service) => ({ name: service.typeName })) },
        });
      case "fileByFilename": {
        const found = await this.#lookup(withCatalog, (index) => index.fileByName(query.value));
        return found ? files(found.value, found.index) : notFound(`file "${query.value}" not found`);
      }
      case "fileContainingSymbol": {
        const found = await this.#lookup(withCatalog, (index) => index.fileContainingSymbol(query.value));
        return found ? files(found.value, found.index) : notFound(`symbol "${query.value}" not found`);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = query.value;
        const found = await this.#lookup(withCatalog, (index) => index.fileContainingExtension(containingType, extensionNumber));
        return found
          ? files(found.value, found.index)
          : notFound(`extension ${extensionNumber} of "${containingType}" not found`);
      }
      case "allExtensionNumbersOfType": {
        const found = await this.#lookup(withCatalog, (index) => index.extensionNumbersOf(query.value));
        return found
          ? reply({ case: "allExtensionNumbersResponse", value: { baseTypeName: query.value, extensionNumber: found.value } })
          : notFound(`message type "${query.value}" not found`);
      }
      default:
        return reply({
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "the request sets none of the known message_request fields" },
        });
    }
  }

  /** Runs `find` on the index; when it finds nothing, re-reads the catalog and tries once more. */
  async #lookup<T>(withCatalog: boolean, find: (index: DescriptorIndex) => T | undefined): Promise<{ value: T; index: DescriptorIndex } | undefined> {
    if (!withCatalog) {
      const value = find(this.#serverIndex);
      return value === undefined ? undefined : { value, index: this.#serverIndex };
    }
    let index = this.#currentIndex();
    let value = find(index);
    if (value === undefined) {
      await this.#sources.refreshCatalog().catch(() => undefined); // best effort: answer from what is known
      index = this.#currentIndex();
      value = find(index);
    }
    return value === undefined ? undefined : { value, index };
  }

  /** The index of the server's files and the catalog's, rebuilt when the catalog changed. */
  #currentIndex(): DescriptorIndex {
    const catalogFiles = [...this.#sources.catalogFiles()];
    // The catalog hands out the same DescFile objects until a declaration changes.
    const key = catalogFiles.map((file) => `${file.proto.name}@${fileIdentity(file)}`).join("\n");
    if (this.#index?.key !== key) {
      this.#index = { key, index: new DescriptorIndex([...this.#serverFiles, ...catalogFiles]) };
    }
    return this.#index.index;
  }
}

const identities = new WeakMap<DescFile, number>();
let nextIdentity = 0;
function fileIdentity(file: DescFile): number {
  let identity = identities.get(file);
  if (identity === undefined) {
    identity = nextIdentity++;
    identities.set(file, identity);
  }
  return identity;
}

/** `grpc.reflection.v1.ServerReflection`. */
export function createReflectionV1Service(responder: ReflectionResponder): ServiceImpl<typeof ServerReflectionV1> {
  return {
    async *serverReflectionInfo(requests, context) {
      const withCatalog = responder.catalogVisible(context);
      for await (const request of requests) yield await responder.answer(request, withCatalog);
    },
  };
}

/**
 * `grpc.reflection.v1alpha.ServerReflection`: the v1 messages under another package name, so
 * each message is converted through its (identical) wire form.
 */
export function createReflectionV1AlphaService(responder: ReflectionResponder): ServiceImpl<typeof ServerReflectionV1Alpha> {
  return {
    async *serverReflectionInfo(requests, context) {
      const withCatalog = responder.catalogVisible(context);
      for await (const request of requests) {
        const v1 = fromBinary(RequestV1Schema, toBinary(RequestV1AlphaSchema, request));
        yield fromBinary(ResponseV1AlphaSchema, toBinary(ResponseV1Schema, await responder.answer(v1, withCatalog)));
      }
    },
  };
}

export { ServerReflectionV1, ServerReflectionV1Alpha };
