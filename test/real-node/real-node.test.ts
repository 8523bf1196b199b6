// The real node, end to end on this machine (root only; part of `npm test` as root on Debian, alone with
// `npm run test:real-node`): one cluster with one real node (containerd, CoreDNS, kubelet, CNI bridge, kube-proxy)
// and one Kafka on the pod gateway, shared by the file, in order: a hand-written worker pod answers; a pod reaches
// the apiserver with its in-cluster configuration and resolves Service names; the chart installed with helm runs
// two operator pods electing a leader, serves the metrics API through the APIService and passes `helm test`; a
// pipeline's worker pods answer every request, lose nothing when deleted (graceful, forced) or rolled by a spec
// change the new leader reconciles after the old leader's pod is deleted; the real HPA scales worker pods from
// zero on a backlog, capped at the partitions, and back; `down` then leaves nothing of the node on the machine.
import { createHash } from "node:crypto";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  V1APIService,
  V1Deployment,
  V1LeaseList,
  V1PodList,
  V2HorizontalPodAutoscaler,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { requireCommand, run } from "../../hack/harness/commands.ts";
import { cacheDir, repoRoot } from "../../hack/harness/dirs.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import {
  podNetwork,
  realNodeFiles,
  realNodeLabel,
  realNodeName,
  realNodePortCount,
} from "../../hack/harness/real-node-config.ts";
import { leftovers, type MachineBefore } from "../../hack/harness/real-node-machine.ts";
import { realNodeDir } from "../../hack/harness/real-node-run.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { PipelineSpec } from "../../operator/src/pipeline.ts";
import { chartDir, helm, releaseNamespace, upgradeArgs } from "../support/helm.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { alice, brokerSecurity, makeTestPki, type TestPki } from "../support/kafka-security.ts";
import { conditionOf, pipelineManifest, readyPipeline } from "../support/operator.ts";
import { createPipelineTopics, type PipelineTopics, ResultReader } from "../support/pipeline-topics.ts";

const workerImage = "kubesentiment/worker:0.1.0";

function workerPod(topics: PipelineTopics, bootstrap: string[]): string {
  const env = {
    KAFKA_BOOTSTRAP_SERVERS: bootstrap.join(","),
    KAFKA_GROUP_ID: `real-node-${topics.requests}`,
    TOPIC_REQUESTS: topics.requests,
    TOPIC_RESPONSES: topics.responses,
    TOPIC_DEAD_LETTER: topics.deadLetter,
  };
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "worker", namespace: "default" },
    spec: {
      nodeSelector: { [realNodeLabel.key]: realNodeLabel.value },
      securityContext: { runAsNonRoot: true },
      containers: [
        {
          name: "worker",
          image: workerImage,
          imagePullPolicy: "Never",
          env: Object.entries(env).map(([name, value]) => ({ name, value })),
          ports: [{ name: "http", containerPort: 8080 }],
          securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
          startupProbe: {
            httpGet: { path: "/healthz", port: "http" },
            periodSeconds: 1,
            failureThreshold: 120,
          },
          readinessProbe: { httpGet: { path: "/readyz", port: "http" }, periodSeconds: 1 },
        },
      ],
    },
  });
}

/**
 * Node.js in a pod, as a client library's in-cluster configuration does it: the apiserver at
 * KUBERNETES_SERVICE_HOST:PORT (the kubernetes Service, through kube-proxy), verified against the mounted CA,
 * with the ServiceAccount's token; prints the user the apiserver saw (a SelfSubjectReview, allowed to anyone).
 */
const whoAmIScript = `
const https = require("node:https");
const fs = require("node:fs");
const dir = "/var/run/secrets/kubernetes.io/serviceaccount";
const request = https.request(
  {
    host: process.env.KUBERNETES_SERVICE_HOST,
    port: process.env.KUBERNETES_SERVICE_PORT,
    path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    method: "POST",
    ca: fs.readFileSync(dir + "/ca.crt"),
    headers: { authorization: "Bearer " + fs.readFileSync(dir + "/token", "utf8"), "content-type": "application/json" },
  },
  (response) => {
    let body = "";
    response.on("data", (chunk) => { body += chunk; });
    response.on("end", () => console.log(response.statusCode + " " + (JSON.parse(body).status?.userInfo?.username ?? body)));
  },
);
request.on("error", (error) => { console.log("error " + error.message); process.exitCode = 1; });
request.end(JSON.stringify({ apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" }));
`;

