import { ApiException } from "@kubernetes/client-node";
import { expect } from "chai";
import {
  Reconciler,
  skipTopicDeletionAnnotation,
  topicsFinalizer,
  workerStopTimeoutMs,
} from "../../../operator/src/controller/reconcile.ts";
import { KafkaAdminError } from "../../../operator/src/kafka/errors.ts";
import type { PipelineStatus } from "../../../operator/src/pipeline.ts";
import { conditionOf, FakeCluster, now, pipelineObject, resyncPeriodMs } from "./fake-cluster.ts";

const unreachable = {
  state: "failed",
  reason: "KafkaUnreachable",
  message: "no Kafka broker answered at k:9092 (spec.kafka.bootstrapServers) while connecting",
  exist: false,
} as const;

/** What ensuring the topics answers while no broker answers. */
const unreachableKafka = { outcome: unreachable, changes: [], lag: undefined, terminal: false, created: [] };

/** What a previous reconcile recorded of the pipeline shop/reviews's topics. */
const recorded = {
  requests: "shop.reviews-requests",
  responses: "shop.reviews-responses",
  deadLetter: "shop.reviews-dlq",
  partitions: 4,
};

/** The worker's objects, applied in this order by every reconcile that has topics to run on. */
const workloadsApplied = [
  "apply Deployment shop/reviews-worker",
  "apply Service shop/reviews-worker",
  "apply HorizontalPodAutoscaler shop/reviews-worker",
];

