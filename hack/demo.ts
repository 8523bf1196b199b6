// `npm run demo`: the operator path end to end on this machine. A real Kafka broker and a real control plane
// (kube-apiserver, etcd, kube-controller-manager, kwok for the pods) start; the operator runs locally; the
// sample SentimentPipeline is applied with kubectl; a worker runs locally with exactly the configuration the
// operator's Deployment gives its pods; the sample requests (some deliberately bad) go in, and what comes
// back is printed, with `kubectl get` showing the pipeline Ready, the HPA reading the operator's lag metric
// (external.metrics.k8s.io, routed by the aggregation layer to the operator here) and `kubectl sentiment status`.
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { dumpYaml, loadYaml, type V1Deployment } from "@kubernetes/client-node";
import { parseOperatorConfig } from "../operator/src/config.ts";
import { startOperator } from "../operator/src/operator.ts";
import type { SentimentPipeline } from "../operator/src/pipeline.ts";
import { parseWorkerConfig } from "../worker/src/config.ts";
import { startWorker } from "../worker/src/worker.ts";
import { HarnessError, runCli } from "./harness/cli.ts";
import { startCluster } from "./harness/cluster-run.ts";
import { repoRoot } from "./harness/dirs.ts";
import { kafkaClient } from "./harness/kafka-client.ts";
import { findKafka, startKafka } from "./harness/kafka-cluster.ts";
import { kubectlFor } from "./harness/kubectl.ts";
import { makeMetricsApiCertificates, registerLocalMetricsApi } from "./harness/local-metrics-api.ts";
import { workerEnvOf } from "./harness/local-worker.ts";
import { waitFor } from "./harness/wait.ts";

const timeoutMs = 90_000;
const crdDir = join(repoRoot, "crds");
const sampleFile = join(repoRoot, "crds", "samples", "pipeline.yaml");

