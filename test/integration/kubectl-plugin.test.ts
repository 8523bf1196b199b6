// The kubectl plugin run as a user runs it: the executable npm links into node_modules/.bin, started by the
// kubectl the harness builds (`kubectl sentiment ...`, found on PATH) and directly, against a real API server
// (with controller-manager and kwok for the pods), the real operator, a real Kafka and real workers.
import { type ChildProcess, spawn } from "node:child_process";
import { delimiter, join } from "node:path";
import type { KubernetesObject, V1Deployment } from "@kubernetes/client-node";
import { expect } from "chai";
import { clusterBinaries } from "../../hack/harness/cluster-build.ts";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { type CommandResult, runCommandAsync } from "../../hack/harness/commands.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether, stopChild } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { pipelineManifest, prepareCluster, readyPipeline, runOperator } from "../support/operator.ts";
import { WorkerFleet } from "../support/worker-fleet.ts";

const binDir = join(repoRoot, "node_modules", ".bin");

interface DayTwoObject extends KubernetesObject {
  spec: Record<string, unknown>;
  status?: { phase?: string };
}

describe("kubectl sentiment, the kubectl plugin", function () {
  this.timeout(180_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let operator: RunningOperator | undefined;
  let fleet: WorkerFleet | undefined;
  let k: Kubectl;
  const running: ChildProcess[] = [];
  const env = () => ({
    ...process.env,
    KUBECONFIG: cluster.kubeconfigPath,
    PATH: `${binDir}${delimiter}${process.env.PATH ?? ""}`,
  });
  /** `kubectl sentiment ARGS`, through the harness's kubectl, which finds the plugin on PATH. */
  const kubectlSentiment = (...args: string[]): Promise<CommandResult> =>
    runCommandAsync(clusterBinaries().kubectl, ["sentiment", ...args], { env: env(), timeoutMs: 90_000 });
  /** The executable itself, as `npm ci` links it, without kubectl. */
  const direct = (...args: string[]): Promise<CommandResult> =>
    runCommandAsync(join(binDir, "kubectl-sentiment"), args, { env: env(), timeoutMs: 90_000 });
  const produce = async (messages: { key: string; value: string }[]) => {
    const producer = kafkaClient(kafka.bootstrapServers).producer();
    await producer.connect();
    try {
      await producer.send({ topic: "default.reviews-requests", acks: -1, messages });
    } finally {
      await producer.disconnect();
    }
  };
  /** A following command, started, with what it printed so far. */
  const follow = (...args: string[]) => {
    const child = spawn(clusterBinaries().kubectl, ["sentiment", ...args], { env: env() });
    running.push(child);
    const printed = { stdout: "", stderr: "" };
    child.stdout?.on("data", (chunk: Buffer) => {
      printed.stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      printed.stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    return { child, printed, exited };
  };
  const specPaused = () => k.pipeline("reviews")?.spec.paused;
  const dayTwo = (plural: string, name: string) =>
    k.getJson<DayTwoObject>([`${plural}.kubesentiment.io`, name, "-n", "default"]);

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) =>
        startCluster({ name: "kubectl-plugin-test", portBase, controllerManager: true, kwok: true }),
      ),
      startKafkaOnFreePorts({ name: "test-kubectl-plugin" }),
    );
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);
    operator = await runOperator(cluster.kubeconfigPath);
    k.apply(
      pipelineManifest("reviews", {
        kafka: { bootstrapServers: kafka.bootstrapServers },
        topics: { partitions: 2, replicationFactor: 1 },
        autoscaling: { minReplicas: 1, maxReplicas: 1 },
      }),
    );
    fleet = new WorkerFleet(() =>
      k.getJsonAsync<V1Deployment>(["deployment", "reviews-worker", "-n", "default"]),
    );
    await readyPipeline(k, "reviews");
  });

  after(async () => {
    await Promise.all(running.map((child) => stopChild(child)));
    await fleet?.stop();
    await operator?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
  });

  it("is a kubectl plugin with help for itself and each command", async () => {
    const help = await kubectlSentiment("--help");
    expect(help.status, help.stderr).to.equal(0);
    expect(help.stdout)
      .to.include("Commands:")
      .and.match(/\n {2}replay +reprocess/);
    const send = await direct("send", "--help");
    expect(send.status, send.stderr).to.equal(0);
    expect(send.stdout).to.include("kubectl sentiment send NAME TEXT... [options]").and.include("--timeout");
    const plugins = k.run(["plugin", "list"]);
    expect(plugins).to.include(join(binDir, "kubectl-sentiment"));
  });

  it("sends texts and prints each one's classified response, and a dead letter for one the worker refuses", async () => {
    const sent = await kubectlSentiment("send", "reviews", "An absolute delight.", "A dull, lifeless film.");
    expect(sent.status, sent.stderr).to.equal(0);
    const lines = sent.stdout.trim().split("\n");
    expect(lines).to.have.length(2);
    expect(lines.find((line) => line.includes("dull"))).to.match(
      /^kubectl-\S+ {2}negative 0\.\d{3} {2}"A dull, lifeless film\."$/,
    );
    expect(lines.find((line) => line.includes("delight"))).to.match(
      /^kubectl-\S+ {2}positive 0\.\d{3} {2}"An absolute delight\."$/,
    );

    // Longer than the worker's MAX_TEXT_LENGTH (10000): a dead letter, and exit code 4.
    const mixed = await direct("send", "reviews", "Loved every minute.", "a".repeat(10_001), "-o", "json");
    expect(mixed.status, mixed.stderr).to.equal(4);
    const records = mixed.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(records).to.have.length(2);
    const response = records.find((record) => record.kind === "response");
    expect(response).to.deep.include({ topic: "default.reviews-responses" });
    expect(response.record).to.include({ id: response.id, label: "positive" });
    const deadLetter = records.find((record) => record.kind === "deadLetter");
    expect(deadLetter).to.deep.include({ topic: "default.reviews-dlq" });
    expect(deadLetter.record).to.include({ code: "TEXT_TOO_LONG", id: deadLetter.id });
  });

  it("tails responses and dead letters written while it runs", async () => {
    const responses = follow("tail", "reviews", "-o", "json");
    const deadLetters = follow("tail", "reviews", "--dlq");
    await waitFor(
      "both tails following their topics",
      () =>
        responses.printed.stderr.includes("following default.reviews-responses from its end") &&
        deadLetters.printed.stderr.includes("following default.reviews-dlq from its end"),
      { describe: () => `${responses.printed.stderr} ${deadLetters.printed.stderr}` },
    );
    await produce([
      { key: "tail-1", value: JSON.stringify({ id: "tail-1", text: "What a wonderful story." }) },
      { key: "tail-2", value: "{not json" },
    ]);
    const line = await waitFor(
      "the tail printing tail-1's response",
      () => responses.printed.stdout.split("\n").find((printed) => printed.includes('"tail-1"')),
      { describe: () => responses.printed.stdout },
    );
    expect(JSON.parse(line)).to.deep.include({ kind: "response", id: "tail-1" });
    expect(JSON.parse(line).record.label).to.equal("positive");
    await waitFor("the dead-letter tail printing tail-2", () =>
      deadLetters.printed.stdout.includes("tail-2  DEAD LETTER INVALID_JSON: "),
    );
    // Only what was written after it started: the responses of the earlier test are not there.
    expect(responses.printed.stdout.trim().split("\n")).to.have.length(1);
    responses.child.kill("SIGINT");
    deadLetters.child.kill("SIGINT");
    expect(await responses.exited).to.equal(0);
    expect(await deadLetters.exited).to.equal(0);
  });

  it("shows status: Ready, replicas, lag per partition and throughput", async () => {
    const [text, json] = await Promise.all([
      kubectlSentiment("status", "reviews", "--window", "500ms"),
      direct("status", "reviews", "-o", "json", "--window", "500ms"),
    ]);
    expect(text.status, text.stderr).to.equal(0);
    expect(text.stdout)
      .to.match(/Ready: +True\n/)
      .and.match(/Replicas: +1 ready, 1 running, /);
    expect(text.stdout).to.match(/PARTITION +LAG\n0 +\d+\n1 +\d+\ntotal +\d+/);
    expect(text.stdout).to.match(/Throughput: +[\d.]+ requests\/s in/);

    expect(json.status, json.stderr).to.equal(0);
    const report = JSON.parse(json.stdout);
    expect(report).to.deep.include({ ready: "True" });
    expect(report.replicas).to.include({ current: 1, ready: 1 });
    expect(report.lag.partitions.map(({ partition }: { partition: number }) => partition)).to.deep.equal([
      0, 1,
    ]);
    expect(report.throughput).to.have.all.keys(
      "windowSeconds",
      "requestsPerSecond",
      "responsesPerSecond",
      "deadLettersPerSecond",
    );
  });

  it("says a pipeline that is not there is not there, with a non-zero exit", async () => {
    const [missing, elsewhere, usage] = await Promise.all([
      kubectlSentiment("status", "nope"),
      direct("status", "reviews", "-n", "elsewhere"),
      kubectlSentiment("replay", "reviews", "--from", "yesterday"),
    ]);
    expect(missing.status).to.equal(1);
    expect(missing.stderr).to.include('error: SentimentPipeline "nope" not found in namespace "default"');
    expect(elsewhere.status).to.equal(1);
    expect(elsewhere.stderr).to.include(
      'error: SentimentPipeline "reviews" not found in namespace "elsewhere"',
    );
    expect(usage.status).to.equal(2);
    expect(usage.stderr).to.include('--from "yesterday" is neither an RFC 3339 date-time');
  });

  it("completes commands, flags and pipeline names through kubectl", async () => {
    const complete = async (...words: string[]) => {
      const result = await runCommandAsync(clusterBinaries().kubectl, ["__complete", "sentiment", ...words], {
        env: env(),
        timeoutMs: 60_000,
      });
      expect(result.status, result.stderr).to.equal(0);
      return result.stdout.split("\n").map((line) => line.split("\t")[0]);
    };
    expect(await complete("")).to.include.members(["status", "send", "tail", "replay", "redrive", ":4"]);
    expect(await complete("status", "")).to.deep.equal(["reviews", ":4", ""]);
    expect(await complete("redrive", "reviews", "--c")).to.include.members(["--code", "--context"]);
  });

  it("pauses and resumes a pipeline: spec.paused, and the operator holds the workers at 0 until resumed", async () => {
    const replicas = () =>
      k.getJson<V1Deployment>(["deployment", "reviews-worker", "-n", "default"])?.spec?.replicas;
    const paused = await kubectlSentiment("pause", "reviews");
    expect(paused.status, paused.stderr).to.equal(0);
    expect(paused.stdout).to.equal("sentimentpipeline default/reviews paused\n");
    expect(specPaused()).to.equal(true);
    await waitFor("the workers held at 0", () => replicas() === 0 && fleet?.size === 0);
    const shown = await direct("status", "reviews", "-o", "json");
    expect(shown.status, shown.stderr).to.equal(0);
    expect(shown.stdout).to.include('"PausedBySpec"');
    const resumed = await direct("resume", "reviews", "-o", "json");
    expect(resumed.status, resumed.stderr).to.equal(0);
    expect(JSON.parse(resumed.stdout).spec.paused).to.equal(false);
    expect(specPaused()).to.equal(false);
    await waitFor("the workers back", () => replicas() === 1);
    await readyPipeline(k, "reviews");
  });

  it("creates a SentimentReplay, and --wait follows it through the operator's phases to Done", async () => {
    const created = await kubectlSentiment("replay", "reviews", "--from", "2026-12-03T09:00:00Z");
    expect(created.status, created.stderr).to.equal(0);
    const name = /^sentimentreplay default\/(reviews-\w+) created\n$/.exec(created.stdout)?.[1] ?? "";
    expect(dayTwo("sentimentreplays", name)?.spec).to.include({ pipeline: "reviews" });
    expect(dayTwo("sentimentreplays", name)?.spec.from).to.deep.equal({ timestamp: "2026-12-03T09:00:00Z" });

    const waiting = follow("replay", "reviews", "--from", "earliest", "--wait");
    const waited = await waitFor(
      "the second replay created",
      () => /sentimentreplay default\/(reviews-\w+) created/.exec(waiting.printed.stdout)?.[1],
    );
    expect(dayTwo("sentimentreplays", waited)?.spec.from).to.deep.equal({ earliest: true });
    // The operator runs the first, then this one (never two at once), with the workers following its Deployment.
    expect(await waiting.exited, waiting.printed.stderr).to.equal(0);
    expect(waiting.printed.stdout).to.include(`sentimentreplay default/${waited}: Done\n`);
    expect(dayTwo("sentimentreplays", name)?.status?.phase).to.equal("Done");
  });

  it("creates a SentimentRedrive from its options, and --wait follows it to Done", async () => {
    const created = await direct(
      "redrive",
      "reviews",
      "--code",
      "INVALID_JSON",
      "--code",
      "TEXT_TOO_LONG",
      "--since",
      "2026-12-01T00:00:00Z",
      "--limit",
      "5",
      "--rate",
      "10",
      "-o",
      "json",
    );
    expect(created.status, created.stderr).to.equal(0);
    const object = JSON.parse(created.stdout) as DayTwoObject;
    expect(object.kind).to.equal("SentimentRedrive");
    expect(dayTwo("sentimentredrives", object.metadata?.name ?? "")?.spec).to.include({
      pipeline: "reviews",
      since: "2026-12-01T00:00:00Z",
      limit: 5,
      ratePerSecond: 10,
    });
    expect(dayTwo("sentimentredrives", object.metadata?.name ?? "")?.spec.codes).to.deep.equal([
      "INVALID_JSON",
      "TEXT_TOO_LONG",
    ]);

    const waiting = follow("redrive", "reviews", "--code", "TEXT_TOO_LONG", "--wait");
    const name = await waitFor(
      "the redrive created",
      () => /sentimentredrive default\/(reviews-\w+) created/.exec(waiting.printed.stdout)?.[1],
    );
    expect(await waiting.exited, waiting.printed.stderr).to.equal(0);
    expect(waiting.printed.stdout).to.include(`sentimentredrive default/${name}: Done\n`);
  });
});
