/**
 * The server's registration, every {@link SERVER_HEARTBEAT_MS}: its row in `servers` (id, host,
 * version, address, state, worker streams) is written with the time, so that any server can
 * list the fleet (`AdminService.ListServers`). A server silent for three heartbeats is no longer
 * listed; rows silent for an hour are deleted by whichever server heart-beats next. A server
 * that stops cleanly deletes its own row (`close`).
 */
import { hostname } from "node:os";
import type { Logger } from "../../core/logger.js";
import type { ServerRecord } from "../../core/task-types.js";
import { TASKWIRE_VERSION } from "../../core/version.js";
import type { TaskStore } from "../../store/store.js";
import type { SessionRegistry } from "../engine/session-registry.js";
import { periodic, type Duty } from "./duty.js";

/** How often a server writes its heartbeat. */
export const SERVER_HEARTBEAT_MS = 5_000;
/** A server is listed while its last heartbeat is younger than this. */
export const SERVER_SILENCE_MS = 3 * SERVER_HEARTBEAT_MS;
/** Rows of servers silent this long are deleted. */
const SERVER_PRUNE_MS = 60 * 60_000;

export interface ServerHeartbeatDeps {
  serverId: string;
  /** host:port it listens on. */
  address: () => string;
  state: () => ServerRecord["state"];
  startedAt: Date;
  store: TaskStore;
  sessions: SessionRegistry;
  logger: Logger;
}

/** The registration duty; `beat()` writes the row at once (at start, when the state changes). */
export interface ServerHeartbeat extends Duty {
  beat(): Promise<void>;
}

export function serverHeartbeat(deps: ServerHeartbeatDeps): ServerHeartbeat {
  const host = hostname();
  async function beat(): Promise<void> {
    const now = new Date();
    await deps.store.upsertServer({
      id: deps.serverId,
      host,
      pid: process.pid,
      version: TASKWIRE_VERSION,
      address: deps.address(),
      state: deps.state(),
      startedAt: deps.startedAt,
      lastHeartbeatAt: now,
      workerCount: deps.sessions.size,
    });
  }
  const duty = periodic({
    name: "server heartbeat",
    intervalMs: SERVER_HEARTBEAT_MS,
    logger: deps.logger,
    async run() {
      await beat();
      await deps.store.pruneServers(new Date(Date.now() - SERVER_PRUNE_MS));
    },
  });
  return {
    ...duty,
    beat,
    async close() {
      await duty.close();
      await deps.store.deleteServer(deps.serverId).catch((error: unknown) => deps.logger.warn({ err: error }, "could not remove this server's registration"));
    },
  };
}
