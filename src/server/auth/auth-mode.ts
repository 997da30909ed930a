/**
 * Whether a server checks API keys, decided once at start from the keys, `TASKWIRE_AUTH` and the
 * host it listens on:
 *
 * - keys configured (file or environment): every call but health and reflection needs one;
 * - no keys, loopback host (127.0.0.0/8, ::1, localhost): authentication is off, for the
 *   embedded default and development, and the server says so loudly at start;
 * - no keys, any other host: refused with a {@link ConfigError}, unless `TASKWIRE_AUTH=off` says
 *   it on purpose (also said loudly).
 *
 * Keep in line with the README's "Security" section.
 */
import { isIP } from "node:net";
import { ConfigError, SETTINGS, type ServerConfig } from "../../config/config.js";
import { loadKeyStore, type KeyStore } from "./key-store.js";

/** How calls are authenticated. */
export type AuthMode =
  | { kind: "keys"; keys: KeyStore }
  /** No authentication; `exposed` when the host is not loopback (`TASKWIRE_AUTH=off` given). */
  | { kind: "off"; exposed: boolean };

const setting = (key: keyof ServerConfig) => `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./.test(bare);
  return false;
}

/**
 * Decides the mode from the loaded keys; see the file header.
 * @throws ConfigError naming the settings when the combination is unsafe or contradictory.
 */
export function resolveAuthMode(config: Pick<ServerConfig, "host" | "auth" | "apiKeysFile" | "apiKeys">, keys: KeyStore): AuthMode {
  const sources = `${setting("apiKeysFile")} or ${setting("apiKeys")}`;
  const keysConfigured = config.apiKeysFile !== undefined || config.apiKeys !== undefined;
  if (config.auth === "off") {
    if (keysConfigured) {
      throw new ConfigError(`${setting("auth")} is off but API keys are configured (${sources}): remove one or the other`);
    }
    return { kind: "off", exposed: !isLoopbackHost(config.host) };
  }
  if (keysConfigured || config.auth === "on") {
    if (keys.size === 0) {
      throw new ConfigError(
        keysConfigured
          ? `no API keys found in ${sources}: add keys (taskwire keys create <id> --role <role>)`
          : `${setting("auth")} is on but no API keys are configured: set ${sources}`,
      );
    }
    return { kind: "keys", keys };
  }
  if (isLoopbackHost(config.host)) return { kind: "off", exposed: false };
  throw new ConfigError(
    `the server listens on ${config.host} (${setting("host")}), which is not loopback, and no API keys are configured: ` +
      `set ${sources} (taskwire keys create <id> --role <role>), or ${setting("auth")} off to serve without authentication on purpose`,
  );
}

/** Loads the keys and decides the mode. @throws ConfigError as {@link loadKeyStore} and {@link resolveAuthMode}. */
export async function loadAuthMode(config: ServerConfig): Promise<AuthMode> {
  return resolveAuthMode(config, await loadKeyStore(config));
}

/** The warning a server without authentication logs at start, naming its address. */
export function authOffWarning(host: string, port: number, exposed: boolean): string {
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  const who = exposed ? `anyone on the network who can reach ${address}` : `anyone who can reach ${address}`;
  return (
    `authentication is OFF: ${who} can submit, read and cancel every task and connect as a worker. ` +
    `Configure API keys (${setting("apiKeysFile")} or ${setting("apiKeys")}) before exposing this server`
  );
}
