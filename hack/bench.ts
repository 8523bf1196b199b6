// `npm run bench [-- --json]`: end-to-end latency of (b) at a fixed offered load, first, before any backlog; then
// throughput of (a) the worker's consume+produce path with no inference, (b) the worker, (c) the seed's style
// (eachMessage, one inference and one synchronous commit per message), all on the same broker and the same
// pre-produced requests, beside the Python peer (the seed's stack, batched), with (a), (b) and (d) in rounds taken
// in turn (BENCH_ROUNDS, 2), each reported as its fastest; then the latency at half of (b)'s throughput; and the
// model path's tokenize and infer costs per message. Under (a) and (b), where each drain's CPU went
// (hack/bench/cpu-split.ts).
// Prints figures and asserts nothing. The scenarios live in hack/bench/.
// `npm run bench -- --scale [--json]` instead runs the scaling scenario alone (hack/bench/scale.ts); with
// `--client confluent` it then runs it again on the same broker with workers consuming through
// @confluentinc/kafka-javascript, cooperative-sticky and then KIP-848 (hack/bench/confluent-worker.ts).
// `npm run bench -- --operator N [--partitions P]` runs only the operator at scale (hack/bench/operator-scale.ts).

import { join } from "node:path";
import { installConfluentClient, loadConfluentKafkaJS } from "./bench/confluent-client.ts";
import { type GroupProtocol, groupProtocols } from "./bench/confluent-consumer.ts";
import { confluentScaleClient } from "./bench/confluent-scale.ts";
import { type CpuSplit, describeCpuSplit, describeLoadCpuSplit } from "./bench/cpu-split.ts";
import { describeBreakdown, latencyAtLoad, offeredSeconds, warmUpSeconds } from "./bench/latency.ts";
import { describeModelPath, modelPathCosts, sst2DevTexts } from "./bench/model-path.ts";
import { describeOperatorScale, operatorAtScale } from "./bench/operator-scale.ts";
import { compareLabels, peerPython, pythonPeerRate } from "./bench/python-peer.ts";
import { type Drain, fastest } from "./bench/rounds.ts";
import {
  describeScale,
  kafkajsScaleClient,
  type ScaleFigures,
  scaleMessages,
  scaleScenario,
} from "./bench/scale.ts";
import { messages, seedStyleRate, seedStyleSeconds, workerConfig, workerRate } from "./bench/throughput.ts";
import { createTopics, partitions, produceAll, sampleTexts } from "./bench/workload.ts";
import { HarnessError, positiveWhole, runCli } from "./harness/cli.ts";
import { kafkaClient } from "./harness/kafka-client.ts";
import { startKafka } from "./harness/kafka-cluster.ts";
import { heapOptsFrom } from "./harness/kafka-config.ts";
import type { WorkerTopics } from "./harness/local-worker.ts";
import { readPid } from "./harness/processes.ts";

const offeredRate = Number(process.env.BENCH_OFFERED_RATE ?? 2_000);
/**
 * Rounds of (a), (b) and (d), taken in turn, each reported as its fastest round. On this shared host the same drain
 * of (b) took 30-42 µs of the machine's CPU a message in five runs on one day, so with one round each, whichever
 * drain met a slow stretch fell behind the others; interference only ever slows a drain down.
 */
const defaultThroughputRounds = 2;
/**
 * The broker's heap as Kafka's own start script sizes it (1 GiB), collected by the JVM's serial collector with a
 * young generation of 600 MiB (KAFKA_HEAP_OPTS replaces all of it). With G1 the broker's young pauses (10-30 ms
 * every 3-5 s on two shared cores) were most of the slowest 1%'s latency at 2,000 msg/s. ZGC has no such pauses,
 * but its concurrent cycles took the cores the worker needs at half saturation. Young collections of a large,
 * mostly dead young generation cost the least CPU. The heap's pages are touched at start (AlwaysPreTouch): the
 * first young collections otherwise paused 59-460 ms, one of them in the first scenario's measured seconds, as
 * they copied into survivor and old pages never touched before; touched first, they paused 33 and 14 ms, then
 * 14-15 ms. A deployment after low tail latency tunes its brokers' collector likewise.
 */
