// The real node, end to end on this machine (root only; `npm run test:real-node`, not part of `npm test` yet):
// the control plane plus containerd, a kubelet, the CNI bridge and kube-proxy; a worker pod from the image
// `npm run images` built, with its built-in model, against a real Kafka listening on the pod gateway, becomes
// Ready through its real probes and answers a request; `down` then leaves nothing of the node on the machine.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { cacheDir } from "../../hack/harness/dirs.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import {
  podNetwork,
  realNodeFiles,
  realNodeLabel,
  realNodePortCount,
} from "../../hack/harness/real-node-config.ts";
import { leftovers, type MachineBefore } from "../../hack/harness/real-node-machine.ts";
import { realNodeDir } from "../../hack/harness/real-node-run.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
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

describe("real node", function () {
  this.timeout(600_000);
  let cluster: Cluster | undefined;
  let kafka: KafkaCluster | undefined;
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
      kwok: true,
      realNode: true,
      build: true,
    });
    kubectl = kubectlFor(cluster.kubeconfigPath);
    kafka = await startKafkaOnFreePorts({ name: "test-real-node", clientHost: podNetwork.gateway });
  });

  after(async () => {
    await kafka?.stop();
    await cluster?.stop();
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

  it("leaves the machine as it found it after down", async () => {
    if (!cluster) throw new Error("no cluster");
    const files = realNodeFiles(realNodeDir(cluster.dir));
    const before = JSON.parse(readFileSync(files.before, "utf8")) as MachineBefore;
    await kafka?.stop();
    kafka = undefined;
    const stopping = cluster;
    cluster = undefined;
    await stopping.stop();
    expect(leftovers(files.dir, before)).to.deep.equal([]);
  });
});
