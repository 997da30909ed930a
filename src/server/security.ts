/**
 * What a server needs to know, before it serves, about who may call it and how: the
 * authentication mode with its API keys (`auth/`) and the TLS credentials. Loaded once at start,
 * before any storage is opened, so a bad key file or certificate stops the server at once with a
 * `ConfigError` naming the setting. Keep in line with the README's "Security" section.
 */
import type { ServerConfig } from "../config/config.js";
import { loadAuthMode, type AuthMode } from "./auth/index.js";
import { loadTlsCredentials, type TlsCredentials } from "./transport/tls-credentials.js";

/** Authentication and transport security of a server. */
export interface ServerSecurity {
  auth: AuthMode;
  /** Undefined: cleartext (h2c and HTTP/1.1). */
  tls: TlsCredentials | undefined;
}

/** Reads keys and certificates. @throws ConfigError naming the setting at fault. */
export async function loadServerSecurity(config: ServerConfig): Promise<ServerSecurity> {
  const [auth, tls] = await Promise.all([loadAuthMode(config), loadTlsCredentials(config)]);
  return { auth, tls };
}
