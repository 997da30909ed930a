import { describe, expect, it } from "vitest";
import { factorial, flaky, longRunning, processData } from "../../examples/tasks.js";
import { NonRetryableError, runTask, CancelRequestedError } from "../../src/worker/index.js";

describe("example tasks", () => {
  it("factorial returns n! as a string", async () => {
    expect((await runTask(factorial, { value: 20 })).output.value).toBe("2432902008176640000");
    expect((await runTask(factorial, { value: 0 })).output.value).toBe("1");
    await expect(runTask(factorial, { value: 20_001 })).rejects.toThrow(NonRetryableError);
  });

  it("process_data summarizes items in chunks with progress", async () => {
    const { output, progress } = await runTask(processData, { items: [1, 2, "x", 4], chunkSize: 2 });
    expect(output).toEqual({ processed: 4, chunks: 2, numbers: 3, sum: 7, mean: 7 / 3 });
    expect(progress.map((p) => [p.current, p.total])).toEqual([
      [2, 4],
      [4, 4],
    ]);
    await expect(runTask(processData, { count: "many" })).rejects.toThrow(NonRetryableError);
  });

  it("flaky fails its first attempts, retryably, then succeeds", async () => {
    await expect(runTask(flaky, { failTimes: 2 }, { attempt: 2 })).rejects.toThrow("transient failure on attempt 2");
    expect((await runTask(flaky, { failTimes: 2 }, { attempt: 3 })).output).toEqual({ attempts: 3 });
    expect(flaky.spec.retries).toBeGreaterThanOrEqual(2);
  });

  it("long_running reports every step and stops on cancel", async () => {
    const { output, progress } = await runTask(longRunning, { seconds: 0.04, steps: 4 });
    expect(output).toEqual({ seconds: 0.04, steps: 4 });
    expect(progress.map((p) => p.percent)).toEqual([25, 50, 75, 100]);

    const controller = new AbortController();
    const run = runTask(longRunning, { seconds: 60 }, { signal: controller.signal });
    controller.abort(new CancelRequestedError("test"));
    await expect(run).rejects.toThrow();
  });
});