function sampleLines(): string[] {
  return readFileSync(join(repoRoot, "hack", "demo", "requests.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "");
}

/** The dev broker when `npm run kafka:up` already runs one, else the demo's own, stopped at the end. */
async function kafkaForDemo() {
  const running = findKafka("dev");
  if (running?.isBrokerRunning(0))
    return { bootstrapServers: running.bootstrapServers, stop: async () => {} };
  console.log("starting a local Kafka broker…");
  return startKafka({ name: "demo", portBase: Number(process.env.KAFKA_PORT_BASE ?? 9092) });
}

function shorten(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

runCli(async () => {
  const kafka = await kafkaForDemo();
  console.log("starting a local control plane (kube-apiserver, etcd, kube-controller-manager, kwok)…");
  const cluster = await startCluster({
    name: "demo",
    portBase: Number(process.env.KUBESENTIMENT_DEMO_CLUSTER_PORT ?? 16_443),
    controllerManager: true,
    kwok: true,
    build: true,
    hpaSyncPeriodSeconds: 5,
  }).catch(async (error: unknown) => {
    await kafka.stop();
    throw error;
  });
  const kubectl = kubectlFor(cluster.kubeconfigPath);
  const show = (args: string[]) =>
    console.log(`\n$ kubectl ${args.join(" ")}\n${kubectl.run(args).trimEnd()}`);
  const stops: (() => Promise<void>)[] = [];
  try {
    // The directory's own files (not samples/): every kind the operator watches.
    kubectl.run(["apply", "-f", crdDir]);
    kubectl.run(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
    const parsed = parseOperatorConfig({
      LEADER_ELECTION: "false",
      HTTP_PORT: "0",
      LOG_LEVEL: "error",
      RESYNC_PERIOD_MS: "5000",
    });
    if (!parsed.ok) throw new HarnessError(parsed.problems.join("; "));
    const { namespace } = parsed.config;
    kubectl.apply(JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } }));
    const certificates = makeMetricsApiCertificates(namespace);
    stops.push(async () => certificates.remove());
    const operator = await startOperator({
      config: {
        ...parsed.config,
        metricsApi: { port: 0, certFile: certificates.cert, keyFile: certificates.key },
      },
      kubeconfigPath: cluster.kubeconfigPath,
    });
    stops.unshift(() => operator.stop());
    await registerLocalMetricsApi(kubectl, namespace, operator.metricsApiPort ?? 0, certificates.caCert);
    console.log("operator running locally against the control plane, serving the lag metric to the HPA");

    // The sample as a user would apply it, pointed at this machine's broker.
    const pipeline = loadYaml<SentimentPipeline>(readFileSync(sampleFile, "utf8"));
    pipeline.spec.kafka.bootstrapServers = kafka.bootstrapServers;
    const name = pipeline.metadata.name ?? "demo";
    console.log(
      `\n$ kubectl apply -f crds/samples/pipeline.yaml\n${kubectl.run(["apply", "-f", "-"], dumpYaml(pipeline)).trimEnd()}`,
    );

    const deployment = await waitFor(
      `Deployment ${name}-worker`,
      () => kubectl.getJson<V1Deployment>(["deployment", `${name}-worker`]),
      { timeoutMs },
    );
    const env = workerEnvOf(deployment, "demo-worker-local");
    const workerConfig = parseWorkerConfig({
      ...env,
      HTTP_PORT: "0",
      LOG_LEVEL: "error",
      // MODEL_DIR swaps in another model (a DistilBERT export, say); the built-in one otherwise.
      ...(process.env.MODEL_DIR === undefined ? {} : { MODEL_DIR: process.env.MODEL_DIR }),
    });
    if (!workerConfig.ok)
      throw new HarnessError(`the Deployment's worker configuration: ${workerConfig.problems.join("; ")}`);
    const worker = await startWorker(workerConfig.config);
    stops.unshift(() => worker.stop());
    const { requests, responses, deadLetter } = workerConfig.config.topics;
    console.log(
      `\nworker running locally with the Deployment's configuration: ${requests} → ${responses} | ${deadLetter}`,
    );

    const client = kafkaClient(kafka.bootstrapServers);
    const lines = sampleLines();
    const runId = randomUUID().slice(0, 8);
    const texts = new Map<string, string>();
    const producer = client.producer();
    await producer.connect();
    await producer.send({
      topic: requests,
      acks: -1,
      messages: lines.map((line, index) => {
        // Ids get a per-run suffix so results from an earlier run on the same broker are not counted; lines
        // that are not JSON go as they are, keyed by their line number.
        let request: { id?: unknown; text?: unknown } | undefined;
        try {
          request = JSON.parse(line);
        } catch {
          request = undefined;
        }
        const id = `${typeof request?.id === "string" ? request.id : `line-${index + 1}`}@${runId}`;
        texts.set(id, typeof request?.text === "string" ? request.text : line);
        return { key: id, value: request === undefined ? line : JSON.stringify({ ...request, id }) };
      }),
    });
    await producer.disconnect();
    console.log(`produced ${lines.length} requests to ${requests}; waiting for the results…\n`);

    const results = new Map<string, string>();
    const reader = client.consumer({ groupId: `kubesentiment-demo-reader-${runId}` });
    await reader.connect();
    await reader.subscribe({ topics: [responses, deadLetter], fromBeginning: true });
    await reader.run({
      eachMessage: async ({ topic, message }) => {
        const record = JSON.parse(message.value?.toString() ?? "{}");
        const id = message.key?.toString() ?? record.id;
        if (!texts.has(id)) return;
        results.set(
          id,
          topic === responses
            ? `${record.label.padEnd(8)} ${record.score.toFixed(3)}  batch of ${record.timing.batchSize}`
            : `DEAD LETTER ${record.code}: ${record.message}`,
        );
      },
    });
    await waitFor(`${texts.size} results`, () => (results.size === texts.size ? true : undefined), {
      timeoutMs,
    }).finally(() => reader.disconnect());
    for (const [id, text] of texts) {
      console.log(`${id.split("@")[0]?.padEnd(10)} ${shorten(text, 62).padEnd(62)} → ${results.get(id)}`);
    }
    console.log(
      `\n${results.size} of ${texts.size} requests answered: responses on ${responses}, refusals on ${deadLetter}`,
    );

    // Polled, not `kubectl wait`: a kubectl running synchronously would freeze the operator in this process.
    await waitFor(
      `${name} Ready`,
      () => {
        const ready = kubectl.run([
          "get",
          "sentimentpipeline",
          name,
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return ready === "True" ? true : undefined;
      },
      { timeoutMs },
    );
    // The HPA reads the lag through the metrics API once per sync period: wait for its first reading.
    await waitFor(
      "the HPA's first reading of the lag metric",
      () =>
        kubectl.run([
          "get",
          "hpa",
          `${name}-worker`,
          "-o",
          "jsonpath={.status.currentMetrics[0].external.current.averageValue}",
        ]) || undefined,
      { timeoutMs },
    );
    show(["get", "sentimentpipeline", name]);
    show(["get", "deployment,service,hpa", "-l", `kubesentiment.io/pipeline=${name}`]);
    // The kubectl plugin (npm puts node_modules/.bin on PATH); async, as it must not freeze the operator here.
    const status = ["sentiment", "status", name];
    console.log(`\n$ kubectl ${status.join(" ")}\n${(await kubectl.runAsync(status)).trimEnd()}`);
    console.log(
      "\nThe operator and worker ran here as local processes; to run them as pods on a real node from their images, see README.md, In-cluster on this machine.",
    );
  } finally {
    for (const stop of stops) await stop();
    await cluster.stop();
    await kafka.stop();
  }
});
