/** The benchmark's task: does nothing, so the figures measure Taskwire alone. */
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { defineTask } from "../src/worker/index.js";

export const noop = defineTask({ name: "bench.noop", input: StructSchema, output: StructSchema, retries: 0 }, async () => ({}));
