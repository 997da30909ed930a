/**
 * The typed client: submit, follow progress, wait for results.
 * Start a server and a worker serving examples/tasks.ts first, then:
 * `npx tsx examples/client.ts`
 */
import { createClient, TaskFailedError } from "../src/client/index.js";
import { factorial, flaky, processData } from "./tasks.js";

const client = createClient({ url: process.env["TASKWIRE_URL"] ?? "http://127.0.0.1:50051" });

// The input is typed by the task's input schema (here JSON, for google.protobuf.Struct).
const job = await client.submit(processData, { count: 300, chunkSize: 25 }, { priority: 10 });
console.log(`submitted ${job.id}`);
for await (const event of job.progress()) {
  const { percent = 0, current, total } = event.progress ?? {};
  console.log(`${percent.toFixed(0).padStart(3)}%  ${current ?? "?"}/${total ?? "?"}`);
}
console.log("summary:", await job.result());

// Typed with wrapper messages: the input is a UInt32Value, the output a StringValue.
const fact = await client.submit(factorial, { value: 1000 });
const { value: digits } = await fact.result();
console.log(`1000! has ${digits.length} digits`);

// Failures surface as TaskFailedError, with the error of every attempt.
const shaky = await client.submit(flaky, { failTimes: 1 }, { maxAttempts: 1 });
try {
  await shaky.result({ timeout: "30s" });
} catch (error) {
  if (!(error instanceof TaskFailedError)) throw error;
  for (const attempt of error.errors) console.log(`attempt ${attempt.attempt}: ${attempt.message}`);
}

client.close();
