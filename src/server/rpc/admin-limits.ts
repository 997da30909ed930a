/**
 * The limit RPCs of `taskwire.v1.AdminService` (SetLimit, ClearLimit, ListLimits): an operator's
 * dispatch limits on task types and queues, stored in PostgreSQL (`store/queries/dispatch-limits.ts`)
 * and put in force on this server at once and on the others through the control plane (and in any
 * case within a second, `server/duties/limits-refresh.ts`). Keep in line with the README's
 * "Limits and fairness" section.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { AdminService, ClearLimitRequest, Limit, SetLimitRequest } from "../../../gen/taskwire/v1/admin_service_pb.js";
import { effectiveLimits, type LimitOverrideRecord, type LimitScope, type LimitValues } from "../../core/dispatch-limits.js";
import { InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import { TYPE_NAME } from "../../core/limits.js";
import type { Logger } from "../../core/logger.js";
import type { TaskStore } from "../../store/store.js";
import { limitToProto, limitValuesFromProto } from "./limits-convert.js";
import { validQueue } from "./task-selector.js";

/** What the limit RPCs need. */
export interface AdminLimitsDeps {
  store: TaskStore;
  /** Limits changed here: read them again on this server now and tell the other servers. */
  onLimitsChanged: () => Promise<void>;
  logger: Logger;
}

type LimitRpcs = Pick<ServiceImpl<typeof AdminService>, "setLimit" | "clearLimit" | "listLimits">;

/** Builds the three RPCs, spread into the admin service. */
export function createAdminLimits(deps: AdminLimitsDeps): LimitRpcs {
  const { store } = deps;

  /** The request's target, validated: a known task type (NOT_FOUND otherwise) or a queue name. */
  async function target(request: SetLimitRequest | ClearLimitRequest): Promise<{ scope: LimitScope; name: string; declared: LimitValues | null }> {
    if (request.target.case === "type") {
      const name = request.target.value;
      if (!TYPE_NAME.test(name)) throw InvalidArgumentError.field("type", name === "" ? "is required" : `"${name.slice(0, 64)}" is not a task type name`);
      const found = await store.getTaskType(name);
      if (!found) throw new NotFoundError("TASK_TYPE_NOT_FOUND", `task type "${name}" is not known: no worker has declared it`);
      return { scope: "type", name, declared: found.defaults.limits ?? null };
    }
    if (request.target.case === "queue") return { scope: "queue", name: validQueue(request.target.value, "queue"), declared: null };
    throw InvalidArgumentError.field("target", "a type or a queue is required");
  }

  function entry(scope: LimitScope, name: string, declared: LimitValues | null, override: LimitOverrideRecord | undefined): Limit {
    return limitToProto({
      scope,
      name,
      effective: effectiveLimits(declared, override),
      declared,
      override: override ?? null,
      updatedAt: override?.updatedAt ?? null,
    });
  }

  async function changed(): Promise<void> {
    await deps.onLimitsChanged().catch((error: unknown) => {
      deps.logger.warn({ err: error }, "could not apply the limits at once; every server reads them within a second");
    });
  }

  return {
    async setLimit(request) {
      const { scope, name, declared } = await target(request);
      if (request.limits === undefined) throw InvalidArgumentError.field("limits", "is required");
      const patch = limitValuesFromProto(request.limits, "limits");
      if (Object.keys(patch).length === 0) throw InvalidArgumentError.field("limits", "sets nothing: give concurrency, per_key, rate or key_rate");
      const saved = await store.setDispatchLimit(scope, name, patch, new Date());
      await changed();
      deps.logger.info({ scope, name, limits: saved }, "limits set");
      return { limit: entry(scope, name, declared, saved) };
    },

    async clearLimit(request) {
      const { scope, name, declared } = await target(request);
      const cleared = await store.clearDispatchLimit(scope, name);
      if (cleared) {
        await changed();
        deps.logger.info({ scope, name }, "limits cleared");
      }
      return { limit: entry(scope, name, declared, undefined) };
    },

    async listLimits() {
      const [overrides, types] = await Promise.all([store.listDispatchLimits(), store.listTaskTypes()]);
      const byKey = new Map(overrides.map((o) => [`${o.scope}:${o.name}`, o]));
      const limits: Limit[] = [];
      const typeNames = new Set<string>();
      for (const type of types) {
        const declared = type.defaults.limits ?? null;
        const override = byKey.get(`type:${type.name}`);
        if (declared === null && override === undefined) continue;
        typeNames.add(type.name);
        limits.push(entry("type", type.name, declared, override));
      }
      for (const override of overrides) {
        // A type forgotten since (ResetTaskType keeps rows): its override is still listed.
        if (override.scope === "type" && !typeNames.has(override.name)) limits.push(entry("type", override.name, null, override));
      }
      limits.sort((a, b) => (a.target.value ?? "").localeCompare(b.target.value ?? ""));
      for (const override of overrides) if (override.scope === "queue") limits.push(entry("queue", override.name, null, override));
      return { limits };
    },
  };
}
