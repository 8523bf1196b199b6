// Dead-letter redrive on real components: a kube-apiserver, a Kafka broker, the operator (in-process, stopped and
// started again mid-redrive), and real worker processes following the pipeline's Deployment, whose model fails
// while a fault file exists (the worker's test-only MODEL_FAULT_FILE). One cluster, one broker and one pipeline
// for every case, in order: each case adds dead letters or redrives to what the earlier ones left.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { V1Deployment } from "@kubernetes/client-node";
import { expect } from "chai";
import type { Consumer, Producer } from "kafkajs";
import { redriveCountHeader, redrivenFromHeader } from "../../common/src/redrive-headers.ts";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import type { RedriveSpec, RedriveStatus, SentimentRedrive } from "../../operator/src/redrive/redrive.ts";
import { exactProducer, startKafkaOnFreePorts } from "../support/kafka.ts";
import { pipelineManifest, prepareCluster, runOperator } from "../support/operator.ts";
import { type PipelineTopics, type Received, ResultReader } from "../support/pipeline-topics.ts";
import { WorkerFleet } from "../support/worker-fleet.ts";

const pipeline = "reviews";

/** A record of the requests topic, as a read_committed consumer is given it. */
interface RequestSeen {
  key: string;
  partition: number;
  headers: Record<string, string>;
}

/** Every record of `topic` from the beginning, read committed, until closed. */
async function collect(consumer: Consumer, topic: string, into: RequestSeen[]): Promise<void> {
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
      into.push({ key: message.key?.toString() ?? "", partition, headers });
    },
  });
}

const request = (id: string) => ({ key: id, value: JSON.stringify({ id, text: "a warm and lovely film" }) });
const where = (letter: Received) => `${letter.topic}/${letter.partition}/${letter.offset}`;

