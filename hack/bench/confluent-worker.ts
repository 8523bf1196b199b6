// A bench-only worker process: the product's worker (model, batching, routing, writing, commits, shutdown) with
// its consumer taken from the confluent client instead of kafkajs, configured as worker/src/main.ts is, plus
// BENCH_GROUP_PROTOCOL (cooperative or kip848). The scaling bench starts it in place of main.ts.
import { parseWorkerConfig } from "../../worker/src/config.ts";
import { startWorker } from "../../worker/src/worker.ts";
import { loadConfluentKafkaJS } from "./confluent-client.ts";
import { confluentWorkerConsumer, type GroupProtocol, groupProtocols } from "./confluent-consumer.ts";

function fail(problem: string): never {
  console.error(`confluent worker: ${problem}`);
  process.exit(2);
}

const parsed = parseWorkerConfig(process.env);
if (!parsed.ok) fail(`invalid configuration:\n${parsed.problems.map((p) => `  - ${p}`).join("\n")}`);
const protocol = process.env.BENCH_GROUP_PROTOCOL as GroupProtocol;
if (!groupProtocols.includes(protocol)) {
  fail(`BENCH_GROUP_PROTOCOL must be one of ${groupProtocols.join(", ")}, got '${protocol ?? ""}'`);
}
const { config } = parsed;
const client = loadConfluentKafkaJS();
const worker = await startWorker(config, {
  createConsumer: (options) =>
    confluentWorkerConsumer(
      client,
      { brokers: config.kafka.bootstrapServers, clientId: config.kafka.clientId },
      options,
      protocol,
      config.batch.maxSize,
    ),
});
// The bench stops its workers with SIGTERM and waits for them: the graceful stop is the one main.ts makes.
process.once("SIGTERM", () => {
  worker.stop().then(
    () => process.exit(0),
    (error: Error) => fail(`stop failed: ${error.message}`),
  );
});
