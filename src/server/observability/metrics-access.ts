/**
 * Who may read `GET /metrics`. With `TASKWIRE_METRICS_AUTH=on` (the default when the server
 * checks API keys) a scrape needs a `viewer` or `admin` key (the `fleet.read` permission of
 * `roles.ts`: the figures describe the whole fleet), sent as Prometheus sends credentials:
 * `authorization: Bearer <token>`. With `off`, or when the server runs without keys, anyone
 * who reaches the port may read it. Keep in line with the README's "Metrics" section.
 */
import { ConfigError, SETTINGS, type ServerConfig } from "../../config/config.js";
import { UnauthenticatedError } from "../../core/errors.js";
import { authenticate, type AuthMode } from "../auth/index.js";
import { roleAllows, ROLES, type Permission } from "../auth/roles.js";
import type { MetricsEndpoint } from "../transport/metrics-route.js";

/** What a key needs to read the metrics: viewer and admin keys have it. */
export const METRICS_PERMISSION: Permission = "fleet.read";

/**
 * The `authorize` of the metrics route for `mode` and `TASKWIRE_METRICS_AUTH`.
 * @throws ConfigError when the setting is `on` but the server has no API keys.
 */
export function metricsAccess(mode: AuthMode, setting: ServerConfig["metricsAuth"]): MetricsEndpoint["authorize"] {
  if (setting === "off") return () => undefined;
  if (mode.kind === "off") {
    if (setting === "on") {
      const name = (key: keyof ServerConfig) => `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;
      throw new ConfigError(`${name("metricsAuth")} is on but the server checks no API keys: configure keys (${name("apiKeysFile")} or ${name("apiKeys")})`);
    }
    return () => undefined;
  }
  const allowed = ROLES.filter((role) => roleAllows(role, METRICS_PERMISSION)).join(" or ");
  return (authorization) => {
    try {
      const caller = authenticate(authorization ?? null, mode.keys);
      if (roleAllows(caller.role, METRICS_PERMISSION)) return undefined;
      return { status: 403, message: `API key "${caller.keyId}" has role ${caller.role}; /metrics needs a ${allowed} key` };
    } catch (error) {
      if (error instanceof UnauthenticatedError) return { status: 401, message: `${error.message} (a ${allowed} key)` };
      throw error;
    }
  };
}
