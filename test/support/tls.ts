/**
 * A self-signed certificate for TLS tests, made at test time by the machine's `openssl` into a
 * temporary directory: valid for `localhost`, 127.0.0.1 and ::1, so clients that trust it (as
 * their CA) verify the server's identity as they would in production.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

/** The files of a certificate and their contents. */
export interface TestCertificate {
  dir: string;
  certPath: string;
  keyPath: string;
  /** PEM of the certificate: what clients trust. */
  cert: Buffer;
  remove(): Promise<void>;
}

/** Makes a fresh self-signed EC certificate valid for one day. */
export async function makeSelfSignedCertificate(): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), "taskwire-tls-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  await promisify(execFile)("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
    "-keyout", keyPath, "-out", certPath, "-days", "1", "-subj", "/CN=localhost",
    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1",
  ]);
  return { dir, certPath, keyPath, cert: await readFile(certPath), remove: () => rm(dir, { recursive: true, force: true }) };
}