const brokerHeapOpts = heapOptsFrom(
  process.env.KAFKA_HEAP_OPTS,
  "-Xmx1g -Xms1g -XX:+UseSerialGC -Xmn600m -XX:+AlwaysPreTouch",
);
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
  return positiveWhole(flag, value, fallback);
}

const scaleClients = ["kafkajs", "confluent"] as const;

/** The Kafka client the scaling scenario's workers are compared on, after `--client`; kafkajs alone by default. */
function scaleClientOf(args: string[]): (typeof scaleClients)[number] {
  const at = args.indexOf("--client");
  if (at < 0) return "kafkajs";
  const value = args[at + 1];
  const client = scaleClients.find((name) => name === value);
  if (client === undefined) {
    throw new HarnessError(`--client takes one of ${scaleClients.join(", ")}, got '${value ?? ""}'`);
  }
  return client;
}

/** The CPU split of a drain as JSON keys, e.g. worker_main_thread_us_per_msg; none where it was not measured. */
function cpuKeys(prefix: string, cpu: CpuSplit | undefined): Record<string, number> {
  if (cpu === undefined) return {};
  const round = (value: number) => Number(value.toFixed(1));
  return {
    [`${prefix}_main_thread_us_per_msg`]: round(cpu.mainUsPerMsg),
    [`${prefix}_main_thread_run_queue_us_per_msg`]: round(cpu.mainRunQueueUsPerMsg),
    [`${prefix}_other_threads_us_per_msg`]: round(cpu.otherThreadsUsPerMsg),
    [`${prefix}_broker_us_per_msg`]: round(cpu.brokerUsPerMsg),
    [`${prefix}_machine_us_per_msg`]: round(cpu.machineUsPerMsg),
  };
}

/** The --json keys of an offered load's CPU split, named `${prefix}_…`: a drain's, the client's and how busy the
 * machine was. */
function loadCpuKeys(prefix: string, cpu: CpuSplit | undefined): Record<string, number> {
  if (cpu === undefined) return {};
  return {
    ...cpuKeys(prefix, cpu),
    [`${prefix}_client_us_per_msg`]: Number(cpu.clientUsPerMsg.toFixed(1)),
    [`${prefix}_machine_busy_pct`]: Math.round(cpu.machineBusyShare * 100),
  };
}

/** The --json keys of one scaling run, named `${prefix}_…`. */
function scaleKeys(prefix: string, figures: ScaleFigures): Record<string, unknown> {
  return {
    [`${prefix}_drain_s`]: Number(figures.drainSeconds.toFixed(1)),
    [`${prefix}_max_pause_ms`]: figures.maxPauseMs,
    [`${prefix}_step_pauses_ms`]: figures.stepPauses.slice(1).map((step) => step.pauseMs),
    [`${prefix}_duplicates`]: figures.duplicates,
    [`${prefix}_lost`]: figures.lost,
  };
}

/** The key prefix of the confluent client's runs under each group protocol. */
const confluentPrefix: Record<GroupProtocol, string> = {
  cooperative: "scale_confluent",
  kip848: "scale_confluent_kip848",
};

