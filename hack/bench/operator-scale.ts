// `npm run bench -- --operator N [--partitions P]`: one operator, run as its own process as in production,
// reconciling N pipelines on one real Kafka broker and a real control plane (kube-apiserver, controller manager
// with its HPA controller, scheduler, kwok nodes enough to hold every worker pod), with its metrics API behind the
// APIService, so the HPAs ask it for every pipeline's lag as they would in a cluster. Measures how long until
// every pipeline is TopicsReady and Ready, then, at rest, the operator's CPU (percent of one core) and RSS, and
// how many connections it holds to the broker. Prints figures, asserts nothing.
import { type ChildProcess, spawn } from "node:child_process";
import { openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
import type { SentimentPipeline } from "../../operator/src/pipeline.ts";
import { clusterPortCount, fakeNodeManifest } from "../harness/cluster-config.ts";
import { type Cluster, startCluster } from "../harness/cluster-run.ts";
import { repoRoot, stateDir } from "../harness/dirs.ts";
import { type KafkaCluster, startKafka } from "../harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../harness/kubectl.ts";
import { makeMetricsApiCertificates, registerLocalMetricsApi } from "../harness/local-metrics-api.ts";
import { freePortBase } from "../harness/ports.ts";
import { startTogether, stopChild } from "../harness/processes.ts";
import { processCpuSeconds } from "./cpu-split.ts";

const operatorNamespace = "kubesentiment-system";
/**
 * Worker pods a kwok node takes: fakeNodeManifest's 32 CPUs hold 64 workers at their default request (500m), fewer
 * than its 110 pods; 50 leaves room.
 */
const podsPerNode = 50;
/**
 * Bound on waiting for every pipeline to be Ready, so the scenario ends within minutes even when they are not:
 * 4 minutes, or 0.4 s per pipeline when that is longer (1,000 pipelines took 4-6 minutes on 2 cores).
 */
const readyBoundMs = (pipelines: number) => Math.max(240_000, pipelines * 400);
const restWindowS = Number(process.env.BENCH_OPERATOR_REST_S ?? 60);

export interface OperatorScaleResult {
  pipelines: number;
  partitions: number;
  /** Seconds from the apply until every pipeline's TopicsReady is True; undefined when the bound passed first. */
  topicsReadyS: number | undefined;
  /** Seconds from the apply until every pipeline's Ready is True; undefined when the bound passed first. */
  readyS: number | undefined;
  /** Pipelines Ready when the wait ended. */
  readyCount: number;
  cpuPct: number;
  rssMb: number;
  /** The most connections to the broker seen at once during the window, and at its end. */
  kafkaConnectionsMax: number;
  kafkaConnectionsEnd: number;
}

export async function operatorAtScale(
  pipelines: number,
  partitions: number,
  say: (line: string) => void,
): Promise<OperatorScaleResult> {
  const [cluster, kafka] = await startTogether(
    freePortBase(clusterPortCount).then((portBase) =>
      startCluster({ name: "bench-operator", portBase, controllerManager: true, kwok: true, build: true }),
    ),
    freePortBase(2).then((portBase) =>
      startKafka({ name: "bench-operator", portBase, portSetting: "the bench's free port base" }),
    ),
  );
  const certificates = makeMetricsApiCertificates(operatorNamespace);
  let operator: ChildProcess | undefined;
  try {
    const k = kubectlFor(cluster.kubeconfigPath);
    k.run(["apply", "-f", join(repoRoot, "crds")]);
    k.run(["wait", "--for=condition=Established", "crd", "--all", "--timeout=30s"]);
    k.run(["create", "namespace", operatorNamespace]);
    addKwokNodes(k, Math.ceil(pipelines / podsPerNode));
    const metricsPort = await freePortBase(1);
    operator = startOperatorProcess(cluster, {
      METRICS_TLS_CERT_FILE: certificates.cert,
      METRICS_TLS_KEY_FILE: certificates.key,
      METRICS_API_PORT: String(metricsPort),
    });
    await registerLocalMetricsApi(k, operatorNamespace, metricsPort, certificates.caCert);
    const pid = operator.pid ?? 0;

    say(`applying ${pipelines} pipelines (${partitions} partitions per topic, ${3 * pipelines} topics)…`);
    const appliedAt = Date.now();
    await applyPipelines(cluster, kafka, pipelines, partitions);
    const ready = await waitUntilReady(k, pipelines, appliedAt, say);

    say(`at rest for ${restWindowS} s…`);
    const before = processCpuSeconds(pid);
    const startedAt = Date.now();
    let kafkaConnectionsMax = 0;
    let rssMb = 0;
    while (Date.now() - startedAt < restWindowS * 1000) {
      await sleep(1_000);
      kafkaConnectionsMax = Math.max(kafkaConnectionsMax, connectionsTo(pid, kafka.bootstrapServers));
      rssMb = Math.max(rssMb, rssMegabytes(pid));
    }
    const cpuPct = (100 * (processCpuSeconds(pid) - before)) / ((Date.now() - startedAt) / 1000);
    return {
      pipelines,
      partitions,
      ...ready,
      cpuPct,
      rssMb,
      kafkaConnectionsMax,
      kafkaConnectionsEnd: connectionsTo(pid, kafka.bootstrapServers),
    };
  } finally {
    if (operator !== undefined) await stopChild(operator, 20_000);
    certificates.remove();
    await Promise.all([cluster.stop(), kafka.stop()]);
  }
}

/** kwok's nodes beside the one the cluster starts with, `count` in all. */
function addKwokNodes(k: Kubectl, count: number): void {
  const first = fakeNodeManifest() as { metadata: { name: string; labels: Record<string, string> } };
  const items = Array.from({ length: count - 1 }, (_, i) => {
    const name = first.metadata.name.replace(/-0$/, `-${i + 1}`);
    return {
      ...first,
      metadata: {
        ...first.metadata,
        name,
        labels: { ...first.metadata.labels, "kubernetes.io/hostname": name },
      },
    };
  });
  if (items.length > 0)
    k.run(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
}

/**
 * The operator as its Deployment runs it: `node operator/src/main.ts`, configured by its environment; with
 * BENCH_OPERATOR_CPU_PROF set to a directory, node writes the operator's CPU profile there when it stops.
 */
function startOperatorProcess(cluster: Cluster, env: Record<string, string>): ChildProcess {
  const log = openSync(join(stateDir("bench-operator-process"), "operator.log"), "w");
  const profileDir = process.env.BENCH_OPERATOR_CPU_PROF;
  const profile = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
  return spawn(
    process.execPath,
    [
      ...profile,
      "--import",
      "tsx",
      join(repoRoot, "operator/src/main.ts"),
      "--kubeconfig",
      cluster.kubeconfigPath,
    ],
    {
      cwd: repoRoot,
      stdio: ["ignore", log, log],
      env: {
        ...process.env,
        OPERATOR_NAMESPACE: operatorNamespace,
        LEADER_ELECTION: "false",
        HTTP_PORT: "0",
        LOG_LEVEL: "warn",
        ...env,
      },
    },
  );
}

/** Creates the pipelines through the API, a few at a time (one kubectl call for all would take minutes). */
async function applyPipelines(
  cluster: Cluster,
  kafka: KafkaCluster,
  count: number,
  partitions: number,
): Promise<void> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cluster.kubeconfigPath);
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const create = (i: number) =>
    api.createNamespacedCustomObject({
      group: "kubesentiment.io",
      version: "v1alpha1",
      namespace: "default",
      plural: "sentimentpipelines",
      body: {
        apiVersion: "kubesentiment.io/v1alpha1",
        kind: "SentimentPipeline",
        metadata: { name: `p${i}`, namespace: "default" },
        spec: {
          kafka: { bootstrapServers: kafka.bootstrapServers },
          topics: { partitions, replicationFactor: 1 },
          worker: { image: "example/worker:1" },
        },
      },
    });
  const inFlight = 16;
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < count; i = next++) await create(i);
    }),
  );
}

