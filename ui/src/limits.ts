/** Dispatch limits (`AdminService.ListLimits`) as the Queues and Types screens show them. */
import type { DispatchLimits } from "../../gen/taskwire/v1/task_pb.js";
import type { Clients } from "./api.js";
import { formatDuration } from "./format.js";

/** The limits in force per queue and per type; empty maps when the server lists none (or the key may not read them). */
export async function loadLimits(clients: Clients, signal: AbortSignal): Promise<{ queues: Map<string, DispatchLimits>; types: Map<string, DispatchLimits> }> {
  const queues = new Map<string, DispatchLimits>();
  const types = new Map<string, DispatchLimits>();
  try {
    for (const limit of (await clients.admin.listLimits({}, { signal })).limits) {
      if (limit.effective === undefined) continue;
      if (limit.target.case === "queue") queues.set(limit.target.value, limit.effective);
      else if (limit.target.case === "type") types.set(limit.target.value, limit.effective);
    }
  } catch {
    // Limits are an addition to these screens, not a reason to fail them.
  }
  return { queues, types };
}

/** `5 running · 2 per key · 10 per 1.0 s`; `none` without any. */
export function describeLimits(limits: DispatchLimits | undefined): string {
  if (limits === undefined) return "none";
  const parts: string[] = [];
  if (limits.concurrency) parts.push(`${limits.concurrency} running`);
  if (limits.perKey) parts.push(`${limits.perKey} per key`);
  if (limits.rate?.count) parts.push(`${limits.rate.count} per ${formatDuration(limits.rate.interval)}`);
  if (limits.keyRate?.count) parts.push(`${limits.keyRate.count} per key per ${formatDuration(limits.keyRate.interval)}`);
  return parts.length === 0 ? "none" : parts.join(" · ");
}
