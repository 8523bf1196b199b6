// Lag-driven autoscaling end to end, on real components: kube-apiserver with the aggregation layer,
// kube-controller-manager's HPA controller (short sync period), kwok for the pods, a real Kafka broker, the
// operator serving external.metrics.k8s.io behind an APIService, and real worker processes (as many as the
// Deployment asks for) doing the draining. Pausing is here too: what it must hold off is this autoscaling.
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import type { V2HorizontalPodAutoscaler } from "@kubernetes/client-node";
import { expect } from "chai";
import type { Admin } from "kafkajs";
import { clusterFiles } from "../../hack/harness/cluster-config.ts";
import { pkiPaths } from "../../hack/harness/cluster-pki.ts";
import type { Cluster } from "../../hack/harness/cluster-run.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import {
  hostAddress,
  type MetricsApiCertificates,
  makeMetricsApiCertificates,
  registerLocalMetricsApi,
} from "../../hack/harness/local-metrics-api.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec } from "../../operator/src/pipeline.ts";
import { pipelineWorkers, startAutoscalingCluster } from "../support/autoscaling-cluster.ts";
import {
  conditionOf,
  operatorNamespace,
  pipelineManifest,
  prepareCluster,
  runOperator,
} from "../support/operator.ts";
import { ResultReader } from "../support/pipeline-topics.ts";

const metricPath = (pipeline: string) =>
  `/apis/external.metrics.k8s.io/v1beta1/namespaces/default/kubesentiment_consumer_lag?labelSelector=kubesentiment.io%2Fpipeline%3D${pipeline}`;

