import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { ConfigError, loadServerConfig } from "../../src/config/config.js";
import { loadTlsCredentials } from "../../src/server/transport/tls-credentials.js";
import { makeSelfSignedCertificate, type TestCertificate } from "../support/tls.js";

let one: TestCertificate;
let other: TestCertificate;

beforeAll(async () => {
  [one, other] = await Promise.all([makeSelfSignedCertificate(), makeSelfSignedCertificate()]);
});

afterAll(async () => {
  await Promise.all([one?.remove(), other?.remove()]);
});

describe("TLS credentials", () => {
  it("are none without settings, and read from both files", async () => {
    expect(await loadTlsCredentials(loadServerConfig({}))).toBeUndefined();
    const credentials = await loadTlsCredentials(loadServerConfig({ TASKWIRE_TLS_CERT: one.certPath, TASKWIRE_TLS_KEY: one.keyPath }));
    expect(credentials?.cert.equals(one.cert)).toBe(true);
  });

  it.each([
    [{ TASKWIRE_TLS_CERT: "/c.pem" }, /TASKWIRE_TLS_CERT \(--tls-cert\) is set but TASKWIRE_TLS_KEY \(--tls-key\) is not/],
    [{ TASKWIRE_TLS_KEY: "/k.pem" }, /TASKWIRE_TLS_KEY \(--tls-key\) is set but TASKWIRE_TLS_CERT \(--tls-cert\) is not/],
  ])("need both settings: %o", async (env, message) => {
    await expect(loadTlsCredentials(loadServerConfig(env))).rejects.toThrow(message);
  });

  it("name the unreadable file and refuse a key of another certificate", async () => {
    await expect(loadTlsCredentials({ tlsCert: join(one.dir, "nope.pem"), tlsKey: one.keyPath })).rejects.toThrow(
      /TASKWIRE_TLS_CERT \(--tls-cert\): cannot read .*nope\.pem/,
    );
    const mismatch = loadTlsCredentials({ tlsCert: one.certPath, tlsKey: other.keyPath });
    await expect(mismatch).rejects.toBeInstanceOf(ConfigError);
    await expect(loadTlsCredentials({ tlsCert: one.certPath, tlsKey: other.keyPath })).rejects.toThrow(/must be a PEM certificate and its matching private key/);
    await expect(loadTlsCredentials({ tlsCert: one.keyPath, tlsKey: one.certPath })).rejects.toThrow(/must be a PEM certificate/);
  });
});
