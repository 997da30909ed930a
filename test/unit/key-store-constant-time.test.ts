/**
 * The key store compares hashes with `crypto.timingSafeEqual`, against every key, whatever the
 * token: a spy on node:crypto proves the comparison is the constant-time one.
 */
import type * as Crypto from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";

const { timingSafeEqual } = vi.hoisted(() => ({ timingSafeEqual: vi.fn() }));
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof Crypto>();
  timingSafeEqual.mockImplementation(actual.timingSafeEqual);
  return { ...actual, timingSafeEqual };
});

const { hashToken, KeyStore } = await import("../../src/server/auth/index.js");

describe("KeyStore comparison", () => {
  afterEach(() => timingSafeEqual.mockClear());

  const store = new KeyStore([
    { id: "a", role: "client", hash: hashToken("token-a") },
    { id: "b", role: "worker", hash: hashToken("token-b") },
    { id: "c", role: "admin", hash: hashToken("token-c") },
  ]);

  it("uses timingSafeEqual on 32-byte hashes, against every key even after a match", () => {
    expect(store.authenticate("token-a")?.id).toBe("a");
    expect(timingSafeEqual).toHaveBeenCalledTimes(3);
    for (const [left, right] of timingSafeEqual.mock.calls as [Buffer, Buffer][]) {
      expect(left).toHaveLength(32);
      expect(right).toHaveLength(32);
    }
  });

  it("does the same work for a wrong token of another length", () => {
    expect(store.authenticate("short")).toBeUndefined();
    expect(store.authenticate("a much longer token than any configured one".repeat(10))).toBeUndefined();
    expect(timingSafeEqual).toHaveBeenCalledTimes(6);
  });
});