/** The aggregator refuses loopback endpoints: the operator is reached on this machine's own address. */
/** A GET to the operator's metrics API directly, presenting `cert`/`key` when given. */
function directGet(
  port: number,
  ca: string,
  client?: { cert: Buffer; key: Buffer },
  headers: Record<string, string> = {},
) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      { host: hostAddress(), port, path: metricPath("surge"), ca, headers, ...client },
      (response) => {
        let body = "";
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("lag-driven autoscaling, end to end", function () {
  this.timeout(240_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let operator: RunningOperator;
  let certificates: MetricsApiCertificates | undefined;
  let k: Kubectl;
  const { deployment, fleetOf, stopFleets } = pipelineWorkers(() => k);
  const spec = (overrides: Partial<PipelineSpec>): PipelineSpec => ({
    kafka: { bootstrapServers: kafka.bootstrapServers },
    ...overrides,
  });
  const requests = (prefix: string, from: number, count: number) =>
    Array.from({ length: count }, (_, n) => {
      const i = from + n;
      return {
        key: `${prefix}-${i}`,
        value: JSON.stringify({
          id: `${prefix}-${i}`,
          text: i % 2 ? "a warm, funny film" : "a dull, lifeless film",
        }),
      };
    });
  const produce = async (topic: string, count: number, prefix: string) => {
    const producer = kafkaClient(kafka.bootstrapServers).producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: requests(prefix, 0, count) });
    await producer.disconnect();
  };
  /** Requests `<prefix>-0`, `<prefix>-1`, … written 10 at a time, one write after another, until stopped. */
  const steadyLoad = (topic: string, prefix: string) => {
    const producer = kafkaClient(kafka.bootstrapServers).producer();
    let sent = 0;
    let running = true;
    const loop = (async () => {
      await producer.connect();
      while (running) {
        await producer.send({ topic, acks: -1, messages: requests(prefix, sent, 10) });
        sent += 10;
        // Pacing, not synchronisation: a load a worker drains as it comes, which a pause must then hold back.
        await sleep(50);
      }
      await producer.disconnect();
    })();
    return {
      sent: () => sent,
      /** Stops, and says how many requests were written (each acknowledged by every in-sync replica). */
      stop: async () => {
        running = false;
        await loop;
        return sent;
      },
    };
  };
  const topicsOf = (name: string) => ({
    requests: `default.${name}-requests`,
    responses: `default.${name}-responses`,
    deadLetter: `default.${name}-dlq`,
  });
  /** What a user types: `kubectl patch sp NAME --type=merge -p '{"spec":{"paused":true}}'`. */
  const setPaused = (name: string, paused: boolean) =>
    k.run(["patch", "sp", name, "-n", "default", "--type=merge", "-p", JSON.stringify({ spec: { paused } })]);
  const scalingActive = (name: string) =>
    k
      .getJson<V2HorizontalPodAutoscaler>(["hpa", `${name}-worker`, "-n", "default"])
      ?.status?.conditions?.find((condition) => condition.type === "ScalingActive");
  /** The pipeline's consumer group: its state, and its committed offset per partition of `topic`. */
  const groupOf = async (admin: Admin, name: string, topic: string) => {
    const groupId = `kubesentiment.default.${name}`;
    const [{ groups }, [offsets]] = await Promise.all([
      admin.describeGroups([groupId]),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const committed = (offsets?.partitions ?? []).map(({ partition, offset }) => ({ partition, offset }));
    committed.sort((a, b) => a.partition - b.partition);
    return {
      state: groups[0]?.state,
      committed,
      committedTotal: committed.reduce((sum, { offset }) => sum + Math.max(0, Number(offset)), 0),
    };
  };
  const eventsOf = (name: string) =>
    k.run(["get", "events", "-n", "default", "--field-selector", `involvedObject.name=${name}`]);

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startAutoscalingCluster("e2e-autoscaling", "test-e2e");
    k = kubectlFor(cluster.kubeconfigPath);
    prepareCluster(k);

    certificates = makeMetricsApiCertificates(operatorNamespace);
    operator = await runOperator(cluster.kubeconfigPath, {
      metricsApi: { port: 0, certFile: certificates.cert, keyFile: certificates.key },
    });
    await registerLocalMetricsApi(k, operatorNamespace, operator.metricsApiPort ?? 0, certificates.caCert);
  });

  // A test's workers end with it: each fleet polls the Deployment with kubectl, which blocks this process and
  // so the operator in it, and fleets left running starve the operator and its metrics API in the tests after.
  afterEach(async () => {
    await stopFleets();
  });

  after(async () => {
    await operator?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
    certificates?.remove();
  });

  it("reports a backlog, scales up to drain it without passing the partition count, and comes back down", async () => {
    k.apply(
      pipelineManifest(
        "surge",
        spec({
          topics: { partitions: 4, replicationFactor: 1 },
          autoscaling: { minReplicas: 1, maxReplicas: 4, lagThreshold: 50, scaleDownStabilizationSeconds: 5 },
        }),
      ),
    );
    await waitFor("surge's worker Deployment", () => deployment("surge"));
    await produce("default.surge-requests", 2000, "surge");

    // No worker runs yet: the backlog waits, each of the 4 partitions counting one worker's worth (50).
    const raw = await waitFor("the metric through the API server", async () => {
      const value = JSON.parse(await k.runAsync(["get", "--raw", metricPath("surge")])).items?.[0]?.value;
      return value === "200" ? value : undefined;
    });
    expect(raw).to.equal("200");
    await waitFor("the HPA raising surge to 4 replicas", () => deployment("surge")?.spec?.replicas === 4);
    await waitFor(
      "surge's status saying autoscaling is active",
      () => conditionOf(k.pipeline("surge"), "AutoscalingActive")?.status === "True",
    );
    await waitFor("status naming the partition cap", () =>
      conditionOf(k.pipeline("surge"), "AutoscalingActive")?.message.includes(
        "at most 4 replicas: the requests topic has 4 partitions",
      ),
    );

    const fleet = fleetOf("surge");
    await waitFor("the workers draining the backlog", () => k.pipeline("surge")?.status?.consumerLag === 0, {
      timeoutMs: 120_000,
    });
    await waitFor(
      "the HPA bringing surge back to 1 replica",
      () => deployment("surge")?.spec?.replicas === 1,
      { timeoutMs: 120_000 },
    );
    expect(fleet.peak).to.equal(4);
    expect(JSON.parse(await k.runAsync(["get", "--raw", metricPath("surge")])).items[0].value).to.equal("0");
  });

  it("scales an idle pipeline to zero and wakes it when requests arrive", async () => {
    k.apply(
      pipelineManifest(
        "idle",
        spec({
          topics: { partitions: 2, replicationFactor: 1 },
          autoscaling: {
            minReplicas: 0,
            maxReplicas: 2,
            scaleToZeroAfterSeconds: 3,
            scaleDownStabilizationSeconds: 5,
          },
        }),
      ),
    );
    await waitFor("idle's worker Deployment", () => deployment("idle"));
    const fleet = fleetOf("idle");
    const zero = await waitFor(
      "idle scaled to zero",
      () => {
        const pipeline = k.pipeline("idle");
        return deployment("idle")?.spec?.replicas === 0 &&
          conditionOf(pipeline, "WorkersAvailable")?.reason === "ScaledToZero"
          ? pipeline
          : undefined;
      },
      { timeoutMs: 90_000 },
    );
    expect(conditionOf(zero, "Ready")?.status).to.equal("True");
    await waitFor("the fleet stopping its worker", () => fleet.size === 0);

    const reader = await ResultReader.start(kafkaClient(kafka.bootstrapServers), {
      requests: "default.idle-requests",
      responses: "default.idle-responses",
      deadLetter: "default.idle-dlq",
    });
    try {
      await produce("default.idle-requests", 10, "wake");
      await waitFor("idle woken to one replica", () => deployment("idle")?.spec?.replicas === 1, {
        timeoutMs: 60_000,
      });
      await reader.waitFor(
        () => reader.idsOn("default.idle-responses").size === 10,
        () => `${reader.idsOn("default.idle-responses").size} of 10 answered after waking`,
      );
      expect(eventsOf("idle"))
        .to.match(/ScaledToZero/)
        .and.to.match(/ScaledFromZero/);
    } finally {
      await reader.close();
    }
  });

  it("pauses under load: the workers go, nothing is consumed, the lag grows, the HPA stands aside; resumed, every request is answered", async () => {
    const name = "pausable";
    const topics = topicsOf(name);
    k.apply(
      pipelineManifest(
        name,
        spec({
          topics: { partitions: 2, replicationFactor: 1 },
          autoscaling: { minReplicas: 1, maxReplicas: 2, lagThreshold: 20, scaleDownStabilizationSeconds: 5 },
        }),
      ),
    );
    await waitFor(`${name}'s worker Deployment`, () => deployment(name));
    const fleet = fleetOf(name);
    const reader = await ResultReader.start(kafkaClient(kafka.bootstrapServers), topics);
    const admin = kafkaClient(kafka.bootstrapServers).admin();
    await admin.connect();
    const load = steadyLoad(topics.requests, "load");
    try {
      await reader.waitFor(
        () => reader.idsOn(topics.responses).size >= 100,
        () => `${reader.idsOn(topics.responses).size} of 100 answered before the pause`,
      );

      setPaused(name, true);
      await waitFor(
        "the workers scaled to 0 and gone from the group",
        async () =>
          deployment(name)?.spec?.replicas === 0 &&
          fleet.size === 0 &&
          (await groupOf(admin, name, topics.requests)).state === "Empty",
        { timeoutMs: 60_000 },
      );
      const atPause = await groupOf(admin, name, topics.requests);
      const sentAtPause = load.sent();
      const generation = deployment(name)?.metadata?.generation;
      const paused = await waitFor("status saying Paused", () => {
        const pipeline = k.pipeline(name);
        return conditionOf(pipeline, "Paused")?.reason === "PausedBySpec" ? pipeline : undefined;
      });
      expect(conditionOf(paused, "Ready")).to.include({ status: "False", reason: "Paused" });
      await waitFor(
        "the HPA seeing its target at 0 and standing aside",
        () => scalingActive(name)?.reason === "ScalingDisabled",
      );
      await waitFor("200 more requests while paused", () => load.sent() >= sentAtPause + 200);
      const sent = await load.stop();
      // Exactly what was written and not committed before the pause: nothing consumed since, nothing lost.
      const lag = sent - atPause.committedTotal;
      await waitFor(
        `the operator reading a lag of ${lag}`,
        () => k.pipeline(name)?.status?.consumerLag === lag,
        { describe: () => `consumerLag ${k.pipeline(name)?.status?.consumerLag}` },
      );
      expect(lag).to.be.at.least(200);
      const afterPause = await groupOf(admin, name, topics.requests);
      expect(afterPause).to.deep.equal(atPause);
      // No one touched the Deployment's spec while paused: not the HPA, not a wake-up.
      expect(deployment(name)?.metadata?.generation).to.equal(generation);
      expect(deployment(name)?.spec?.replicas).to.equal(0);

      setPaused(name, false);
      await waitFor("the HPA acting again", () => scalingActive(name)?.status === "True", {
        timeoutMs: 60_000,
      });
      const all = Array.from({ length: sent }, (_, i) => `load-${i}`);
      const unanswered = () => all.filter((id) => !reader.idsOn(topics.responses).has(id));
      await reader.waitFor(
        () => unanswered().length === 0,
        () => `${unanswered().length} of ${sent} unanswered after resuming, e.g. ${unanswered()[0]}`,
      );
      expect(reader.on(topics.deadLetter)).to.have.length(0);
      const events = eventsOf(name);
      expect(events)
        .to.match(/\bPaused\b/)
        .and.to.match(/\bResumed\b/);
      expect(conditionOf(k.pipeline(name), "Paused")?.reason).to.equal("NotPaused");
    } finally {
      await load.stop();
      await reader.close();
      await admin.disconnect();
    }
  });

  it("never wakes a paused pipeline scaled to zero, whatever the lag, and wakes it once resumed", async () => {
    const name = "dormant";
    const topics = topicsOf(name);
    k.apply(
      pipelineManifest(
        name,
        spec({
          paused: true,
          topics: { partitions: 2, replicationFactor: 1 },
          autoscaling: { minReplicas: 0, maxReplicas: 2 },
        }),
      ),
    );
    const atZero = await waitFor(`${name} paused at 0`, () => {
      const held = deployment(name);
      return held?.spec?.replicas === 0 && conditionOf(k.pipeline(name), "Paused")?.status === "True"
        ? held
        : undefined;
    });
    const fleet = fleetOf(name);
    const reader = await ResultReader.start(kafkaClient(kafka.bootstrapServers), topics);
    try {
      await produce(topics.requests, 30, name);
      // The reconcile that reads this lag is the one that would wake the workers; it does not.
      await waitFor("the operator reading a lag of 30 while paused", () => {
        return k.pipeline(name)?.status?.consumerLag === 30;
      });
      expect(deployment(name)?.metadata?.generation).to.equal(atZero.metadata?.generation);
      expect(fleet.peak).to.equal(0);

      setPaused(name, false);
      await reader.waitFor(
        () => reader.idsOn(topics.responses).size === 30,
        () => `${reader.idsOn(topics.responses).size} of 30 answered after resuming`,
      );
      expect(eventsOf(name))
        .to.match(/\bResumed\b/)
        .and.to.match(/\bScaledFromZero\b/);
    } finally {
      await reader.close();
    }
  });

  it("refuses clients that do not come through the aggregation layer, and users without access", async () => {
    const port = operator.metricsApiPort ?? 0;
    const ca = readFileSync(certificates?.caCert ?? "", "utf8");
    const anonymous = await directGet(port, ca);
    expect(anonymous.status).to.equal(401);
    expect(JSON.parse(anonymous.body)).to.include({ kind: "Status", reason: "Unauthorized" });

    // A certificate the cluster trusts, but not one of the request-header CA's: no.
    const pki = pkiPaths(clusterFiles(cluster.dir).pki);
    const wrongCa = await directGet(port, ca, {
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    });
    expect(wrongCa.status).to.equal(401);

    // The aggregator's own certificate, naming a user RBAC grants nothing: the SubjectAccessReview says no;
    // naming a cluster administrator: yes.
    const frontProxy = {
      cert: readFileSync(pki.frontProxyClientCert),
      key: readFileSync(pki.frontProxyClientKey),
    };
    const denied = await directGet(port, ca, frontProxy, { "X-Remote-User": "stranger" });
    expect(denied.status).to.equal(403);
    expect(JSON.parse(denied.body).message).to.include(
      'User "stranger" cannot get resource "kubesentiment_consumer_lag"',
    );
    const allowed = await directGet(port, ca, frontProxy, {
      "X-Remote-User": "admin",
      "X-Remote-Group": "system:masters",
    });
    expect(allowed.status).to.equal(200);
    expect(JSON.parse(allowed.body).items[0].metricName).to.equal("kubesentiment_consumer_lag");

    // Through the aggregator, as a user RBAC grants nothing: the operator's SubjectAccessReview says no.
    const stranger = kubectlFor(cluster.kubeconfigPath);
    const refused = await stranger.runAsync(["get", "--raw", metricPath("surge"), "--as=stranger"]).then(
      () => "allowed",
      (error: Error) => error.message,
    );
    expect(refused).to.match(/forbidden/i);
  });
});
