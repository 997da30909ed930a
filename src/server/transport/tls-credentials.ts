/**
 * The TLS certificate and key of a server (`TASKWIRE_TLS_CERT`, `TASKWIRE_TLS_KEY`), read and
 * checked once at start: both or neither, readable, PEM, and the key matching the certificate.
 * Keep in line with the README's "Security" section.
 */
import { readFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { ConfigError, SETTINGS, type ServerConfig } from "../../config/config.js";

/** PEM contents of the certificate (chain) and its private key. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

const setting = (key: "tlsCert" | "tlsKey") => `${SETTINGS[key].env} (--${SETTINGS[key].flag})`;

/**
 * Reads the credentials, or undefined when TLS is not configured.
 * @throws ConfigError naming the setting at fault.
 */
export async function loadTlsCredentials(config: Pick<ServerConfig, "tlsCert" | "tlsKey">): Promise<TlsCredentials | undefined> {
  if (config.tlsCert === undefined && config.tlsKey === undefined) return undefined;
  if (config.tlsCert === undefined || config.tlsKey === undefined) {
    const [set, unset] = config.tlsCert === undefined ? (["tlsKey", "tlsCert"] as const) : (["tlsCert", "tlsKey"] as const);
    throw new ConfigError(`${setting(set)} is set but ${setting(unset)} is not: TLS needs both the certificate and its key`);
  }
  const read = async (key: "tlsCert" | "tlsKey", path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new ConfigError(`${setting(key)}: cannot read ${path}: ${(error as Error).message}`);
    }
  };
  const credentials = { cert: await read("tlsCert", config.tlsCert), key: await read("tlsKey", config.tlsKey) };
  try {
    createSecureContext(credentials);
  } catch (error) {
    throw new ConfigError(
      `${setting("tlsCert")} and ${setting("tlsKey")} must be a PEM certificate and its matching private key: ${(error as Error).message}`,
    );
  }
  return credentials;
}