describe("dead-letter redrive", function () {
  this.timeout(240_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let k: Kubectl;
  let operator: RunningOperator | undefined;
  let fleet: WorkerFleet | undefined;
  let reader: ResultReader | undefined;
  let requestsConsumer: Consumer | undefined;
  let producer: Producer | undefined;
  let faultDir: string;
  let faultFile: string;
  let topics: PipelineTopics;
  const requestsSeen: RequestSeen[] = [];
  let barriers = 0;

  const letters = () => reader?.on(topics.deadLetter) ?? [];
  const status = (name: string) =>
    k.getJson<SentimentRedrive>(["sentimentredrive", name, "-n", "default"])?.status;
  const createRedrive = (name: string, spec: Omit<RedriveSpec, "pipeline">) =>
    k.apply(
      JSON.stringify({
        apiVersion: "kubesentiment.io/v1alpha1",
        kind: "SentimentRedrive",
        metadata: { name, namespace: "default" },
        spec: { pipeline, ...spec },
      }),
    );
  const finished = (name: string): Promise<RedriveStatus> =>
    waitFor(
      `redrive ${name} Done`,
      () => {
        const seen = status(name);
        return seen?.phase === "Done" ? seen : undefined;
      },
      { timeoutMs: 60_000, describe: () => JSON.stringify(status(name)) },
    );
  const deadLetters = (count: number) =>
    reader?.waitFor(
      () => letters().length >= count,
      () => `${letters().length} of ${count} dead letters`,
    );
  /**
   * Every record the redrive committed so far has reached the requests collector: a record produced to each
   * partition after it is given to a read_committed consumer only after every transaction before it ended.
   */
  const barrier = async () => {
    barriers += 1;
    const id = `barrier-${barriers}`;
    await producer?.send({
      topic: topics.requests,
      acks: -1,
      messages: [0, 1].map((partition) => ({ ...request(`${id}-${partition}`), partition })),
    });
    await waitFor(
      `${id} read`,
      () => requestsSeen.filter((seen) => seen.key.startsWith(`${id}-`)).length === 2 || undefined,
      { timeoutMs: 30_000 },
    );
  };
  const redrivenFrom = (froms: Set<string>) =>
    requestsSeen.filter((seen) => froms.has(seen.headers[redrivenFromHeader] ?? ""));
  /** The unix time in ms one past now: dead letters seen so far are before it, later ones at or after it. */
  const timeMark = async () => {
    const mark = Date.now() + 1;
    await sleep(2);
    return new Date(mark).toISOString();
  };

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) => startCluster({ name: "redrive", portBase })),
      startKafkaOnFreePorts({ name: "test-redrive" }),
    );
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);
    faultDir = await mkdtemp(join(tmpdir(), "kubesentiment-redrive-"));
    faultFile = join(faultDir, "model-fails");
    operator = await runOperator(cluster.kubeconfigPath);
    k.apply(
      pipelineManifest(pipeline, {
        kafka: { bootstrapServers: kafka.bootstrapServers },
        topics: { partitions: 2, replicationFactor: 1 },
        // One attempt, and a breaker that never opens: each request the failing model meets is dead-lettered.
        worker: {
          retry: { maxAttempts: 1, initialBackoffMs: 1, maxBackoffMs: 1 },
          circuitBreaker: { failureThreshold: 1000, resetTimeoutMs: 100 },
        },
        autoscaling: { minReplicas: 1, maxReplicas: 1 },
      }),
    );
    const created = await waitFor("the pipeline's topics", () => k.pipeline(pipeline)?.status?.topics, {
      timeoutMs: 120_000,
      describe: () => JSON.stringify(k.pipeline(pipeline)?.status?.conditions),
    });
    topics = { requests: created.requests, responses: created.responses, deadLetter: created.deadLetter };
    fleet = new WorkerFleet(
      () => k.getJsonAsync<V1Deployment>(["deployment", `${pipeline}-worker`, "-n", "default"]),
      { MODEL_FAULT_FILE: faultFile },
    );
    const client = kafkaClient(kafka.bootstrapServers);
    reader = await ResultReader.start(client, topics);
    requestsConsumer = client.consumer({ groupId: "redrive-test-requests", maxWaitTimeInMs: 250 });
    await collect(requestsConsumer, topics.requests, requestsSeen);
    producer = await exactProducer(kafka.bootstrapServers);
    // The worker is up and answering (its model loaded) before any case counts on it.
    await producer.send({ topic: topics.requests, acks: -1, messages: [request("warm-up")] });
    await reader.waitFor(
      () => reader?.idsOn(topics.responses).has("warm-up") === true,
      () => "the warm-up request's response",
      180_000,
    );
  });

  after(async () => {
    await producer?.disconnect();
    await requestsConsumer?.disconnect();
    await reader?.close();
    await fleet?.stop();
    await operator?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
    if (faultDir !== undefined) await rm(faultDir, { recursive: true, force: true });
  });

  it("refuses at admission an unknown code, since not before until, and any change to the spec", () => {
    const refusal = (spec: Record<string, unknown>) =>
      k.result(
        ["apply", "--server-side", "-f", "-"],
        JSON.stringify({
          apiVersion: "kubesentiment.io/v1alpha1",
          kind: "SentimentRedrive",
          metadata: { name: "refused", namespace: "default" },
          spec: { pipeline, ...spec },
        }),
      ).stderr;
    expect(refusal({ codes: ["NOT_A_CODE"] })).to.contain("spec.codes[0]");
    expect(refusal({ since: "2026-12-03T10:00:00Z", until: "2026-12-03T10:00:00Z" })).to.contain(
      "spec.since must be before spec.until",
    );
    expect(refusal({ codes: ["INVALID_JSON"], until: "2000-01-01T00:00:00Z" })).to.equal("");
    expect(refusal({ codes: ["INVALID_JSON"], limit: 1 })).to.contain("spec is immutable");
    k.run(["delete", "sentimentredrive", "refused", "-n", "default"]);
  });

  let beforeFirstRedrive: string;
  let originals: Received[];
  let redrivenAgain: Received[];

  it("redrives the selected codes; a redriven request that fails again is dead-lettered with its redrive count", async () => {
    await writeFile(faultFile, "fail");
    const failing = Array.from({ length: 6 }, (_, i) => request(`a-${i}`));
    const invalid = [0, 1].map((i) => ({ key: `bad-${i}`, value: "{oops" }));
    await producer?.send({ topic: topics.requests, acks: -1, messages: [...failing, ...invalid] });
    await deadLetters(8);
    originals = letters().filter((letter) => letter.value.code === "INFERENCE_FAILED");
    expect(originals.map((letter) => letter.key).sort()).to.deep.equal(failing.map((r) => r.key).sort());
    beforeFirstRedrive = await timeMark();

    createRedrive("first", { codes: ["INFERENCE_FAILED"], maxRedrives: 1 });
    const first = await finished("first");
    expect(first).to.include({ sent: 6, skipped: 2, skippedAtBound: 0 });
    expect(
      first.partitions?.map(({ startOffset, nextOffset, endOffset }) => [
        startOffset,
        nextOffset === endOffset,
      ]),
    ).to.deep.equal([
      ["0", true],
      ["0", true],
    ]);

    // Still failing: each comes back as a dead letter naming its redrive.
    await deadLetters(14);
    redrivenAgain = letters().slice(8);
    expect(redrivenAgain.map((letter) => letter.value.redrive)).to.have.deep.members(
      originals.map((letter) => ({
        count: 1,
        from: { topic: letter.topic, partition: letter.partition, offset: letter.offset },
      })),
    );
    for (const letter of redrivenAgain) expect(letter.value.code).to.equal("INFERENCE_FAILED");
    // Fixed before the barrier, whose requests the worker answers too: with the model still failing they would
    // become INFERENCE_FAILED dead letters for the next redrives to select, or not, as the worker's fetch is
    // early or late.
    await rm(faultFile);
    await barrier();
    const sent = redrivenFrom(new Set(originals.map(where)));
    expect(sent.map((seen) => seen.headers[redriveCountHeader])).to.deep.equal(Array(6).fill("1"));
  });

  it("answers redriven requests once the model is fixed, and skips dead letters at the redrive bound", async () => {
    createRedrive("second", { codes: ["INFERENCE_FAILED"], maxRedrives: 1 });
    // The six first dead letters are sent again; their six redriven copies have reached the bound of 1.
    expect(await finished("second")).to.include({ sent: 6, skipped: 2, skippedAtBound: 6 });
    await reader?.waitFor(
      () => originals.every((letter) => reader?.idsOn(topics.responses).has(letter.key ?? "")),
      () => `responses to ${[...(reader?.idsOn(topics.responses) ?? [])].join(", ")}`,
    );
    expect(letters()).to.have.length(14);
  });

  it("selects by time: since and until on the dead letter's timestamp", async () => {
    const afterRedrivenAgain = await timeMark();
    createRedrive("third", { since: beforeFirstRedrive, until: afterRedrivenAgain, maxRedrives: 5 });
    // Only the six dead letters of the first redrive are in the window; their requests now go a second time.
    expect(await finished("third")).to.include({ sent: 6, skipped: 8, skippedAtBound: 0 });
    await barrier();
    const sent = redrivenFrom(new Set(redrivenAgain.map(where)));
    expect(sent.map((seen) => seen.headers[redriveCountHeader])).to.deep.equal(Array(6).fill("2"));
  });

  it("sends every selected dead letter exactly once across an operator restart in the middle", async () => {
    const beforeBatch = await timeMark();
    await writeFile(faultFile, "fail");
    const failing = Array.from({ length: 10 }, (_, i) => request(`b-${i}`));
    await producer?.send({ topic: topics.requests, acks: -1, messages: failing });
    await deadLetters(24);
    await rm(faultFile);
    const batch = letters().slice(14);

    createRedrive("restarted", { since: beforeBatch, ratePerSecond: 2 });
    const midway = await waitFor(
      "the redrive under way",
      () => {
        const seen = status("restarted");
        return (seen?.sent ?? 0) >= 2 ? seen : undefined;
      },
      { timeoutMs: 30_000, describe: () => JSON.stringify(status("restarted")) },
    );
    await operator?.stop();
    operator = undefined;
    expect(midway.sent, "stopped before the end").to.be.below(10);
    operator = await runOperator(cluster.kubeconfigPath);

    expect(await finished("restarted")).to.include({ sent: 10, skipped: 14, skippedAtBound: 0 });
    await barrier();
    const sent = redrivenFrom(new Set(batch.map(where)));
    expect(sent.map((seen) => seen.headers[redrivenFromHeader]).sort()).to.deep.equal(
      batch.map(where).sort(),
    );
    await reader?.waitFor(
      () => failing.every(({ key }) => reader?.idsOn(topics.responses).has(key)),
      () => "responses to every b-*",
    );
  });
});