runCli(async (args) => {
  const json = args.includes("--json");
  const throughputRounds = positiveWhole("BENCH_ROUNDS", process.env.BENCH_ROUNDS, defaultThroughputRounds);
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
  const scaleClient = scaleClientOf(args);
  if (scaleClient === "confluent") {
    if (!args.includes("--scale")) throw new HarnessError("--client confluent goes with --scale");
    installConfluentClient(say);
  }
  const cluster = await startKafka({
    name: "bench",
    portBase: Number(process.env.KAFKA_PORT_BASE ?? 39_092),
    heapOpts: brokerHeapOpts,
  });
  try {
    const kafka = kafkaClient(cluster.bootstrapServers);
    const admin = kafka.admin();
    await admin.connect();
    if (args.includes("--scale")) {
      say("kafkajs (eager rebalancing), the product's worker:");
      const figures = await scaleScenario(
        kafka,
        admin,
        cluster.bootstrapServers,
        kafkajsScaleClient(admin),
        say,
      );
      for (const line of describeScale(figures)) say(line);
      const keys = { ...scaleKeys("scale", figures), scale_messages: scaleMessages };
      if (scaleClient === "confluent") {
        const confluent = loadConfluentKafkaJS();
        const confluentAdmin = new confluent.Kafka({
          kafkaJS: { brokers: cluster.bootstrapServers, logLevel: confluent.logLevel.NOTHING },
        }).admin();
        await confluentAdmin.connect();
        try {
          for (const protocol of groupProtocols) {
            say(`@confluentinc/kafka-javascript, ${protocol} rebalancing:`);
            const client = confluentScaleClient(confluent, confluentAdmin, protocol);
            const run = await scaleScenario(kafka, admin, cluster.bootstrapServers, client, say);
            for (const line of describeScale(run)) say(line);
            Object.assign(keys, scaleKeys(confluentPrefix[protocol], run));
          }
        } finally {
          await confluentAdmin.disconnect();
        }
      }
      await admin.disconnect();
      if (json) console.log(JSON.stringify(keys));
      return;
    }
    const requests = "bench-requests";
    const sinkOf = (name: string) => ({
      requests,
      responses: `bench-${name}-responses`,
      deadLetter: `bench-${name}-dead-letter`,
    });
    const roundSinks = Array.from({ length: throughputRounds }, (_, round) => ({
      pass: sinkOf(`passthrough-${round + 1}`),
      worker: sinkOf(`worker-${round + 1}`),
      python: sinkOf(`python-${round + 1}`),
    }));
    const seedSink = sinkOf("seed");
    const allSinks = [...roundSinks.flatMap((sinks) => [sinks.pass, sinks.worker, sinks.python]), seedSink];
    await createTopics(cluster.bootstrapServers, [
      requests,
      ...allSinks.flatMap((sink) => [sink.responses, sink.deadLetter]),
    ]);

    const brokerPidFile = join(cluster.dir, "node-0", "kafka.pid");
    const brokerPid = readPid(brokerPidFile);
    if (brokerPid === undefined) throw new HarnessError(`the broker's pid file ${brokerPidFile} is missing`);
    const drain = async (sink: WorkerTopics, passThrough: boolean) =>
      workerRate(kafka, admin, workerConfig(cluster.bootstrapServers, sink), passThrough, brokerPid);
    const cpuLine = (cpu: CpuSplit | undefined, describe = describeCpuSplit) =>
      `    ${cpu === undefined ? "CPU per message: not available (no Linux /proc here)" : describe(cpu)}`;
    // Before the backlog: the fixed-rate scenario runs on a process and a broker no drain has loaded yet.
    const {
      warmUp,
      measured: latency,
      cpu: latencyCpu,
    } = await latencyAtLoad(cluster.bootstrapServers, offeredRate, brokerPid);
    say(
      `(b) end-to-end latency at ${offeredRate} msg/s offered for ${offeredSeconds} s, after ${warmUpSeconds} s ` +
        `of the same load: p50 ${latency.p50} ms, p95 ${latency.p95} ms, p99 ${latency.p99} ms`,
    );
    say(`    median request: ${describeBreakdown(latency.median)}`);
    say(`    slowest 1% (median of each part): ${describeBreakdown(latency.slowest)}`);
    say(cpuLine(latencyCpu, describeLoadCpuSplit));
    say(
      `    during the warm-up (a freshly started worker): p50 ${warmUp.p50} ms, p95 ${warmUp.p95} ms, ` +
        `p99 ${warmUp.p99} ms`,
    );
    say(`producing ${messages} requests to ${requests} (${partitions} partitions)…`);
    await produceAll(kafka, requests, messages);
    const python = peerPython();
    const passRounds: Drain[] = [];
    const workerRounds: Drain[] = [];
    const pythonRounds: number[] = [];
    for (const [round, sinks] of roundSinks.entries()) {
      const pass = await drain(sinks.pass, true);
      const worker = await drain(sinks.worker, false);
      const peer = await pythonPeerRate(
        kafka,
        admin,
        python,
        workerConfig(cluster.bootstrapServers, sinks.python),
      );
      passRounds.push(pass);
      workerRounds.push(worker);
      pythonRounds.push(peer);
      say(
        `round ${round + 1} of ${throughputRounds}: (a) ${pass.rate.toFixed(0)}, (b) ${worker.rate.toFixed(0)}, ` +
          `(d) ${peer.toFixed(0)} msg/s`,
      );
    }
    const { rate: passthrough, cpu: passthroughCpu } = fastest(passRounds);
    const { rate: worker, cpu: workerCpu } = fastest(workerRounds);
    const pythonPeer = Math.max(...pythonRounds);
    say(`(a) pass-through (no inference):  ${passthrough.toFixed(0)} msg/s (fastest round)`);
    say(cpuLine(passthroughCpu));
    say(`(b) worker:                       ${worker.toFixed(0)} msg/s (fastest round)`);
    say(cpuLine(workerCpu));
    const seedConfig = workerConfig(cluster.bootstrapServers, seedSink);
    const seed = await seedStyleRate(kafka, admin, seedConfig);
    say(`(c) seed style (per message):     ${seed.toFixed(0)} msg/s (over ${seedStyleSeconds} s)`);
    say(`(d) python peer (batched, seed's stack): ${pythonPeer.toFixed(0)} msg/s (fastest round)`);
    say(
      `b/a = ${(worker / passthrough).toFixed(2)}   b/c = ${(worker / seed).toFixed(1)}   ` +
        `b/d = ${(worker / pythonPeer).toFixed(2)}`,
    );
    // Every sink's worker runs the same model, so the seed's configuration serves to compare labels and to time it.
    const labels = await compareLabels(python, seedConfig, [...sampleTexts, ...(await sst2DevTexts())]);
    if (labels.differing.length === 0) {
      say(
        `    labels: the python peer's equal the worker's on all ${labels.compared} bench and SST-2 dev texts`,
      );
    } else {
      // Loud even with --json: a peer that disagrees is not measuring the same work.
      console.error(
        `!!! LABEL MISMATCH: the python peer differs from the worker on ${labels.differing.length} of ` +
          `${labels.compared} bench and SST-2 dev texts: ${JSON.stringify(labels.differing)}`,
      );
    }

    const halfRate = Math.round(worker / 2);
    const { measured: half, cpu: halfCpu } = await latencyAtLoad(
      cluster.bootstrapServers,
      halfRate,
      brokerPid,
    );
    say(
      `(b) end-to-end latency at half saturation, ${halfRate} msg/s offered for ${offeredSeconds} s (after ` +
        `${warmUpSeconds} s of the same load): p50 ${half.p50} ms, p95 ${half.p95} ms, p99 ${half.p99} ms`,
    );
    say(`    median request: ${describeBreakdown(half.median)}`);
    say(`    slowest 1% (median of each part): ${describeBreakdown(half.slowest)}`);
    say(cpuLine(halfCpu, describeLoadCpuSplit));

    const { model } = seedConfig;
    const costs = await modelPathCosts(model.dir, model.maxSequenceLength);
    for (const line of describeModelPath(costs)) say(line);
    await admin.disconnect();
    if (json) {
      console.log(
        JSON.stringify({
          passthrough_msgs_per_s: Math.round(passthrough),
          worker_msgs_per_s: Math.round(worker),
          seed_style_msgs_per_s: Math.round(seed),
          python_peer_msgs_per_s: Math.round(pythonPeer),
          passthrough_msgs_per_s_by_round: passRounds.map(({ rate }) => Math.round(rate)),
          worker_msgs_per_s_by_round: workerRounds.map(({ rate }) => Math.round(rate)),
          python_peer_msgs_per_s_by_round: pythonRounds.map(Math.round),
          python_peer_label_mismatches: labels.differing.length,
          p50_ms: latency.p50,
          p95_ms: latency.p95,
          p99_ms: latency.p99,
          offered_msgs_per_s: offeredRate,
          p50_ms_at_half_saturation: half.p50,
          p95_ms_at_half_saturation: half.p95,
          p99_ms_at_half_saturation: half.p99,
          half_saturation_msgs_per_s: halfRate,
          tokenize_us_per_msg: Number(costs.cachedUs.toFixed(1)),
          tokenize_warm_us_per_msg: Number(costs.warmUs.toFixed(1)),
          tokenize_uncached_us_per_msg: Number(costs.uncachedUs.toFixed(1)),
          infer_us_per_msg: Number(costs.inferUs.toFixed(1)),
          ...cpuKeys("passthrough", passthroughCpu),
          ...cpuKeys("worker", workerCpu),
          ...loadCpuKeys("offered", latencyCpu),
          ...loadCpuKeys("half_saturation", halfCpu),
          messages,
        }),
      );
    }
  } finally {
    await cluster.stop();
  }
});
