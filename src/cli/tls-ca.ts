/**
 * `--tls-ca` (`TASKWIRE_TLS_CA`): the certificate authorities client commands and workers trust
 * for `https://` URLs, read once from a PEM file.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { UsageError, type GlobalOptions } from "./context.js";

/**
 * The PEM contents of `--tls-ca`, read from the file (relative to `cwd`); undefined without it.
 * @throws UsageError when the file cannot be read.
 */
export function readTlsCa(globals: Pick<GlobalOptions, "tlsCa">, cwd: string): Buffer | undefined {
  if (globals.tlsCa === undefined) return undefined;
  const path = resolve(cwd, globals.tlsCa);
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`--tls-ca (TASKWIRE_TLS_CA): cannot read ${path}: ${(error as Error).message}`);
  }
}
