// `npm run bench [-- --json]`: throughput of (a) the worker's consume+produce path with no inference, (b) the
// worker, (c) the seed's style (eachMessage, one inference and one synchronous commit per message), all on the
// same broker and the same pre-produced requests; then end-to-end latency of (b) at a fixed offered load.
// Prints figures and asserts nothing. The scenarios live in hack/bench/.
// `npm run bench -- --operator N [--partitions P]` runs only the operator at scale (hack/bench/operator-scale.ts).

import { describeBreakdown, latencyAtLoad, offeredSeconds, warmUpSeconds } from "./bench/latency.ts";
import { describeOperatorScale, operatorAtScale } from "./bench/operator-scale.ts";
import { messages, seedStyleRate, seedStyleSeconds, workerConfig, workerRate } from "./bench/throughput.ts";
import { createTopics, partitions, produceAll } from "./bench/workload.ts";
import { HarnessError, runCli } from "./harness/cli.ts";
import { kafkaClient } from "./harness/kafka-client.ts";
import { startKafka } from "./harness/kafka-cluster.ts";

const offeredRate = Number(process.env.BENCH_OFFERED_RATE ?? 2_000);
/**
 * 1,000 pipelines have 3,000 topics on the one broker: at 1 partition each that is 3,000 partitions, within what
 * one small broker holds (at the default 8 it would be 24,000, a broker's whole budget of files and memory here).
 */
const operatorDefaults = { pipelines: 1_000, partitions: 1 };

/** The whole number after `flag`, the fallback when the flag is absent; anything else is an error naming it. */
function countAfter(args: string[], flag: string, fallback: number): number {
  const at = args.indexOf(flag);
  if (at < 0) return fallback;
  const value = args[at + 1];
  if (value === undefined || value.startsWith("--")) return fallback;
  if (!/^[1-9]\d*$/.test(value))
    throw new HarnessError(`${flag} takes a positive whole number, got '${value}'`);
  return Number(value);
}

runCli(async (args) => {
  const json = args.includes("--json");
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  if (args.includes("--operator")) {
    const result = await operatorAtScale(
      countAfter(args, "--operator", operatorDefaults.pipelines),
      countAfter(args, "--partitions", operatorDefaults.partitions),
      say,
    );
    for (const line of describeOperatorScale(result)) say(line);
    if (json) {
      const rounded = (n: number | undefined) => (n === undefined ? null : Math.round(n * 10) / 10);
      console.log(
        JSON.stringify({
          operator_pipelines: result.pipelines,
          operator_partitions: result.partitions,
          operator_topics_ready_s: rounded(result.topicsReadyS),
          operator_ready_s: rounded(result.readyS),
          operator_ready_count: result.readyCount,
          operator_cpu_pct: rounded(result.cpuPct),
          operator_rss_mb: rounded(result.rssMb),
          operator_kafka_connections_max: result.kafkaConnectionsMax,
          operator_kafka_connections_end: result.kafkaConnectionsEnd,
        }),
      );
    }
    return;
  }
  const cluster = await startKafka({
    name: "bench",
    portBase: Number(process.env.KAFKA_PORT_BASE ?? 39_092),
  });
  try {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const admin = kafka.admin();
    await admin.connect();
    const requests = "bench-requests";
    const sinks = ["passthrough", "worker", "seed"].map((name) => ({
      requests,
      responses: `bench-${name}-responses`,
      deadLetter: `bench-${name}-dead-letter`,
    }));
    await createTopics(cluster.bootstrapServers, [
      requests,
      ...sinks.flatMap((s) => [s.responses, s.deadLetter]),
    ]);
    say(`producing ${messages} requests to ${requests} (${partitions} partitions)…`);
    await produceAll(kafka, requests, messages);

    const [passSink, workerSink, seedSink] = sinks as [
      (typeof sinks)[0],
      (typeof sinks)[0],
      (typeof sinks)[0],
    ];
    const passthrough = await workerRate(
      kafka,
      admin,
      workerConfig(cluster.bootstrapServers, passSink),
      true,
    );
    say(`(a) pass-through (no inference):  ${passthrough.toFixed(0)} msg/s`);
    const worker = await workerRate(kafka, admin, workerConfig(cluster.bootstrapServers, workerSink), false);
    say(`(b) worker:                       ${worker.toFixed(0)} msg/s`);
    const seed = await seedStyleRate(kafka, admin, workerConfig(cluster.bootstrapServers, seedSink));
    say(`(c) seed style (per message):     ${seed.toFixed(0)} msg/s (over ${seedStyleSeconds} s)`);
    say(`b/a = ${(worker / passthrough).toFixed(2)}   b/c = ${(worker / seed).toFixed(1)}`);

    const { warmUp, measured: latency } = await latencyAtLoad(kafka, cluster.bootstrapServers, offeredRate);
    say(
      `(b) end-to-end latency at ${offeredRate} msg/s offered for ${offeredSeconds} s, after ${warmUpSeconds} s ` +
        `of the same load: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms`,
    );
    say(`    median request: ${describeBreakdown(latency.median)}`);
    say(`    slowest 1% (median of each part): ${describeBreakdown(latency.slowest)}`);
    say(
      `    during the warm-up (a freshly started worker): p50 ${warmUp.p50} ms, p95 ${warmUp.p95} ms, ` +
        `p99 ${warmUp.p99} ms`,
    );
    await admin.disconnect();
    if (json) {
      console.log(
        JSON.stringify({
          passthrough_msgs_per_s: Math.round(passthrough),
          worker_msgs_per_s: Math.round(worker),
          seed_style_msgs_per_s: Math.round(seed),
          p50_ms: latency.p50,
          p95_ms: latency.p95,
          p99_ms: latency.p99,
          offered_msgs_per_s: offeredRate,
          messages,
        }),
      );
    }
  } finally {
    await cluster.stop();
  }
});
