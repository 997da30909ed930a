/**
 * Who may call what: the roles of API keys, the permission every procedure needs, and the
 * services that stay open. The one table of access rules; the auth gate (`auth-gate.ts`)
 * applies it and the task service narrows client keys to their own tasks (`ownership.ts`).
 * Keep in line with the README's "Security" section.
 */

/** The role of an API key. */
export type Role = "client" | "worker" | "viewer" | "admin";

/** Every role, in the order the README lists them. */
export const ROLES: readonly Role[] = ["client", "worker", "viewer", "admin"];

/** What a procedure does, as far as access is concerned. */
export type Permission =
  /** Submit and SubmitBatch. */
  | "tasks.submit"
  /** GetStatus, GetResult, StreamProgress, ListTasks, ListTypes, GetTaskType, GetTaskLogs, StreamTaskLogs. */
  | "tasks.read"
  /** Cancel. */
  | "tasks.cancel"
  /** WorkerService.Connect: take and run tasks. */
  | "worker.connect"
  /** AdminService reads: workers, servers, queues, counts, the overview, the caller; ScheduleService reads. */
  | "fleet.read"
  /** AdminService actions: drain, pause/resume, purge, bulk retry/cancel/delete; ScheduleService changes. */
  | "fleet.act";

/**
 * The permissions of each role. A client key reads and cancels only the tasks it submitted
 * (enforced by the task service); a viewer key reads every task and the whole fleet and can act
 * on nothing (the dashboard's read-only sign-in); an admin key has every permission on every task.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  client: new Set(["tasks.submit", "tasks.read", "tasks.cancel"]),
  worker: new Set(["worker.connect"]),
  viewer: new Set(["tasks.read", "fleet.read"]),
  admin: new Set(["tasks.submit", "tasks.read", "tasks.cancel", "worker.connect", "fleet.read", "fleet.act"]),
};

/** The permission each procedure needs, by `<service>/<method>`. */
export const PROCEDURE_PERMISSIONS: Readonly<Record<string, Permission>> = {
  "taskwire.v1.TaskService/Submit": "tasks.submit",
  "taskwire.v1.TaskService/SubmitBatch": "tasks.submit",
  "taskwire.v1.TaskService/GetStatus": "tasks.read",
  "taskwire.v1.TaskService/ExplainTask": "tasks.read",
  "taskwire.v1.TaskService/GetResult": "tasks.read",
  "taskwire.v1.TaskService/StreamProgress": "tasks.read",
  "taskwire.v1.TaskService/ListTypes": "tasks.read",
  "taskwire.v1.TaskService/ListTasks": "tasks.read",
  "taskwire.v1.TaskService/GetTaskType": "tasks.read",
  "taskwire.v1.TaskService/GetTaskLogs": "tasks.read",
  "taskwire.v1.TaskService/StreamTaskLogs": "tasks.read",
  "taskwire.v1.TaskService/Cancel": "tasks.cancel",
  "taskwire.v1.WorkerService/Connect": "worker.connect",
  "taskwire.v1.AdminService/ListWorkers": "fleet.read",
  "taskwire.v1.AdminService/GetWorker": "fleet.read",
  "taskwire.v1.AdminService/ListServers": "fleet.read",
  "taskwire.v1.AdminService/ListQueues": "fleet.read",
  "taskwire.v1.AdminService/GetQueue": "fleet.read",
  "taskwire.v1.AdminService/CountTasks": "fleet.read",
  "taskwire.v1.AdminService/GetOverview": "fleet.read",
  "taskwire.v1.AdminService/GetCaller": "fleet.read",
  "taskwire.v1.AdminService/DrainWorker": "fleet.act",
  "taskwire.v1.AdminService/PauseQueue": "fleet.act",
  "taskwire.v1.AdminService/ResumeQueue": "fleet.act",
  "taskwire.v1.AdminService/PurgeQueue": "fleet.act",
  "taskwire.v1.AdminService/RetryTasks": "fleet.act",
  "taskwire.v1.AdminService/CancelTasks": "fleet.act",
  "taskwire.v1.AdminService/DeleteTasks": "fleet.act",
  "taskwire.v1.AdminService/TransferTaskType": "fleet.act",
  "taskwire.v1.AdminService/ResetTaskType": "fleet.act",
  "taskwire.v1.ScheduleService/GetSchedule": "fleet.read",
  "taskwire.v1.ScheduleService/ListSchedules": "fleet.read",
  "taskwire.v1.ScheduleService/CreateSchedule": "fleet.act",
  "taskwire.v1.ScheduleService/UpsertSchedule": "fleet.act",
  "taskwire.v1.ScheduleService/UpdateSchedule": "fleet.act",
  "taskwire.v1.ScheduleService/PauseSchedule": "fleet.act",
  "taskwire.v1.ScheduleService/ResumeSchedule": "fleet.act",
  "taskwire.v1.ScheduleService/TriggerSchedule": "fleet.act",
  "taskwire.v1.ScheduleService/DeleteSchedule": "fleet.act",
};

/**
 * Services any caller may use without a key: health (load balancers and Kubernetes probes carry
 * no credentials) and reflection (the schema of the built-in API, no data).
 */
export const OPEN_SERVICES: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/**
 * Open services that read a key when one is sent (a wrong one is refused): reflection describes
 * the messages of worker-declared task types only to a caller whose key may read tasks
 * ({@link CATALOG_PERMISSION}), as `ListTypes` lists them only to such a caller.
 */
export const KEY_AWARE_OPEN_SERVICES: ReadonlySet<string> = new Set(["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"]);

/** What a key needs to see the task types workers declared (`ListTypes`, and their schemas through reflection). */
export const CATALOG_PERMISSION: Permission = "tasks.read";

/** Whether `value` names a role. */
export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/**
 * What a call of `service`/`method` needs: `"open"` for the open services, the permission for
 * the known procedures, `"admin"` for anything else (closed by default).
 */
export function accessOf(service: string, method: string): "open" | "admin" | Permission {
  if (OPEN_SERVICES.has(service)) return "open";
  return PROCEDURE_PERMISSIONS[`${service}/${method}`] ?? "admin";
}

/** Whether a key of `role` may make a call that needs `access`. */
export function roleAllows(role: Role, access: "open" | "admin" | Permission): boolean {
  if (access === "open" || role === "admin") return true;
  if (access === "admin") return false;
  return ROLE_PERMISSIONS[role].has(access);
}
