/**
 * gRPC server reflection for the Taskwire server: the services it serves and the task types
 * workers declared.
 */
export { DescriptorIndex } from "./descriptor-index.js";
export {
  createReflectionV1AlphaService,
  createReflectionV1Service,
  ReflectionResponder,
  ServerReflectionV1,
  ServerReflectionV1Alpha,
  type ReflectionSources,
} from "./reflection-service.js";
