import { describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import {
  AlreadyExistsError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
} from "../../src/core/errors.js";
import { silentLogger } from "../../src/core/logger.js";
import { toConnectError } from "../../src/server/rpc/error-mapper.js";

const logger = silentLogger();

describe("google.rpc details of domain errors", () => {
  it.each([
    [new NotFoundError("TASK_NOT_FOUND", "task x does not exist"), Code.NotFound, "TASK_NOT_FOUND"],
    [new FailedPreconditionError("TASK_FINISHED", "finished"), Code.FailedPrecondition, "TASK_FINISHED"],
    [new AlreadyExistsError("WORKER_ALREADY_CONNECTED", "connected"), Code.AlreadyExists, "WORKER_ALREADY_CONNECTED"],
    [new UnavailableError("STORE_UNAVAILABLE", "down"), Code.Unavailable, "STORE_UNAVAILABLE"],
    [InvalidArgumentError.field("id", "is required"), Code.InvalidArgument, "INVALID_ARGUMENT"],
  ])("%s carries ErrorInfo with its reason, and keeps the taskwire-reason header", (error, code, reason) => {
    const mapped = toConnectError(error, logger, "Test");
    expect(mapped.code).toBe(code);
    expect(mapped.findDetails(ErrorInfoSchema)).toEqual([expect.objectContaining({ reason, domain: "taskwire.dev" })]);
    expect(mapped.metadata.get("taskwire-reason")).toBe(reason);
  });

  it("adds BadRequest with every field violation", () => {
    const error = new InvalidArgumentError(
      "two fields",
      [
        { field: "tasks[0].input", description: "too large" },
        { field: "tasks[1].type", description: "unknown" },
      ],
      "INPUT_TOO_LARGE",
    );
    const [badRequest] = toConnectError(error, logger, "Test").findDetails(BadRequestSchema);
    expect(badRequest?.fieldViolations.map((v) => [v.field, v.description, v.reason])).toEqual([
      ["tasks[0].input", "too large", "INPUT_TOO_LARGE"],
      ["tasks[1].type", "unknown", "INPUT_TOO_LARGE"],
    ]);
  });

  it("adds no BadRequest without violations, and RetryInfo only with UNAVAILABLE", () => {
    const invalid = toConnectError(new InvalidArgumentError("bad"), logger, "Test");
    expect(invalid.findDetails(BadRequestSchema)).toEqual([]);
    expect(invalid.findDetails(RetryInfoSchema)).toEqual([]);
    const unavailable = toConnectError(new UnavailableError("SHUTTING_DOWN", "stopping"), logger, "Test");
    expect(unavailable.findDetails(RetryInfoSchema)[0]?.retryDelay?.seconds).toBe(1n);
  });

  it("gives unexpected errors no details", () => {
    const mapped = toConnectError(new Error("secret internals"), logger, "Test");
    expect(mapped.code).toBe(Code.Internal);
    expect(mapped.details).toEqual([]);
  });
});