/** Looks each name up with the C library's resolver (as any program in a pod does) and prints what it found. */
function lookupScript(names: string[]): string {
  return `
const dns = require("node:dns/promises");
Promise.all(${JSON.stringify(names)}.map((name) => dns.lookup(name).then((found) => found.address, (error) => error.code)))
  .then((addresses) => console.log(addresses.join(" ")));
`;
}

/** A pod that runs `script` once with the worker image's Node.js, under the namespace's default ServiceAccount. */
function scriptPod(name: string, script: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      nodeSelector: { [realNodeLabel.key]: realNodeLabel.value },
      restartPolicy: "Never",
      containers: [{ name, image: workerImage, imagePullPolicy: "Never", command: ["node", "-e", script] }],
    },
  });
}

/** The pipeline the tests of pods, deletes and rolls share: two partitions, two workers. */
function inpodsSpec(bootstrapServers: string[], worker: NonNullable<PipelineSpec["worker"]>): PipelineSpec {
  return {
    kafka: { bootstrapServers },
    topics: { partitions: 2, replicationFactor: 1 },
    autoscaling: { minReplicas: 2, maxReplicas: 2 },
    worker,
  };
}

/** Two cores here: a smaller request than the default half core leaves room for more worker pods. */
const smallWorker = { resources: { requests: { cpu: "100m", memory: "256Mi" } } };

const wrongPassword = "not-alices-password-4Wq";

/** The secured pipeline's SCRAM login, as a user keeps it: a Secret of username and password. */
function kafkaUserSecret(password: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "kafka-user", namespace: "default" },
    stringData: { username: alice.name, password },
  });
}

/** One worker over SASL_SSL: the CA from Secret kafka-ca, SCRAM-SHA-512 as alice from Secret kafka-user. */
function securedSpec(bootstrapServers: string[]): PipelineSpec {
  return {
    kafka: {
      bootstrapServers,
      tls: { caSecretRef: { name: "kafka-ca" } },
      sasl: { mechanism: "scram-sha-512", secretRef: { name: "kafka-user" } },
    },
    topics: { partitions: 2, replicationFactor: 1 },
    autoscaling: { minReplicas: 1, maxReplicas: 1 },
    worker: smallWorker,
  };
}

/** A PersistentVolume of `dir` on the node and the claim `model` bound to it, read-only, as a cluster admin would. */
function modelVolume(dir: string): string {
  const volume = {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "kubesentiment-test-model" },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadOnlyMany"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "",
      hostPath: { path: dir, type: "Directory" },
    },
  };
  const claim = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "model", namespace: "default" },
    spec: {
      accessModes: ["ReadOnlyMany"],
      storageClassName: "",
      volumeName: volume.metadata.name,
      resources: { requests: { storage: "1Gi" } },
    },
  };
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: [volume, claim] });
}

/**
 * An HTTPS server on the pod gateway serving the worker's own model as a .tar.gz at `url`, under a certificate
 * of a private CA (as an internal artifact server would be): pods reach it, and trust it only through the CA.
 */
