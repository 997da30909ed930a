/**
 * The dashboard's only way to the server: the public API over Connect (binary Protobuf over
 * HTTP/1.1 or HTTP/2, `@connectrpc/connect-web`) on the page's own origin, with the API key of
 * the sign-in (kept in `sessionStorage` for the tab's session, sent as `authorization`, never put
 * in a URL).
 */
import { Code, ConnectError, createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { BadRequestSchema, ErrorInfoSchema } from "../../gen/google/rpc/error_details_pb.js";
import { AdminService } from "../../gen/taskwire/v1/admin_service_pb.js";
import { ScheduleService } from "../../gen/taskwire/v1/schedule_service_pb.js";
import { TaskService } from "../../gen/taskwire/v1/task_service_pb.js";

const KEY_STORAGE = "taskwire.apiKey";

/** The API key of this tab's sign-in, if any. */
export function storedKey(): string | undefined {
  return sessionStorage.getItem(KEY_STORAGE) ?? undefined;
}

/** Keeps `key` for this tab's session; undefined forgets it (sign-out). */
export function storeKey(key: string | undefined): void {
  if (key === undefined) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

/** The clients of the three services. */
export interface Clients {
  tasks: Client<typeof TaskService>;
  admin: Client<typeof AdminService>;
  schedules: Client<typeof ScheduleService>;
}

/** Calls made by this page, for the README's figure of what an open dashboard costs. */
export const callCount = { value: 0 };

/**
 * The server: the page's own origin, or `VITE_TASKWIRE_URL` when the page is served by Vite's
 * dev server (`VITE_TASKWIRE_URL=http://127.0.0.1:50051 npx vite --config ui/vite.config.ts`).
 */
const SERVER_URL: string = import.meta.env.VITE_TASKWIRE_URL ?? location.origin;

/** Clients that send `key` (when given) with every call. */
export function createClients(key: string | undefined, baseUrl = SERVER_URL): Clients {
  const auth: Interceptor = (next) => (request) => {
    callCount.value++;
    if (key !== undefined) request.header.set("authorization", `Bearer ${key}`);
    return next(request);
  };
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [auth] });
  return {
    tasks: createClient(TaskService, transport),
    admin: createClient(AdminService, transport),
    schedules: createClient(ScheduleService, transport),
  };
}

/** A call's error as one line for the page. */
export function errorText(error: unknown): string {
  const e = ConnectError.from(error);
  if (e.code === Code.Unauthenticated) return `Not signed in: ${e.rawMessage}`;
  if (e.code === Code.PermissionDenied) return `Not allowed: ${e.rawMessage}`;
  return e.rawMessage || Code[e.code];
}

/** The field violations of an INVALID_ARGUMENT error, by field path (`input`, `queue`, `labels`…). */
export function fieldErrors(error: unknown): Map<string, string> {
  const fields = new Map<string, string>();
  for (const detail of ConnectError.from(error).findDetails(BadRequestSchema)) {
    for (const violation of detail.fieldViolations) fields.set(violation.field, violation.description);
  }
  return fields;
}

/** The `google.rpc.ErrorInfo` reason of an error, if it has one. */
export function errorReason(error: unknown): string | undefined {
  return ConnectError.from(error).findDetails(ErrorInfoSchema)[0]?.reason;
}
