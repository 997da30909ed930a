/** The bounds of a failed attempt's stack and details, shared by the worker SDK and the server. */
import { describe, expect, it } from "vitest";
import { cutStack, oversizeDetails, utf8Length } from "../../src/core/error-bounds.js";
import { MAX_ERROR_STACK_BYTES } from "../../src/core/task-types.js";

describe("cutStack", () => {
  it("keeps a stack that fits as it is", () => {
    const stack = "Error: boom\n    at f (a.ts:1:1)";
    expect(cutStack(stack)).toBe(stack);
    const exactly = "x".repeat(MAX_ERROR_STACK_BYTES);
    expect(cutStack(exactly)).toBe(exactly);
  });

  it("keeps the top of a long stack, at a line end, and marks the cut", () => {
    const frames = Array.from({ length: 5000 }, (_, i) => `    at frame${i} (file.ts:${i}:1)`);
    const stack = ["Error: deep", ...frames].join("\n");
    const cut = cutStack(stack);
    expect(utf8Length(cut)).toBeLessThanOrEqual(MAX_ERROR_STACK_BYTES);
    expect(cut.startsWith("Error: deep\n    at frame0 (file.ts:0:1)\n")).toBe(true);
    expect(cut).toMatch(new RegExp(`\\(file\\.ts:\\d+:1\\)\\n\\[stack cut to ${MAX_ERROR_STACK_BYTES} of ${utf8Length(stack)} bytes\\]$`));
  });

  it("never cuts inside a character", () => {
    // One line of 3- and 4-byte characters: no line end to cut at.
    for (const char of ["€", "😀", "é"]) {
      const cut = cutStack(char.repeat(20_000), 1000);
      expect(utf8Length(cut)).toBeLessThanOrEqual(1000);
      expect(cut).not.toContain("\uFFFD");
      const kept = cut.slice(0, cut.indexOf("\n["));
      expect(kept).toBe(char.repeat(kept.length / char.length));
      expect(kept.length).toBeGreaterThan(0);
    }
  });
});

describe("oversizeDetails", () => {
  it("says why details over the bound are dropped, in bytes of UTF-8", () => {
    expect(oversizeDetails(JSON.stringify({ a: "x".repeat(100) }))).toBeUndefined();
    expect(oversizeDetails(JSON.stringify({ a: "€".repeat(6000) }))).toBe("18008 bytes of JSON, over the limit of 16384");
  });
});