async function startModelServer(dir: string) {
  const pki = makeTestPki(dir, [podNetwork.gateway]);
  const archive = join(dir, "model.tar.gz");
  run(requireCommand("tar", "install tar"), [
    "-czf",
    archive,
    "-C",
    join(repoRoot, "worker", "model"),
    "config.json",
    "model.onnx",
    "tokenizer.json",
    "tokenizer_config.json",
  ]);
  const body = readFileSync(archive);
  let requests = 0;
  const server = createServer(
    { key: readFileSync(pki.serverKey), cert: readFileSync(pki.serverCert) },
    (request, response) => {
      requests++;
      if (request.url === "/models/sst2.tar.gz") response.writeHead(200).end(body);
      else response.writeHead(404).end();
    },
  );
  await new Promise<void>((resolve) => server.listen(0, podNetwork.gateway, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://${podNetwork.gateway}:${port}/models/sst2.tar.gz`,
    sha256: createHash("sha256").update(body).digest("hex"),
    caCert: pki.caCert,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A producer and a reader on a pipeline's default topics: requests sent with ids `<prefix>-<n>`, and whether
 * every one of them was answered (duplicates allowed: delivery is at least once; none may be missing).
 */
async function openStream(
  bootstrapServers: string[],
  pipeline: string,
  prefix: string,
  security?: KafkaCluster["security"],
) {
  const topics = {
    requests: `default.${pipeline}-requests`,
    responses: `default.${pipeline}-responses`,
    deadLetter: `default.${pipeline}-dlq`,
  };
  const client = kafkaClient(bootstrapServers, { security });
  const reader = await ResultReader.start(client, topics);
  const producer = client.producer();
  await producer.connect();
  const sent: string[] = [];
  const answered = () => {
    const ids = reader.idsOn(topics.responses);
    return sent.filter((id) => ids.has(id)).length;
  };
  return {
    async send(count: number) {
      const ids = Array.from({ length: count }, (_, i) => `${prefix}-${sent.length + i}`);
      sent.push(...ids);
      // In batches well under the broker's 1 MB request limit.
      for (let from = 0; from < ids.length; from += 4000) {
        await producer.send({
          topic: topics.requests,
          acks: -1,
          messages: ids.slice(from, from + 4000).map((id, i) => ({
            key: id,
            value: JSON.stringify({ id, text: i % 2 ? "a warm, funny film" : "a dull, lifeless film" }),
          })),
        });
      }
    },
    answered,
    async allAnswered(timeoutMs = 180_000) {
      await reader.waitFor(
        () => answered() === sent.length,
        () => `answered ${answered()} of ${sent.length}`,
        timeoutMs,
      );
      expect([...reader.idsOn(topics.deadLetter)].filter((id) => id.startsWith(`${prefix}-`))).to.deep.equal(
        [],
      );
    },
    async close() {
      await producer.disconnect();
      await reader.close();
    },
  };
}

/** Sends 40 requests to a pipeline and waits until every one of them is answered. */
async function answersAll(
  bootstrapServers: string[],
  pipeline: string,
  prefix: string,
  security?: KafkaCluster["security"],
): Promise<void> {
  const stream = await openStream(bootstrapServers, pipeline, prefix, security);
  try {
    await stream.send(40);
    await stream.allAnswered();
  } finally {
    await stream.close();
  }
}

describe("real node", function () {
  this.timeout(600_000);
  let cluster: Cluster | undefined;
  let kafka: KafkaCluster | undefined;
  /** SASL_SSL (SCRAM-SHA-512 over TLS on a test CA) on the pod gateway, for the secured pipeline's cases. */
  let secureKafka: { cluster: KafkaCluster; pki: TestPki } | undefined;
  /** Scratch files of this run: the test CA, the model directory a PersistentVolume serves. */
  const scratch = mkdtempSync(join(tmpdir(), "kubesentiment-real-node-"));
  let kubectl: Kubectl;

  before(async function () {
    if (process.getuid?.() !== 0) {
      console.log("    skipped: the real node runs containers as root");
      this.skip();
    }
    if (!existsSync(join(cacheDir("images"), "archives", "worker.tar"))) {
      console.log("    skipped: the worker image is not built (npm run images)");
      this.skip();
    }
    cluster = await startCluster({
      name: "test-real-node",
      portBase: await freePortBase(clusterPortCount + realNodePortCount),
      controllerManager: true,
      hpaSyncPeriodSeconds: 5,
      realNode: true,
      build: true,
    });
    kubectl = kubectlFor(cluster.kubeconfigPath);
    kafka = await startKafkaOnFreePorts({ name: "test-real-node", clientHost: podNetwork.gateway });
  });

  const release = "kubesentiment";
  const operatorSelector = "app.kubernetes.io/name=kubesentiment-operator";
  const h = (args: string[]) => {
    const result = helm(args, cluster?.kubeconfigPath);
    if (result.status !== 0) throw new Error(`helm ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  };
  const workerPods = (pipeline: string) =>
    kubectl.getJson<V1PodList>(["pods", "-l", `kubesentiment.io/pipeline=${pipeline}`])?.items ?? [];
  const leaseHolders = () =>
    (kubectl.getJson<V1LeaseList>(["leases", "-n", releaseNamespace])?.items ?? []).map(
      (lease) => lease.spec?.holderIdentity ?? "",
    );
  const operatorPods = () =>
    kubectl.getJson<V1PodList>(["pods", "-n", releaseNamespace, "-l", operatorSelector])?.items ?? [];
  /** Waits until the pipeline's WorkersAvailable message includes `text`, and returns that condition. */
  const workersConditionSaying = (pipeline: string, text: string) =>
    waitFor(
      `${pipeline}'s WorkersAvailable saying "${text}"`,
      () => {
        const condition = conditionOf(kubectl.pipeline(pipeline), "WorkersAvailable");
        return condition?.message?.includes(text) ? condition : undefined;
      },
      { timeoutMs: 120_000, describe: () => JSON.stringify(kubectl.pipeline(pipeline)?.status?.conditions) },
    );

  after(async () => {
    await secureKafka?.cluster.stop();
    await kafka?.stop();
    await cluster?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("runs a worker pod from the image to Ready through its probes, and it answers a request", async () => {
    if (!kafka) throw new Error("no Kafka");
    const topics = await createPipelineTopics(kafka.bootstrapServers, { partitions: 1 });
    kubectl.apply(workerPod(topics, kafka.bootstrapServers));
    kubectl.run(["wait", "--for=condition=Ready", "pod/worker", "--timeout=180s"]);
    const pod = kubectl.getJson<{ status: { podIP: string } }>(["pod", "worker"]);
    expect(pod?.status.podIP).to.match(/^10\.88\.0\.\d+$/);

    const client = kafkaClient(kafka.bootstrapServers);
    const reader = await ResultReader.start(client, topics);
    const producer = client.producer();
    try {
      await producer.connect();
      const request = { id: "real-node-1", text: "An absolute delight." };
      await producer.send({
        topic: topics.requests,
        messages: [{ key: request.id, value: JSON.stringify(request) }],
      });
      await reader.waitFor(
        () => reader.idsOn(topics.responses).has(request.id),
        () => "the worker pod's response never came",
      );
      expect(reader.on(topics.responses)[0]?.value.label).to.equal("positive");
    } finally {
      await producer.disconnect();
      await reader.close();
    }
  });

  it("lets a pod reach the apiserver through the kubernetes Service with its ServiceAccount token", () => {
    kubectl.apply(scriptPod("who-am-i", whoAmIScript));
    kubectl.run(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/who-am-i", "--timeout=120s"]);
    expect(kubectl.run(["logs", "who-am-i"]).trim()).to.equal("201 system:serviceaccount:default:default");
  });

  it("resolves Service names in pods: the full name and the short one through the search path", () => {
    kubectl.apply(
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "dns-probe", namespace: "default" },
        spec: { ports: [{ port: 80 }] },
      }),
    );
    const service = kubectl.getJson<{ spec: { clusterIP: string } }>(["service", "dns-probe"]);
    kubectl.apply(scriptPod("lookup", lookupScript(["dns-probe.default.svc.cluster.local", "dns-probe"])));
    kubectl.run(["wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/lookup", "--timeout=120s"]);
    const ip = service?.spec.clusterIP;
    expect(kubectl.run(["logs", "lookup"]).trim()).to.equal(`${ip} ${ip}`);
  });

  it("runs two operator pods from the image under its ServiceAccount, one holding the leader Lease", async () => {
    h([
      "install",
      release,
      chartDir,
      "--namespace",
      releaseNamespace,
      "--create-namespace",
      "--set",
      "replicaCount=2",
      "--set",
      "image.pullPolicy=Never",
      "--wait",
      "--timeout",
      "240s",
    ]);
    const pods = operatorPods();
    expect(pods.map((pod) => pod.status?.phase)).to.deep.equal(["Running", "Running"]);
    for (const pod of pods) {
      expect(pod.spec?.serviceAccountName).to.equal("kubesentiment-operator");
      expect(pod.status?.podIP).to.match(/^10\.88\.0\.\d+$/);
      const env = pod.spec?.containers[0]?.env ?? [];
      expect(env.map((e) => e.name)).to.not.include("KUBECONFIG");
      expect(env.find((e) => e.name === "LEADER_ELECTION")?.value).to.equal("true");
    }
    const names = pods.map((pod) => pod.metadata?.name);
    const holder = await waitFor("an operator pod holding the leader Lease", () =>
      leaseHolders().find((identity) => names.includes(identity)),
    );
    expect(names).to.include(holder);
  });

  it("serves the metrics API from the operator pod through the APIService", async () => {
    await waitFor("the external metrics APIService Available", () => {
      const service = kubectl.getJson<V1APIService>(["apiservice", "v1beta1.external.metrics.k8s.io"]);
      return service?.status?.conditions?.find((c) => c.type === "Available")?.status === "True";
    });
    const resources = JSON.parse(
      await kubectl.runAsync(["get", "--raw", "/apis/external.metrics.k8s.io/v1beta1"]),
    ) as { resources: { name: string }[] };
    expect(resources.resources.map((r) => r.name)).to.include("kubesentiment_consumer_lag");
  });

  it("passes helm test, which reaches the operator by its Service's DNS name", () => {
    expect(h(["test", release, "--namespace", releaseNamespace, "--timeout", "120s"])).to.match(
      /Phase:\s+Succeeded/,
    );
  });

  it("runs a pipeline's workers as pods: Ready through their probes, kubectl get sp Ready with 2, all answered", async () => {
    if (!kafka) throw new Error("no Kafka");
    kubectl.apply(pipelineManifest("inpods", inpodsSpec(kafka.bootstrapServers, smallWorker)));
    await readyPipeline(kubectl, "inpods", "default", 240_000);
    // Ready needs one available worker; both pods become Ready through their own probes.
    await waitFor(
      "both of inpods' worker pods Ready",
      () => kubectl.pipeline("inpods")?.status?.readyReplicas === 2,
      { timeoutMs: 180_000 },
    );
    expect(workerPods("inpods").map((pod) => pod.status?.podIP)).to.satisfy(
      (ips: string[]) => ips.length === 2 && ips.every((ip) => /^10\.88\.0\.\d+$/.test(ip)),
    );
    expect(kubectl.run(["get", "sp", "inpods"])).to.match(/^inpods\s+True\s+(?:False\s+)?2\s/m);

    await answersAll(kafka.bootstrapServers, "inpods", "first");
  });

  it("loses nothing when worker pods are deleted mid-stream, gracefully and then forced", async () => {
    if (!kafka) throw new Error("no Kafka");
    const stream = await openStream(kafka.bootstrapServers, "inpods", "deleted");
    try {
      await stream.send(300);
      await waitFor("the first responses", () => stream.answered() > 0, { timeoutMs: 120_000 });
      const [graceful, forced] = workerPods("inpods").map((pod) => pod.metadata?.name ?? "");
      kubectl.run(["delete", "pod", graceful ?? "", "--wait=false"]);
      await stream.send(300);
      kubectl.run(["delete", "pod", forced ?? "", "--grace-period=0", "--force"]);
      await stream.send(300);
      await stream.allAnswered(300_000);
    } finally {
      await stream.close();
    }
  });

  it("hands the lead to the other operator pod when the leader's pod is deleted", async () => {
    const names = operatorPods().map((pod) => pod.metadata?.name ?? "");
    const leader = leaseHolders().find((identity) => names.includes(identity));
    expect(leader).to.be.a("string");
    kubectl.run(["delete", "pod", leader ?? "", "-n", releaseNamespace, "--wait=false"]);
    const other = names.find((name) => name !== leader);
    await waitFor("the other operator pod holding the Lease", () => leaseHolders().includes(other ?? ""), {
      timeoutMs: 120_000,
    });
  });

  it("rolls the worker pods on a spec change with nothing lost, reconciled by the new leader", async () => {
    if (!kafka) throw new Error("no Kafka");
    const before = new Set(workerPods("inpods").map((pod) => pod.metadata?.name));
    const stream = await openStream(kafka.bootstrapServers, "inpods", "rolled");
    try {
      await stream.send(300);
      const changed = { ...smallWorker, batch: { maxSize: 8 } };
      kubectl.apply(pipelineManifest("inpods", inpodsSpec(kafka.bootstrapServers, changed)));
      await stream.send(300);
      await waitFor(
        "inpods rolled onto two new Ready pods",
        () => {
          const pods = workerPods("inpods");
          return (
            pods.length === 2 &&
            pods.every(
              (pod) =>
                !before.has(pod.metadata?.name) &&
                pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
            )
          );
        },
        { timeoutMs: 240_000 },
      );
      await stream.send(300);
      await stream.allAnswered(300_000);
    } finally {
      await stream.close();
    }
  });

  it("runs a SCRAM/TLS pipeline's workers in pods from its Secrets: the CA mounted, the password by secretKeyRef", async () => {
    const pki = makeTestPki(join(scratch, "pki"), [podNetwork.gateway]);
    const security = brokerSecurity(pki);
    secureKafka = {
      pki,
      cluster: await startKafkaOnFreePorts({
        name: "test-real-node-secure",
        clientHost: podNetwork.gateway,
        security,
      }),
    };
    kubectl.run(["create", "secret", "generic", "kafka-ca", `--from-file=ca.crt=${pki.caCert}`]);
    kubectl.apply(kafkaUserSecret(alice.password));
    kubectl.apply(pipelineManifest("secured", securedSpec(secureKafka.cluster.bootstrapServers)));
    await readyPipeline(kubectl, "secured", "default", 240_000);
    const [pod] = workerPods("secured");
    const env = pod?.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "KAFKA_SASL_PASSWORD")?.valueFrom?.secretKeyRef).to.deep.equal({
      name: "kafka-user",
      key: "password",
    });
    expect(JSON.stringify(pod?.spec)).not.to.include(alice.password);

    await answersAll(secureKafka.cluster.bootstrapServers, "secured", "secured", security);
  });

  it("shows a wrong password in the new worker pod's log and the pipeline's conditions, the old pod answering meanwhile", async () => {
    if (!secureKafka) throw new Error("no secured Kafka");
    const before = new Set(workerPods("secured").map((pod) => pod.metadata?.name));
    kubectl.apply(kafkaUserSecret(wrongPassword));
    // The worker reads its credentials at start: a rotation takes a rollout, as README says.
    kubectl.run(["rollout", "restart", "deployment/secured-worker"]);
    const refused = await waitFor(
      "a new secured worker pod's container failed at least once",
      () =>
        workerPods("secured").find(
          (pod) =>
            !before.has(pod.metadata?.name) &&
            pod.status?.containerStatuses?.[0]?.lastState?.terminated !== undefined,
        ),
      { timeoutMs: 180_000 },
    );
    const log = kubectl.run(["logs", refused.metadata?.name ?? "", "-c", "worker", "--previous"]);
    expect(log).to.include("SASL authentication failed for user alice");
    expect(log).to.include("KAFKA_SASL_PASSWORD");
    const conditions = await waitFor(
      "secured reported with its login rejected",
      () => {
        const current = kubectl.pipeline("secured");
        return conditionOf(current, "TopicsReady")?.reason === "KafkaAuthenticationFailed"
          ? current
          : undefined;
      },
      { timeoutMs: 120_000 },
    );
    expect(conditionOf(conditions, "TopicsReady")?.message).to.include("spec.kafka.sasl.secretRef");
    expect(conditionOf(conditions, "Ready")?.status).to.equal("False");
    // The old pod still answers, so workers are available; the condition names the new pod's failure.
    const workers = await workersConditionSaying("secured", "SASL authentication failed for user alice");
    expect(workers.message).to.include(refused.metadata?.name ?? "");
    expect(log + JSON.stringify(kubectl.pipeline("secured")?.status)).not.to.include(wrongPassword);

    // maxUnavailable 0: the pod started with the right password stays and answers.
    await answersAll(
      secureKafka.cluster.bootstrapServers,
      "secured",
      "rotating",
      secureKafka.cluster.security,
    );

    kubectl.apply(kafkaUserSecret(alice.password));
    kubectl.run(["delete", "pod", refused.metadata?.name ?? "", "--wait=false"]);
    await waitFor(
      "secured rolled onto a new pod with the right password",
      () => {
        const pods = workerPods("secured");
        return (
          pods.length === 1 &&
          !before.has(pods[0]?.metadata?.name) &&
          pods[0]?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")
        );
      },
      { timeoutMs: 180_000 },
    );
    await readyPipeline(kubectl, "secured", "default", 120_000);
  });

  it("runs workers on a model from a PersistentVolume on the node (a subPath of it), and they answer", async () => {
    if (!kafka) throw new Error("no Kafka");
    const volumeDir = join(scratch, "model-volume");
    mkdirSync(join(volumeDir, "sst2"), { recursive: true });
    cpSync(join(repoRoot, "worker", "model"), join(volumeDir, "sst2"), { recursive: true });
    // The worker runs as a non-root user: the directory must be readable by it, as on any shared volume.
    for (const dir of [scratch, volumeDir, join(volumeDir, "sst2")]) chmodSync(dir, 0o755);
    kubectl.apply(modelVolume(volumeDir));
    kubectl.apply(
      pipelineManifest("fromvolume", {
        kafka: { bootstrapServers: kafka.bootstrapServers },
        topics: { partitions: 1, replicationFactor: 1 },
        autoscaling: { minReplicas: 1, maxReplicas: 1 },
        model: { source: { volume: { claimName: "model", subPath: "sst2" } } },
        worker: smallWorker,
      }),
    );
    await readyPipeline(kubectl, "fromvolume", "default", 240_000);
    const [pod] = workerPods("fromvolume");
    const loaded = kubectl
      .run(["logs", pod?.metadata?.name ?? "", "-c", "worker"])
      .split("\n")
      .map((line) => (line.startsWith("{") ? (JSON.parse(line) as { message?: string; dir?: string }) : {}))
      .find((entry) => entry.message === "model loaded");
    expect(loaded?.dir).to.equal("/models");
    await answersAll(kafka.bootstrapServers, "fromvolume", "volume");
  });

  it("fetches the model from an HTTPS server on a private CA with the right sha256; a wrong one or a missing CA Secret fails visibly", async () => {
    if (!kafka) throw new Error("no Kafka");
    const server = await startModelServer(join(scratch, "model-server"));
    try {
      kubectl.run(["create", "secret", "generic", "model-ca", `--from-file=ca.crt=${server.caCert}`]);
      const fromUrl = (sha256: string): PipelineSpec => ({
        kafka: { bootstrapServers: kafka?.bootstrapServers ?? [] },
        topics: { partitions: 1, replicationFactor: 1 },
        autoscaling: { minReplicas: 1, maxReplicas: 1 },
        model: { source: { url: { url: server.url, sha256, caSecretRef: { name: "model-ca" } } } },
        worker: smallWorker,
      });
      kubectl.apply(pipelineManifest("fromurl", fromUrl(server.sha256)));
      await readyPipeline(kubectl, "fromurl", "default", 240_000);
      expect(server.requests()).to.be.above(0);
      await answersAll(kafka.bootstrapServers, "fromurl", "url");

      const wrong = "0".repeat(64);
      kubectl.apply(pipelineManifest("badurl", fromUrl(wrong)));
      const failed = await waitFor(
        "badurl's fetch-model init container failed",
        () =>
          workerPods("badurl").find(
            (pod) =>
              (pod.status?.initContainerStatuses?.[0]?.lastState?.terminated ??
                pod.status?.initContainerStatuses?.[0]?.state?.terminated) !== undefined,
          ),
        { timeoutMs: 180_000 },
      );
      const init = failed.status?.initContainerStatuses?.[0];
      const terminated = init?.lastState?.terminated ?? init?.state?.terminated;
      expect(init?.name).to.equal("fetch-model");
      expect(terminated?.exitCode).to.equal(1);
      expect(terminated?.message).to.include("SHA-256 mismatch");
      const reported = await workersConditionSaying("badurl", "SHA-256 mismatch");
      expect(reported.status).to.equal("False");
      expect(reported.message).to.include("fetch-model");
      expect(conditionOf(kubectl.pipeline("badurl"), "Ready")?.status).to.equal("False");
      kubectl.run(["delete", "sentimentpipeline", "badurl", "--wait=false"]);

      // A CA Secret that does not exist: the kubelet cannot mount it and says so only in the pod's Events.
      kubectl.apply(
        pipelineManifest("nocaurl", {
          ...fromUrl(server.sha256),
          model: {
            source: { url: { url: server.url, sha256: server.sha256, caSecretRef: { name: "no-such-ca" } } },
          },
        }),
      );
      const unmountable = await workersConditionSaying("nocaurl", "no-such-ca");
      expect(unmountable).to.include({ status: "False", reason: "WorkerPodFailing" });
      expect(unmountable.message).to.include(
        "cannot start: spec.model.source.url.caSecretRef names Secret default/no-such-ca, which does not exist",
      );
      kubectl.run(["delete", "sentimentpipeline", "nocaurl", "--wait=false"]);
    } finally {
      await server.close();
    }
  });

  it("scales worker pods from zero on a backlog, the real HPA capping at the partitions, and back to zero", async () => {
    if (!kafka) throw new Error("no Kafka");
    kubectl.apply(
      pipelineManifest("surge", {
        kafka: { bootstrapServers: kafka.bootstrapServers },
        topics: { partitions: 3, replicationFactor: 1 },
        autoscaling: {
          minReplicas: 0,
          maxReplicas: 6,
          lagThreshold: 50,
          scaleToZeroAfterSeconds: 3,
          scaleDownStabilizationSeconds: 5,
        },
        worker: smallWorker,
      }),
    );
    const replicas = () => kubectl.getJson<V1Deployment>(["deployment", "surge-worker"])?.spec?.replicas;
    await waitFor("surge at zero replicas", () => replicas() === 0, { timeoutMs: 120_000 });
    // The pod the Deployment started with is deleted while it starts; until it is gone it could consume.
    await waitFor("surge's first worker pod gone", () => workerPods("surge").length === 0, {
      timeoutMs: 120_000,
    });
    const hpa = kubectl.getJson<V2HorizontalPodAutoscaler>(["hpa", "surge-worker"]);
    expect(hpa?.spec?.maxReplicas).to.equal(3);

    const stream = await openStream(kafka.bootstrapServers, "surge", "backlog");
    // The first worker the operator starts from zero drains about 2000 requests a second here: it used to race
    // the HPA's first look at one replica (up to a sync period later), and when it won, every partition was
    // below one worker's worth by then and the HPA never asked for 3. With the node cordoned, the workers stay
    // Pending until the HPA has decided, so the backlog need only fill each partition beyond lagThreshold.
    kubectl.run(["cordon", realNodeName]);
    try {
      await stream.send(3000);
      await waitFor("the HPA raising surge to 3 replicas", () => replicas() === 3, {
        timeoutMs: 120_000,
        describe: () => kubectl.run(["describe", "hpa/surge-worker", "sentimentpipeline/surge"]),
      });
      expect(stream.answered()).to.equal(0);
      kubectl.run(["uncordon", realNodeName]);
      await stream.allAnswered(300_000);
    } finally {
      kubectl.run(["uncordon", realNodeName]);
      await stream.close();
    }
    await waitFor("surge back at zero replicas", () => replicas() === 0, { timeoutMs: 180_000 });
  });

  it("upgrades with helm: new operator pods, one leading, the pipeline still Ready", async () => {
    const before = new Set(operatorPods().map((pod) => pod.metadata?.name));
    h(upgradeArgs(release, ["operator.logLevel=debug"], "240s"));
    const names = await waitFor("two new operator pods and no old one", () => {
      const pods = operatorPods().map((pod) => pod.metadata?.name ?? "");
      return pods.length === 2 && pods.every((name) => !before.has(name)) ? pods : undefined;
    });
    await waitFor("a new operator pod holding the Lease", () =>
      leaseHolders().some((identity) => names.includes(identity)),
    );
    await readyPipeline(kubectl, "inpods", "default", 120_000);
  });

  it("uninstalls with helm, after the pipelines are deleted, leaving nothing of the release", async () => {
    await kubectl.runAsync(["delete", "sentimentpipelines", "--all", "--timeout=120s"]);
    // The worker Deployments, HPAs and Services go with their pipeline (owner references, garbage collected).
    await waitFor(
      "the pipelines' objects gone",
      () =>
        kubectl.run(["get", "deployments,hpa,services", "-l", "kubesentiment.io/pipeline", "-o", "name"]) ===
        "",
    );
    h(["uninstall", release, "--namespace", releaseNamespace, "--wait", "--timeout", "120s"]);
    const leftInNamespace = () =>
      kubectl
        .run([
          "get",
          "all,serviceaccounts,secrets,roles,rolebindings,leases",
          "-n",
          releaseNamespace,
          "-o",
          "name",
        ])
        .split("\n")
        // The namespace's own ServiceAccount stays, and the leader Lease: the operator's record, not the chart's.
        .filter((name) => name !== "" && name !== "serviceaccount/default" && !name.startsWith("lease"));
    // helm waits for the Deployment to go; its pods then take their termination grace period.
    await waitFor("nothing of the release left in its namespace", () => leftInNamespace().length === 0, {
      timeoutMs: 90_000,
      describe: () => leftInNamespace().join(", "),
    });
    expect(kubectl.result(["get", "apiservice", "v1beta1.external.metrics.k8s.io"]).status).to.not.equal(0);
    expect(
      kubectl
        .run(["get", "clusterroles,clusterrolebindings", "-o", "name"])
        .split("\n")
        .filter((name) => name.includes("kubesentiment")),
    ).to.deep.equal([]);
  });

  it("leaves the machine as it found it after down", async () => {
    if (!cluster) throw new Error("no cluster");
    const files = realNodeFiles(realNodeDir(cluster.dir));
    const before = JSON.parse(readFileSync(files.before, "utf8")) as MachineBefore;
    await secureKafka?.cluster.stop();
    secureKafka = undefined;
    await kafka?.stop();
    kafka = undefined;
    const stopping = cluster;
    cluster = undefined;
    await stopping.stop();
    expect(leftovers(files.dir, before)).to.deep.equal([]);
  });
});