function conditionTrue(pipeline: SentimentPipeline, type: string): boolean {
  return pipeline.status?.conditions?.some((c) => c.type === type && c.status === "True") ?? false;
}

async function waitUntilReady(
  k: Kubectl,
  count: number,
  appliedAt: number,
  say: (line: string) => void,
): Promise<Pick<OperatorScaleResult, "topicsReadyS" | "readyS" | "readyCount">> {
  let topicsReadyS: number | undefined;
  let readyCount = 0;
  while (Date.now() - appliedAt < readyBoundMs(count)) {
    const list = await k.getJsonAsync<{ items: SentimentPipeline[] }>([
      "sentimentpipelines",
      "-n",
      "default",
    ]);
    const items = list?.items ?? [];
    const elapsedS = (Date.now() - appliedAt) / 1000;
    const topicsReady = items.filter((p) => conditionTrue(p, "TopicsReady")).length;
    readyCount = items.filter((p) => conditionTrue(p, "Ready")).length;
    if (topicsReadyS === undefined && topicsReady === count) topicsReadyS = elapsedS;
    if (readyCount === count) return { topicsReadyS, readyS: elapsedS, readyCount };
    say(`  ${elapsedS.toFixed(0)} s: ${topicsReady} TopicsReady, ${readyCount} Ready of ${count}`);
    // Each look lists every pipeline through the API server and kubectl, on the cores the operator uses.
    await sleep(5_000);
  }
  return { topicsReadyS, readyS: undefined, readyCount };
}

function rssMegabytes(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  return Number(kb ?? 0) / 1024;
}

/** The process's established TCP connections to any of `servers`: its socket fds matched in /proc/net/tcp. */
function connectionsTo(pid: number, servers: readonly string[]): number {
  const sockets = new Set(
    readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
      try {
        return [/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? ""];
      } catch {
        return [];
      }
    }),
  );
  const ports = new Set(servers.map((server) => Number(server.split(":").at(-1))));
  const established = "01";
  return ["tcp", "tcp6"]
    .flatMap((table) => readFileSync(`/proc/${pid}/net/${table}`, "utf8").split("\n").slice(1))
    .map((line) => line.trim().split(/\s+/))
    .filter(
      (columns) =>
        columns[3] === established &&
        ports.has(Number.parseInt(columns[2]?.split(":")[1] ?? "", 16)) &&
        sockets.has(columns[9] ?? ""),
    ).length;
}

export function describeOperatorScale(result: OperatorScaleResult): string[] {
  const seconds = (s: number | undefined) =>
    s === undefined ? `not within ${readyBoundMs(result.pipelines) / 1000} s` : `${s.toFixed(0)} s`;
  return [
    `operator with ${result.pipelines} pipelines (${result.partitions} partitions per topic):`,
    `  every pipeline TopicsReady after ${seconds(result.topicsReadyS)}, Ready after ${seconds(result.readyS)}` +
      ` (${result.readyCount} Ready at the end of the wait)`,
    `  at rest over ${restWindowS} s: ${result.cpuPct.toFixed(1)}% of one core, RSS up to ${result.rssMb.toFixed(0)} MB`,
    `  connections to the broker: up to ${result.kafkaConnectionsMax} at once, ${result.kafkaConnectionsEnd} at the end`,
  ];
}