describe("operator reconcile", () => {
  let cluster: FakeCluster;
  beforeEach(() => {
    cluster = new FakeCluster();
  });
  const reconcile = (key: string) => new Reconciler(cluster.deps()).reconcile(key);
  /** The reconcile waits for a change, and `type` and Ready say why. */
  const expectTerminal = async (key: string, reason: string, message: string, type: string) => {
    expect(await reconcile(key)).to.deep.equal({ kind: "terminal", reason, afterMs: resyncPeriodMs });
    for (const each of [type, "Ready"]) {
      expect(conditionOf(cluster.statuses[0], each), each).to.include({ status: "False", reason, message });
    }
  };

  it("brings a new pipeline up in order: topics, Deployment, Service, HPA, then the status, written once", async () => {
    const key = cluster.add(pipelineObject());
    cluster.kafka.ensured = {
      outcome: { state: "ready" },
      changes: ["created topic reviews-requests with 4 partitions and replication factor 1"],
      lag: undefined,
      terminal: false,
      created: [],
    };

    expect(await reconcile(key)).to.deep.equal({ kind: "resync", afterMs: resyncPeriodMs });
    expect(cluster.did).to.deep.equal([
      "ensure topics of reviews",
      "event Normal TopicsReconciled",
      ...workloadsApplied,
      "write status of reviews",
      "event Normal PipelineReady",
    ]);
    const [status] = cluster.statuses;
    expect(status?.observedGeneration).to.equal(1);
    expect(conditionOf(status, "TopicsReady")).to.include({ status: "True", observedGeneration: 1 });
    expect(conditionOf(status, "Ready")).to.include({
      status: "True",
      reason: "PipelineReady",
      lastTransitionTime: now.toISOString(),
    });
  });

  it("writes no status when it already says what the reconcile sees (idempotent)", async () => {
    const key = cluster.add(pipelineObject());
    await reconcile(key);
    cluster.add(pipelineObject({}, {}, cluster.statuses[0]));
    cluster.did.length = 0;

    expect(await reconcile(key)).to.deep.equal({ kind: "resync", afterMs: resyncPeriodMs });
    expect(cluster.did).to.deep.equal(["ensure topics of reviews", ...workloadsApplied]);
  });

  it("tells the Kafka side whether the status last said TopicsReady, so it can ask about those topics alone", async () => {
    const key = cluster.add(pipelineObject());
    await reconcile(key);
    cluster.add(pipelineObject({}, {}, cluster.statuses[0]));
    await reconcile(key);
    cluster.kafka.ensured = {
      outcome: { state: "failed", reason: "KafkaUnreachable", message: "no broker answered", exist: false },
      changes: [],
      lag: undefined,
      terminal: false,
      created: [],
    };
    await reconcile(key);
    cluster.add(pipelineObject({}, {}, cluster.statuses.at(-1)));
    await reconcile(key);
    expect(cluster.kafka.wereReady).to.deep.equal([false, true, true, false]);
  });

  it("says Kafka is unreachable in TopicsReady and Ready, applies nothing without topics, and retries", async () => {
    const key = cluster.add(pipelineObject());
    cluster.kafka.ensured = unreachableKafka;

    expect(await reconcile(key)).to.deep.equal({ kind: "retry", reason: "KafkaUnreachable" });
    expect(cluster.did).to.deep.equal([
      "ensure topics of reviews",
      "event Warning KafkaUnreachable",
      "write status of reviews",
    ]);
    const [status] = cluster.statuses;
    for (const type of ["TopicsReady", "Ready"]) {
      expect(conditionOf(status, type), type).to.include({
        status: "False",
        reason: "KafkaUnreachable",
        message: unreachable.message,
      });
    }
  });

  it("stops retrying a rejected SASL login: terminal until something changes, and the condition says why", async () => {
    const key = cluster.add(pipelineObject());
    const message =
      "Kafka at k:9092 (spec.kafka.bootstrapServers) rejected the SASL login while connecting: check the " +
      "username and password in the Secret named by spec.kafka.sasl.secretRef";
    cluster.kafka.ensured = {
      outcome: { state: "failed", reason: "KafkaAuthenticationFailed", message, exist: false },
      changes: [],
      lag: undefined,
      terminal: true,
      created: [],
    };

    await expectTerminal(key, "KafkaAuthenticationFailed", message, "TopicsReady");
    expect(cluster.events).to.deep.equal([`Warning KafkaAuthenticationFailed: ${message}`]);
  });

  describe("ACLs", () => {
    const aliceReads = {
      principal: "User:alice",
      resourceType: "group",
      resourceName: "g",
      operation: "Read",
    } as const;
    const missing =
      "Kafka's ACLs do not grant the workers' principal User:alice Read on group kubesentiment.shop.reviews";

    it("says missing ACLs in AclsReady and Ready, with a Warning, and waits for a change", async () => {
      const key = cluster.add(pipelineObject());
      cluster.acls.ensured = {
        condition: { status: "False", reason: "AclsMissing", message: missing },
        changes: [],
        terminal: true,
      };
      await expectTerminal(key, "AclsMissing", missing, "AclsReady");
      expect(cluster.events).to.include(`Warning AclsMissing: ${missing}`);
    });

    it("announces ACLs it granted, and stays Ready when it cannot tell (Unknown)", async () => {
      const key = cluster.add(pipelineObject());
      cluster.acls.ensured = {
        condition: { status: "Unknown", reason: "AclsNotPermitted", message: "may not describe ACLs" },
        changes: ["granted User:alice Read on group g"],
        terminal: false,
      };
      expect((await reconcile(key)).kind).to.equal("resync");
      expect(conditionOf(cluster.statuses[0], "Ready")?.status).to.equal("True");
      expect(conditionOf(cluster.statuses[0], "AclsReady")?.status).to.equal("Unknown");
      expect(cluster.events).to.include("Normal AclsReconciled: granted User:alice Read on group g");
    });

    it("keeps what it granted in status, and tells the ACL side what that was at the next reconcile", async () => {
      const managed = { kafka: { bootstrapServers: ["k:9092"], acls: { manage: true } } };
      const key = cluster.add(pipelineObject(managed));
      const reconciler = new Reconciler(cluster.deps());
      cluster.acls.ensured = {
        condition: { status: "True", reason: "AclsGranted", message: "granted" },
        changes: [],
        terminal: false,
        granted: [aliceReads],
      };
      await reconciler.reconcile(key);
      expect(cluster.statuses[0]?.acls).to.deep.equal({ granted: [aliceReads] });

      // The cache still shows the status from before that write: the record this process kept counts too.
      await reconciler.reconcile(key);
      expect(cluster.did).to.include("ensure acls of reviews, granted before User:alice Read group g");
    });

    it("keeps the record as it was when the ACL side was not asked (topics not there)", async () => {
      const managed = { kafka: { bootstrapServers: ["k:9092"], acls: { manage: true } } };
      const key = cluster.add(pipelineObject(managed, {}, { acls: { granted: [aliceReads] } }));
      cluster.kafka.ensured = {
        ...cluster.kafka.ensured,
        outcome: { state: "failed", reason: "KafkaUnreachable", message: "no broker", exist: false },
      };
      await reconcile(key);
      expect(cluster.statuses[0]?.acls).to.deep.equal({ granted: [aliceReads] });
    });

    it("has no AclsReady condition while ACLs are none of its business", async () => {
      const key = cluster.add(pipelineObject());
      await reconcile(key);
      expect(conditionOf(cluster.statuses[0], "AclsReady")).to.equal(undefined);
    });
  });

  it("keeps the workers running on topics that exist while a change to them is refused", async () => {
    const key = cluster.add(pipelineObject());
    cluster.kafka.ensured = {
      outcome: { state: "failed", reason: "PartitionDecreaseRefused", message: "refused", exist: true },
      changes: [],
      lag: undefined,
      terminal: true,
      created: [],
    };

    await reconcile(key);
    expect(cluster.did).to.include.members(workloadsApplied);
    expect(conditionOf(cluster.statuses[0], "Ready")).to.include({ reason: "PartitionDecreaseRefused" });
  });

  it("says an apply the API server refused in WorkersAvailable, and retries", async () => {
    const key = cluster.add(pipelineObject());
    const deps = cluster.deps({
      objects: {
        ...cluster.deps().objects,
        patch: async () => {
          throw new Error("admission webhook denied the request");
        },
      },
    });

    expect(await new Reconciler(deps).reconcile(key)).to.deep.equal({ kind: "retry", reason: "ApplyFailed" });
    expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include({
      status: "False",
      reason: "ApplyFailed",
      message:
        "applying the worker Deployment, Service and autoscaler failed: admission webhook denied the request",
    });
  });

  it("waits for a change, rather than retrying, when the API server refuses the apply as invalid (422)", async () => {
    const key = cluster.add(pipelineObject());
    const invalid =
      'Deployment.apps "reviews-worker" is invalid: spec.template.spec.containers[0].resources.requests: ' +
      'Invalid value: "2": must be less than or equal to cpu limit of 1';
    const deps = cluster.deps({
      objects: {
        ...cluster.deps().objects,
        patch: async () => {
          throw new ApiException(
            422,
            "Unprocessable Entity",
            JSON.stringify({ kind: "Status", message: invalid }),
            {},
          );
        },
      },
    });

    expect(await new Reconciler(deps).reconcile(key)).to.deep.equal({
      kind: "terminal",
      reason: "ApplyFailed",
      afterMs: resyncPeriodMs,
    });
    expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include({
      status: "False",
      reason: "ApplyFailed",
      message: `applying the worker Deployment, Service and autoscaler failed: ${invalid}`,
    });
  });

  describe("worker pods", () => {
    const listPods =
      "list pods in shop with app.kubernetes.io/name=kubesentiment-worker,app.kubernetes.io/instance=reviews";
    const noneAvailable = { replicas: 1, readyReplicas: 0, availableReplicas: 0, updatedReplicas: 1 };
    const refusedWorker = (namespace: string, instance: string) => ({
      metadata: {
        name: `${instance}-worker-5d8f-q7x`,
        namespace,
        labels: { "app.kubernetes.io/name": "kubesentiment-worker", "app.kubernetes.io/instance": instance },
      },
      status: {
        phase: "Running",
        conditions: [{ type: "Ready", status: "False" }],
        containerStatuses: [
          {
            name: "worker",
            image: "example/worker:1",
            imageID: "",
            ready: false,
            restartCount: 4,
            state: { waiting: { reason: "CrashLoopBackOff" } },
            lastState: {
              terminated: {
                exitCode: 1,
                reason: "Error",
                message: "worker: failed to start: SASL authentication failed for user alice\n",
              },
            },
          },
        ],
      },
    });

    it("are not read while every worker is available", async () => {
      cluster.pods.push(refusedWorker("shop", "reviews"));
      await reconcile(cluster.add(pipelineObject()));
      expect(cluster.did).not.to.include(listPods);
    });

    it("name the pipeline's failing pod in WorkersAvailable and Ready while no worker is available", async () => {
      cluster.deploymentStatus = noneAvailable;
      cluster.pods.push(refusedWorker("other", "reviews"), refusedWorker("shop", "reviews"));
      await reconcile(cluster.add(pipelineObject()));
      expect(cluster.did.slice(-2)).to.deep.equal([listPods, "write status of reviews"]);
      const expected = {
        status: "False",
        reason: "WorkerPodFailing",
        message:
          "0 of 1 workers of Deployment reviews-worker available; pod reviews-worker-5d8f-q7x: container worker failed (exit 1; now CrashLoopBackOff): failed to start: SASL authentication failed for user alice",
      };
      expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include(expected);
      expect(conditionOf(cluster.statuses[0], "Ready")).to.include(expected);
    });

    describe("that show no failure of their own, while a Secret they mount", () => {
      const startingWorker = {
        metadata: {
          name: "reviews-worker-5d8f-k2p",
          namespace: "shop",
          labels: {
            "app.kubernetes.io/name": "kubesentiment-worker",
            "app.kubernetes.io/instance": "reviews",
          },
        },
        status: {
          phase: "Pending",
          conditions: [{ type: "Ready", status: "False" }],
          initContainerStatuses: [
            {
              name: "fetch-model",
              image: "example/worker:1",
              imageID: "",
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: "PodInitializing" } },
            },
          ],
        },
      };
      const fromUrl = {
        model: {
          source: {
            url: {
              url: "https://models.internal/m.tar.gz",
              sha256: "ab".repeat(32),
              caSecretRef: { name: "model-ca", key: "ca.crt" },
            },
          },
        },
      };
      const workersCondition = async () => {
        await reconcile(cluster.add(pipelineObject(fromUrl)));
        return conditionOf(cluster.statuses.at(-1), "WorkersAvailable");
      };
      beforeEach(() => {
        cluster.deploymentStatus = noneAvailable;
        cluster.pods.push(startingWorker);
      });

      it("does not exist, name it and the field that names it", async () => {
        expect(await workersCondition()).to.include({
          status: "False",
          reason: "WorkerPodFailing",
          message:
            "0 of 1 workers of Deployment reviews-worker available; pod reviews-worker-5d8f-k2p: cannot start: spec.model.source.url.caSecretRef names Secret shop/model-ca, which does not exist",
        });
      });

      it("lacks a key they read, name the key", async () => {
        cluster.secrets.set("shop/model-ca", { "tls.crt": Buffer.from("x") });
        expect((await workersCondition())?.message).to.equal(
          "0 of 1 workers of Deployment reviews-worker available; pod reviews-worker-5d8f-k2p: cannot start: Secret shop/model-ca (spec.model.source.url.caSecretRef) has no key ca.crt",
        );
      });

      it("holds every key, say only what the Deployment says", async () => {
        cluster.secrets.set("shop/model-ca", { "ca.crt": Buffer.from("x") });
        expect(await workersCondition()).to.include({
          reason: "NoWorkerAvailable",
          message: "0 of 1 workers of Deployment reviews-worker available",
        });
      });

      it("is not read when a pod shows its own failure", async () => {
        cluster.pods.push(refusedWorker("shop", "reviews"));
        expect((await workersCondition())?.message).to.include("SASL authentication failed for user alice");
        expect(cluster.did.filter((call) => call.startsWith("read secret"))).to.deep.equal([]);
      });
    });

    it("leave the condition to the Deployment when they cannot be listed, and the reconcile goes on", async () => {
      cluster.deploymentStatus = noneAvailable;
      const logged: string[] = [];
      const deps = cluster.deps({
        pods: async () => {
          throw new Error('pods is forbidden: cannot list resource "pods"');
        },
        log: (message, fields) => logged.push(`${message}: ${JSON.stringify(fields)}`),
      });
      const key = cluster.add(pipelineObject());
      expect(await new Reconciler(deps).reconcile(key)).to.deep.equal({
        kind: "resync",
        afterMs: resyncPeriodMs,
      });
      expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include({
        status: "False",
        reason: "NoWorkerAvailable",
        message: "0 of 1 workers of Deployment reviews-worker available",
      });
      expect(logged).to.deep.equal([
        'reading why the workers do not come up failed: {"pipeline":"shop/reviews","error":"pods is forbidden: cannot list resource \\"pods\\""}',
      ]);
    });
  });

  it("scales an idle pipeline with minReplicas 0 to zero once the cooldown has passed without lag", async () => {
    const cooldownMs = 300_000;
    const lastActiveTime = new Date(now.getTime() - cooldownMs).toISOString();
    const key = cluster.add(
      pipelineObject(
        { autoscaling: { minReplicas: 0 } },
        {},
        { lastActiveTime, requestsLogEndOffset: 40, conditions: [] },
      ),
    );
    cluster.kafka.ensured = {
      outcome: { state: "ready" },
      changes: [],
      lag: { total: 0, logEndOffset: 40, partitions: [], partitionsWithoutCommit: [] },
      terminal: false,
      created: [],
    };

    await reconcile(key);
    expect(cluster.did.slice(3)).to.deep.equal([
      "apply HorizontalPodAutoscaler shop/reviews-worker",
      "scale shop/reviews-worker to 0",
      "event Normal ScaledToZero",
      "write status of reviews",
      "event Normal PipelineReady",
    ]);
    expect(conditionOf(cluster.statuses[0], "WorkersAvailable")).to.include({ reason: "ScaledToZero" });
    expect(cluster.statuses[0]?.lastActiveTime).to.equal(lastActiveTime);
  });

  it("says in a Warning why the lag could not be read, and leaves it out of the status", async () => {
    const key = cluster.add(pipelineObject({ autoscaling: { minReplicas: 0 } }));
    cluster.kafka.ensured = {
      outcome: { state: "ready" },
      changes: [],
      lag: undefined,
      lagUnknown:
        'reading the offsets of group "kubesentiment.shop.reviews" failed: Not authorized to access group',
      terminal: false,
      created: [],
    };

    await reconcile(key);
    expect(cluster.events).to.include(
      "Warning ConsumerLagUnknown: the consumer lag could not be read: reading the offsets of group " +
        '"kubesentiment.shop.reviews" failed: Not authorized to access group; status.consumerLag is left out, and ' +
        "scale to zero holds the workers as they are, until it can be read",
    );
    expect(cluster.statuses[0]).to.not.have.property("consumerLag");
    expect(cluster.did).to.not.include("scale shop/reviews-worker to 0");
  });

  it("records in status the topics it created, beside those it had created before", async () => {
    const key = cluster.add(
      pipelineObject({}, {}, { topics: { ...recorded, created: ["shop.reviews-requests"] } }),
    );
    cluster.kafka.ensured = { ...cluster.kafka.ensured, created: ["shop.reviews-dlq"] };
    await reconcile(key);
    expect(cluster.statuses[0]?.topics?.created).to.deep.equal(["shop.reviews-requests", "shop.reviews-dlq"]);
  });

  it("keeps the record of a topic it created when the next reconcile still reads the status from before", async () => {
    const key = cluster.add(pipelineObject());
    const reconciler = new Reconciler(cluster.deps());
    cluster.kafka.ensured = { ...cluster.kafka.ensured, created: ["shop.reviews-requests"] };
    await reconciler.reconcile(key);
    // The cache has not seen that status yet; this reconcile finds the topic there and creates nothing.
    cluster.kafka.ensured = { ...cluster.kafka.ensured, created: [] };
    await reconciler.reconcile(key);
    expect(cluster.statuses.map((status) => status.topics?.created)).to.deep.equal([
      ["shop.reviews-requests"],
      ["shop.reviews-requests"],
    ]);
  });

  it("refuses a topic another pipeline on the same Kafka holds, without touching Kafka or the workers", async () => {
    cluster.add(
      pipelineObject(
        { topics: { partitions: 4, replicationFactor: 1, responses: "shop.reviews-requests" } },
        { namespace: "other", name: "first", uid: "uid-0" },
        { topics: { ...recorded, created: ["shop.reviews-requests"] } },
      ),
    );
    const key = cluster.add(pipelineObject());

    expect(await reconcile(key)).to.deep.equal({
      kind: "terminal",
      reason: "TopicClaimed",
      afterMs: resyncPeriodMs,
    });
    expect(cluster.did).to.deep.equal(["event Warning TopicClaimed", "write status of reviews"]);
    expect(conditionOf(cluster.statuses[0], "TopicsReady")?.message).to.include(
      'topic "shop.reviews-requests" belongs to pipeline other/first',
    );
  });

  it("refuses one topic in two roles when one name is a default, naming the fields", async () => {
    const key = cluster.add(
      pipelineObject({
        topics: { partitions: 4, replicationFactor: 1, deadLetter: "shop.reviews-responses" },
      }),
    );
    expect(await reconcile(key)).to.deep.include({ kind: "terminal", reason: "TopicRolesOverlap" });
    expect(cluster.did).to.not.include("ensure topics of reviews");
    expect(conditionOf(cluster.statuses[0], "TopicsReady")?.message).to.include(
      'spec.topics.responses (unset, so "shop.reviews-responses") and spec.topics.deadLetter name the same topic',
    );
  });

  describe("pause", () => {
    const lagOf = (total: number) => ({
      outcome: { state: "ready" as const },
      changes: [],
      lag: { total, logEndOffset: total, partitions: [], partitionsWithoutCommit: [] },
      terminal: false,
      created: [],
    });
    /** Reconciles shop/reviews with `spec`, over the status the previous reconcile wrote (as the cache shows it). */
    const again = async (spec: Parameters<typeof pipelineObject>[0], holds: string[] = []) => {
      cluster.did.length = 0;
      const key = cluster.add(pipelineObject(spec, {}, cluster.statuses.at(-1)));
      return new Reconciler(cluster.deps({ pauseHolds: () => holds })).reconcile(key);
    };

    it("scales the workers to 0 under load, says Paused once, and holds them there without a word more", async () => {
      cluster.kafka.ensured = lagOf(5000);
      expect(await again({ paused: true })).to.deep.equal({ kind: "resync", afterMs: resyncPeriodMs });
      expect(cluster.did.slice(3)).to.deep.equal([
        "apply HorizontalPodAutoscaler shop/reviews-worker",
        "scale shop/reviews-worker to 0",
        "write status of reviews",
        "event Normal Paused",
      ]);
      expect(conditionOf(cluster.statuses[0], "Paused")).to.include({
        status: "True",
        reason: "PausedBySpec",
      });
      expect(conditionOf(cluster.statuses[0], "Ready")).to.include({ status: "False", reason: "Paused" });
      expect(cluster.statuses[0]?.consumerLag).to.equal(5000);

      await again({ paused: true });
      expect(cluster.did).to.deep.equal(["ensure topics of reviews", ...workloadsApplied]);

      // The HPA (or a person) scales it up behind the operator's back: back to 0, quietly.
      const deployment = cluster.deployments.get("shop/reviews-worker");
      cluster.deployments.set("shop/reviews-worker", {
        ...deployment,
        spec: { selector: {}, template: {}, ...deployment?.spec, replicas: 3 },
      });
      await again({ paused: true });
      expect(cluster.did).to.deep.equal([
        "ensure topics of reviews",
        ...workloadsApplied,
        "scale shop/reviews-worker to 0",
      ]);
    });

    it("hands the workers back to the HPA at its floor when resumed, and says Resumed", async () => {
      cluster.kafka.ensured = lagOf(5000);
      await again({ paused: true, autoscaling: { minReplicas: 2 } });
      await again({ paused: false, autoscaling: { minReplicas: 2 } });
      expect(cluster.did.slice(4)).to.deep.equal([
        "scale shop/reviews-worker to 2",
        "event Normal ScaledFromZero",
        // The Deployment reports 1 of the 2 workers available: their pods are looked at for a failure.
        "list pods in shop with app.kubernetes.io/name=kubesentiment-worker,app.kubernetes.io/instance=reviews",
        "write status of reviews",
        "event Normal PipelineReady",
        "event Normal Resumed",
      ]);
      expect(cluster.events.at(-1)).to.equal(
        "Normal Resumed: no longer paused: the HPA scales the workers again, from 2",
      );
      expect(conditionOf(cluster.statuses.at(-1), "Paused")).to.include({
        status: "False",
        reason: "NotPaused",
      });
    });

    it("with minReplicas 0 never wakes a paused pipeline on lag, and wakes it once resumed", async () => {
      const zero = { autoscaling: { minReplicas: 0 } };
      cluster.kafka.ensured = lagOf(0);
      await again({ ...zero, paused: true });
      cluster.kafka.ensured = lagOf(800);
      for (let i = 0; i < 3; i++) await again({ ...zero, paused: true });
      expect(cluster.did).to.deep.equal(["ensure topics of reviews", ...workloadsApplied]);
      expect(cluster.deployments.get("shop/reviews-worker")?.spec?.replicas).to.equal(0);

      await again({ ...zero, paused: false });
      expect(cluster.did.slice(4)).to.deep.equal([
        "scale shop/reviews-worker to 1",
        "event Normal ScaledFromZero",
        "write status of reviews",
        "event Normal PipelineReady",
        "event Normal Resumed",
      ]);
      expect(cluster.events.at(-1)).to.equal(
        "Normal Resumed: no longer paused: scale to zero starts a worker once the lag is above 0",
      );
    });

    it("is held paused by what pauseHolds names (a replay), and let go when the hold ends", async () => {
      cluster.kafka.ensured = lagOf(10);
      await again({}, ["SentimentReplay nightly"]);
      expect(cluster.did).to.include("scale shop/reviews-worker to 0");
      expect(conditionOf(cluster.statuses.at(-1), "Paused")).to.include({
        status: "True",
        reason: "HeldByReplay",
      });
      expect(cluster.events.at(-1)).to.match(/^Normal Paused: held by SentimentReplay nightly: /);

      await again({}, []);
      expect(cluster.did).to.include("scale shop/reviews-worker to 1");
      expect(cluster.events.at(-1)).to.match(/^Normal Resumed: /);
    });

    it("asks pauseHolds about this pipeline by namespace and name", async () => {
      const asked: string[] = [];
      const key = cluster.add(pipelineObject());
      await new Reconciler(
        cluster.deps({
          pauseHolds: (namespace, name) => {
            asked.push(`${namespace}/${name}`);
            return [];
          },
        }),
      ).reconcile(key);
      expect(asked).to.deep.equal(["shop/reviews"]);
      expect(cluster.did).to.not.include("scale shop/reviews-worker to 0");
    });

    it("pauses the workers even while Kafka is unreachable", async () => {
      await again({});
      cluster.kafka.ensured = unreachableKafka;
      await again({ paused: true });
      expect(cluster.did).to.deep.equal([
        "ensure topics of reviews",
        "event Warning KafkaUnreachable",
        "scale shop/reviews-worker to 0",
        "write status of reviews",
        "event Normal Paused",
      ]);
      expect(conditionOf(cluster.statuses.at(-1), "Ready")).to.include({ reason: "KafkaUnreachable" });
    });
  });

  describe("scale to zero over successive reconciles", () => {
    /**
     * Reconciles a pipeline with minReplicas 0 once per resync period, each time with the status the previous
     * one wrote (as the cache would show it) and the Kafka sample `sample(i)` gives; returns the scale changes.
     */
    async function resyncs(
      count: number,
      sample: (i: number) => { lag: number; logEndOffset: number },
    ): Promise<string[]> {
      let status: PipelineStatus | undefined;
      for (let i = 0; i < count; i++) {
        const key = cluster.add(pipelineObject({ autoscaling: { minReplicas: 0 } }, {}, status));
        const { lag, logEndOffset } = sample(i);
        cluster.kafka.ensured = {
          outcome: { state: "ready" },
          changes: [],
          lag: { total: lag, logEndOffset, partitions: [], partitionsWithoutCommit: [] },
          terminal: false,
          created: [],
        };
        const at = new Date(now.getTime() + i * resyncPeriodMs);
        await new Reconciler(cluster.deps({ now: () => at })).reconcile(key);
        status = cluster.statuses.at(-1) ?? status;
      }
      return cluster.did.filter((line) => line.startsWith("scale "));
    }

    it("never scales a steady trickle to zero, though every sample sees no lag", async () => {
      // One request between each pair of samples, each consumed before the next sample: lag 0 throughout.
      expect(await resyncs(40, (i) => ({ lag: 0, logEndOffset: 100 + i }))).to.deep.equal([]);
    });

    it("scales to zero once no record has arrived for the cooldown", async () => {
      // Requests arrive during the first 5 samples, then none: the cooldown (300 s) counts from the last one.
      const scaled = await resyncs(20, (i) => ({ lag: 0, logEndOffset: 100 + Math.min(i, 4) }));
      expect(scaled).to.deep.equal(["scale shop/reviews-worker to 0"]);
    });
  });

  describe("deletion", () => {
    const deleting = (
      annotations: Record<string, string> = {},
      deletionPolicy: "Delete" | "Retain" = "Delete",
      created = ["shop.reviews-requests", "shop.reviews-responses", "shop.reviews-dlq"],
    ) =>
      pipelineObject(
        { topics: { partitions: 4, replicationFactor: 1, deletionPolicy } },
        { deletionTimestamp: now, finalizers: [topicsFinalizer], annotations },
        { topics: { ...recorded, created } },
      );
    const allTopics =
      "delete topics [shop.reviews-requests, shop.reviews-responses, shop.reviews-dlq] of reviews";

    it("holds the finalizer only under deletionPolicy Delete, before it touches Kafka", async () => {
      const key = cluster.add(
        pipelineObject({ topics: { partitions: 4, replicationFactor: 1, deletionPolicy: "Delete" } }),
      );
      await reconcile(key);
      expect(cluster.did.slice(0, 2)).to.deep.equal([
        `apply finalizers [${topicsFinalizer}] to reviews`,
        "ensure topics of reviews",
      ]);

      cluster.did.length = 0;
      cluster.add(pipelineObject({}, { finalizers: [topicsFinalizer] }));
      await reconcile(key);
      expect(cluster.did[0]).to.equal("apply finalizers [] to reviews");
    });

    it("deletes the topics under Delete, then lets the pipeline go", async () => {
      const key = cluster.add(deleting());
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did).to.deep.equal([
        allTopics,
        "event Normal TopicsDeleted",
        "apply finalizers [] to reviews",
      ]);
    });

    it("deletes managed ACLs after the topics under Delete, with those on record as granted", async () => {
      const managed = deleting();
      managed.spec.kafka = { ...managed.spec.kafka, acls: { manage: true } };
      managed.status = {
        ...managed.status,
        acls: {
          granted: [
            { principal: "User:former", resourceType: "topic", resourceName: "t", operation: "Read" },
          ],
        },
      };
      const key = cluster.add(managed);
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did).to.deep.equal([
        allTopics,
        "event Normal TopicsDeleted",
        "delete acls of reviews, granted before User:former Read topic t",
        "event Normal AclsDeleted",
        "apply finalizers [] to reviews",
      ]);
    });

    it("obeys the deletionPolicy the pipeline has when deleted, not the one the cache last saw", async () => {
      const key = cluster.add(deleting());
      cluster.latest.set(key, deleting({}, "Retain"));
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did).to.deep.equal(["event Normal TopicsRetained", "apply finalizers [] to reviews"]);
    });

    it("deletes only the topics it created, never one it found already there", async () => {
      const key = cluster.add(deleting({}, "Delete", ["shop.reviews-responses", "shop.reviews-dlq"]));
      await reconcile(key);
      expect(cluster.did[0]).to.equal("delete topics [shop.reviews-responses, shop.reviews-dlq] of reviews");
      expect(cluster.events[0]).to.equal(
        "Normal TopicsDeleted: deleted topics shop.reviews-responses, shop.reviews-dlq; kept shop.reviews-requests, which the operator did not create for it",
      );
    });

    it("deletes no topic of a pipeline whose status records none as created (made by an older version)", async () => {
      const key = cluster.add(deleting({}, "Delete", []));
      await reconcile(key);
      expect(cluster.did[0]).to.equal("delete topics [] of reviews");
    });

    it("stops the workers first and deletes the topics only once their Deployment is gone", async () => {
      const key = cluster.add(deleting());
      cluster.deployments.set("shop/reviews-worker", {
        metadata: { name: "reviews-worker", namespace: "shop" },
      });

      expect(await reconcile(key)).to.deep.equal({ kind: "resync", afterMs: resyncPeriodMs });
      expect(cluster.did).to.deep.equal([
        "delete Deployment shop/reviews-worker (Foreground)",
        "event Normal WorkersStopping",
        "write status of reviews",
      ]);
      expect(conditionOf(cluster.statuses[0], "Ready")).to.include({
        status: "False",
        reason: "WorkersStopping",
      });

      cluster.did.length = 0;
      await reconcile(key);
      expect(cluster.did).to.deep.equal(["write status of reviews"]);

      cluster.deployments.delete("shop/reviews-worker");
      cluster.did.length = 0;
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did[0]).to.equal(allTopics);
    });

    it("deletes the topics all the same once the workers have taken too long to stop", async () => {
      const key = cluster.add(deleting());
      const began = new Date(now.getTime() - workerStopTimeoutMs);
      cluster.deployments.set("shop/reviews-worker", {
        metadata: { name: "reviews-worker", namespace: "shop", deletionTimestamp: began },
      });
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did.slice(0, 2)).to.deep.equal(["event Warning WorkersStillStopping", allTopics]);
    });

    it("keeps a pipeline whose topics cannot be deleted, says how to release it, and retries", async () => {
      const key = cluster.add(deleting());
      cluster.kafka.deleteFailure = new KafkaAdminError("KafkaUnreachable", "no Kafka broker answered", true);

      expect(await reconcile(key)).to.deep.equal({ kind: "retry", reason: "TopicDeletionFailed" });
      expect(cluster.did).to.not.include("apply finalizers [] to reviews");
      expect(conditionOf(cluster.statuses[0], "Ready")?.message)
        .to.include("no Kafka broker answered")
        .and.include(`${skipTopicDeletionAnnotation}=true`);
    });

    it("waits for a change when the topics cannot be deleted for a reason no retry cures", async () => {
      const key = cluster.add(deleting());
      cluster.kafka.deleteFailure = new KafkaAdminError("KafkaAuthenticationFailed", "login rejected", false);

      expect(await reconcile(key)).to.deep.equal({
        kind: "terminal",
        reason: "TopicDeletionFailed",
        afterMs: resyncPeriodMs,
      });
      expect(conditionOf(cluster.statuses[0], "Ready")).to.include({ reason: "TopicDeletionFailed" });
    });

    it("releases a pipeline annotated to skip topic deletion without touching Kafka", async () => {
      const key = cluster.add(deleting({ [skipTopicDeletionAnnotation]: "true" }));
      expect(await reconcile(key)).to.deep.equal({ kind: "forget" });
      expect(cluster.did).to.deep.equal([
        "event Warning TopicDeletionSkipped",
        "apply finalizers [] to reviews",
      ]);
    });

    it("forgets a pipeline that is gone, and its lag", async () => {
      const forgotten: string[] = [];
      const deps = cluster.deps({ forgetLag: (namespace, name) => forgotten.push(`${namespace}/${name}`) });
      expect(await new Reconciler(deps).reconcile("shop/gone")).to.deep.equal({ kind: "forget" });
      expect(forgotten).to.deep.equal(["shop/gone"]);
      expect(cluster.did).to.deep.equal([]);
    });
  });
});
