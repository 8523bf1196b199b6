// `npm run bench [-- --json]`: throughput of (a) the worker's consume+produce path with no inference, (b) the
// worker, (c) the seed's style (eachMessage, one inference and one synchronous commit per message), all on the
// same broker and the same pre-produced requests; then end-to-end latency of (b) at a fixed offered load.
// Prints figures and asserts nothing. The scenarios live in hack/bench/.
// `npm run bench -- --scale [--json]` instead runs the scaling scenario alone (hack/bench/scale.ts).

import { describeBreakdown, latencyAtLoad, offeredSeconds, warmUpSeconds } from "./bench/latency.ts";
import { describeScale, scaleMessages, scaleScenario } from "./bench/scale.ts";
import { messages, seedStyleRate, seedStyleSeconds, workerConfig, workerRate } from "./bench/throughput.ts";
import { createTopics, partitions, produceAll } from "./bench/workload.ts";
import { runCli } from "./harness/cli.ts";
import { kafkaClient } from "./harness/kafka-client.ts";
import { startKafka } from "./harness/kafka-cluster.ts";

const offeredRate = Number(process.env.BENCH_OFFERED_RATE ?? 2_000);

runCli(async (args) => {
  const json = args.includes("--json");
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  const cluster = await startKafka({
    name: "bench",
    portBase: Number(process.env.KAFKA_PORT_BASE ?? 39_092),
  });
  try {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const admin = kafka.admin();
    await admin.connect();
    if (args.includes("--scale")) {
      const figures = await scaleScenario(kafka, admin, cluster.bootstrapServers, say);
      for (const line of describeScale(figures)) say(line);
      await admin.disconnect();
      if (json) {
        console.log(
          JSON.stringify({
            scale_drain_s: Number(figures.drainSeconds.toFixed(1)),
            scale_max_pause_ms: figures.maxPauseMs,
            scale_step_pauses_ms: figures.stepPauses.slice(1).map((step) => step.pauseMs),
            scale_duplicates: figures.duplicates,
            scale_lost: figures.lost,
            scale_messages: scaleMessages,
          }),
        );
      }
      return;
    }
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
