// Kafka ACLs on a real broker that enforces them (KRaft's StandardAuthorizer, no ACL means no access), a real
// control plane and real worker processes: the operator logs in as a super user of its own (spec.kafka.admin)
// and the workers as a separate SCRAM user. With spec.kafka.acls.manage the operator grants the workers exactly
// what they need, the pipeline answers end to end, a removed ACL comes back and deletion under Delete takes
// them away; the workers' principal stays refused on another pipeline's topics and on creating topics; without
// managed ACLs the pipeline's AclsReady names each missing permission and its topic or group; an operator login
// that may run topics but not grant ACLs is named, with what it lacks; when the workers' principal changes, what
// the operator granted the former one is revoked, and nothing else of it.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import { expect } from "chai";
import kafkajs, { type Admin, type Kafka } from "kafkajs";
import { errorChain } from "../../common/src/kafka-errors.ts";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import { kafkaClient } from "../../hack/harness/kafka-client.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import type { ScramUser } from "../../hack/harness/kafka-config.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import type { PipelineSpec, SentimentPipeline } from "../../operator/src/pipeline.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { admin, brokerSecurity, makeTestPki, type TestPki } from "../support/kafka-security.ts";
import {
  conditionOf,
  eventsOf,
  pipelineManifest,
  prepareCluster,
  readyPipeline,
  runOperator,
} from "../support/operator.ts";
import { ResultReader } from "../support/pipeline-topics.ts";
import { WorkerFleet } from "../support/worker-fleet.ts";

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

const worker: ScramUser = { name: "worker", password: "worker-secret-8Vb" };
const workerPrincipal = `User:${worker.name}`;
/** The workers' login after their pipeline moves to another Secret. */
const successor: ScramUser = { name: "successor", password: "successor-secret-5Qm" };
/** A login that may run a pipeline's topics (All on topics prefixed "default.unpermitted-") but not grant ACLs. */
const tenant: ScramUser = { name: "tenant", password: "tenant-secret-2Lp" };

/** `name`'s default topics in namespace default. */
const topicsOf = (name: string) => ({
  requests: `default.${name}-requests`,
  responses: `default.${name}-responses`,
  deadLetter: `default.${name}-dlq`,
});

/** The name kafkajs's runtime enum (a plain object, without TypeScript's reverse mapping) gives `value`. */
const nameIn = (values: object, value: number) =>
  Object.entries(values).find(([, known]) => known === value)?.[0] ?? String(value);

/** The Kafka error type kafkajs rejected with, wherever it wrapped it; "not refused" when it did not. */
async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    const chain = errorChain(error);
    return (
      chain.find((link) => link.type !== undefined)?.type ?? chain.map((link) => link.message).join("; ")
    );
  }
  return "not refused";
}

describe("Kafka ACLs on a broker that enforces them", function () {
  this.timeout(120_000);
  let control: Cluster;
  let kafka: KafkaCluster;
  let pki: TestPki;
  let pkiDir: string;
  let k: Kubectl;
  let operator: RunningOperator | undefined;
  let fleet: WorkerFleet | undefined;
  let reader: ResultReader | undefined;

  /** A client of the broker logged in as `user` (the harness logs in as the security's first user). */
  const clientAs = (user: ScramUser): Kafka => {
    if (kafka.security === undefined) throw new Error("the broker is not secured");
    return kafkaClient(kafka.bootstrapServers, { security: { ...kafka.security, users: [user] } });
  };
  /** Runs `use` with an admin client logged in as the super user. */
  const asAdmin = async <T>(use: (client: Admin) => Promise<T>): Promise<T> => {
    const client = clientAs(admin).admin();
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.disconnect();
    }
  };
  /** The pipeline once its AclsReady is False. */
  const aclsRefused = (name: string) =>
    waitFor(
      `${name}'s AclsReady False`,
      () => {
        const pipeline = k.pipeline(name);
        return conditionOf(pipeline, "AclsReady")?.status === "False" ? pipeline : undefined;
      },
      { timeoutMs: 60_000, describe: () => JSON.stringify(k.pipeline(name)?.status?.conditions) },
    );
  /** Every ACL naming `principal`, as "Operation resourceType:name", read as the super user. */
  const workerAcls = (principal = workerPrincipal): Promise<string[]> =>
    asAdmin(async (client) => {
      const { resources } = await client.describeAcls({
        principal,
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      });
      return resources
        .flatMap((resource) =>
          resource.acls.map(
            (acl) =>
              `${nameIn(AclOperationTypes, acl.operation)} ${nameIn(AclResourceTypes, resource.resourceType)}:${resource.resourceName}`,
          ),
        )
        .sort();
    });
  const spec = (manage: boolean): PipelineSpec => ({
    kafka: {
      bootstrapServers: kafka.bootstrapServers,
      tls: { caSecretRef: { name: "kafka-ca" } },
      sasl: { secretRef: { name: "kafka-worker" } },
      admin: { sasl: { secretRef: { name: "kafka-admin" } } },
      acls: { manage },
    },
    topics: { partitions: 1, replicationFactor: 1, deletionPolicy: "Delete" },
    autoscaling: { minReplicas: 1, maxReplicas: 1 },
  });
  const granted = topicsOf("granted");
  const ungranted = topicsOf("ungranted");
  const grantedAcls = [
    "DESCRIBE TOPIC:default.granted-dlq",
    "DESCRIBE TOPIC:default.granted-requests",
    "DESCRIBE TOPIC:default.granted-responses",
    "READ GROUP:kubesentiment.default.granted",
    "READ TOPIC:default.granted-requests",
    "WRITE TOPIC:default.granted-dlq",
    "WRITE TOPIC:default.granted-responses",
  ];

  before(async function () {
    this.timeout(300_000);
    pkiDir = mkdtempSync(join(tmpdir(), "kubesentiment-acls-"));
    pki = makeTestPki(pkiDir);
    const security = {
      ...brokerSecurity(pki),
      users: [admin, worker, tenant, successor] as [ScramUser, ...ScramUser[]],
      authorizer: true,
    };
    [control, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) =>
        startCluster({ name: "acls-test", portBase, controllerManager: true, kwok: true }),
      ),
      startKafkaOnFreePorts({ name: "test-acls", security }),
    );
    k = kubectlFor(control.kubeconfigPath);
    prepareCluster(k);
    k.run(["create", "secret", "generic", "kafka-ca", "-n", "default", `--from-file=ca.crt=${pki.caCert}`]);
    for (const [secret, user] of [
      ["kafka-admin", admin],
      ["kafka-worker", worker],
      ["kafka-tenant", tenant],
      ["kafka-successor", successor],
    ] as const) {
      k.run([
        "create",
        "secret",
        "generic",
        secret,
        "-n",
        "default",
        `--from-literal=username=${user.name}`,
        `--from-literal=password=${user.password}`,
      ]);
    }
    operator = await runOperator(control.kubeconfigPath);
  });

  after(async () => {
    await reader?.close();
    await fleet?.stop();
    await operator?.stop();
    await Promise.all([control?.stop(), kafka?.stop()]);
    if (pkiDir !== undefined) rmSync(pkiDir, { recursive: true, force: true });
  });

  it("grants the workers exactly what they need, and the pipeline answers end to end as that principal", async () => {
    k.apply(pipelineManifest("granted", spec(true)));
    fleet = new WorkerFleet(
      () => k.getJsonAsync<V1Deployment>(["deployment", "granted-worker", "-n", "default"]),
      {
        KAFKA_TLS_CA_FILE: pki.caCert,
        KAFKA_SASL_USERNAME: worker.name,
        KAFKA_SASL_PASSWORD: worker.password,
      },
    );
    const pipeline = await readyPipeline(k, "granted");
    expect(conditionOf(pipeline, "AclsReady")).to.include({ status: "True", reason: "AclsGranted" });
    expect(await workerAcls()).to.deep.equal(grantedAcls);

    reader = await ResultReader.start(clientAs(admin), granted);
    const producer = clientAs(admin).producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic: granted.requests,
        acks: -1,
        messages: [
          { key: "acl-1", value: JSON.stringify({ id: "acl-1", text: "Least privilege, most delight." }) },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    await reader.waitFor(
      () => reader?.idsOn(granted.responses).has("acl-1") === true,
      () => JSON.stringify(reader?.records),
    );
  });

  it("names each permission Kafka's ACLs do not grant the workers of a pipeline that does not manage them", async () => {
    k.apply(pipelineManifest("ungranted", spec(false)));
    const refused = await aclsRefused("ungranted");
    for (const type of ["AclsReady", "Ready"]) {
      expect(conditionOf(refused, type), type).to.include({ status: "False", reason: "AclsMissing" });
    }
    expect(conditionOf(refused, "AclsReady")?.message).to.equal(
      `Kafka's ACLs do not grant the workers' principal ${workerPrincipal} Read+Describe on topic ` +
        `${ungranted.requests}, Read on group kubesentiment.default.ungranted, Write+Describe on topic ` +
        `${ungranted.responses}, Write+Describe on topic ${ungranted.deadLetter}, so the workers will be refused ` +
        "(TOPIC_AUTHORIZATION_FAILED, GROUP_AUTHORIZATION_FAILED): grant it, or set spec.kafka.acls.manage to " +
        "true to have the operator grant it",
    );
    expect(eventsOf(k, "ungranted")).to.include("AclsMissing");
  });

  it("keeps the workers' principal off another pipeline's topics and from creating topics", async () => {
    const client = clientAs(worker);
    const producer = client.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
    const topicAdmin = client.admin({ retry: { retries: 0 } });
    await Promise.all([producer.connect(), topicAdmin.connect()]);
    try {
      const write = (topic: string) =>
        producer.send({ topic, acks: -1, messages: [{ key: "probe", value: "{}" }] });
      // Its own pipeline's responses: the login works, so a refusal below is the ACLs'.
      await write(granted.responses);
      expect(await refusal(write(ungranted.responses))).to.equal("TOPIC_AUTHORIZATION_FAILED");
      expect(await refusal(write(ungranted.requests))).to.equal("TOPIC_AUTHORIZATION_FAILED");
      expect(
        await refusal(topicAdmin.createTopics({ topics: [{ topic: "made-by-a-worker", numPartitions: 1 }] })),
      ).to.match(/AUTHORIZATION_FAILED/);
    } finally {
      await Promise.allSettled([producer.disconnect(), topicAdmin.disconnect()]);
    }
  });

  it("says so when Kafka refuses the operator's principal the right to grant ACLs, naming it", async () => {
    await asAdmin((client) =>
      client.createAcls({
        acl: [
          {
            principal: `User:${tenant.name}`,
            host: "*",
            resourceType: AclResourceTypes.TOPIC,
            resourceName: "default.unpermitted-",
            resourcePatternType: ResourcePatternTypes.PREFIXED,
            operation: AclOperationTypes.ALL,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      }),
    );
    const unpermitted = spec(true);
    unpermitted.kafka.admin = { sasl: { secretRef: { name: "kafka-tenant" } } };
    k.apply(pipelineManifest("unpermitted", unpermitted));
    const refused = await aclsRefused("unpermitted");
    expect(conditionOf(refused, "TopicsReady")?.status).to.equal("True");
    expect(conditionOf(refused, "AclsReady")).to.include({ status: "False", reason: "AclsNotPermitted" });
    expect(conditionOf(refused, "AclsReady")?.message)
      .to.include(
        `Kafka refused the operator's principal User:${tenant.name} (spec.kafka.admin) granting ACLs`,
      )
      .and.include("--operation Describe --operation Alter --cluster");
  });

  it("puts back an ACL removed behind its back", async () => {
    // What the delete removed is read from its own answer: the operator may put the ACL back before any later
    // read, and that is the behaviour under test, not a race to lose.
    const { filterResponses } = await asAdmin((client) =>
      client.deleteAcls({
        filters: [
          {
            principal: workerPrincipal,
            host: "*",
            resourceType: AclResourceTypes.GROUP,
            resourceName: "kubesentiment.default.granted",
            resourcePatternType: ResourcePatternTypes.LITERAL,
            operation: AclOperationTypes.READ,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      }),
    );
    expect(filterResponses[0]?.matchingAcls.map((acl) => acl.resourceName)).to.deep.equal([
      "kubesentiment.default.granted",
    ]);
    await waitFor(
      "the removed ACL back",
      async () =>
        (await workerAcls()).includes("READ GROUP:kubesentiment.default.granted") ? true : undefined,
      { timeoutMs: 60_000 },
    );
    expect(eventsOf(k, "granted")).to.include(
      `granted ${workerPrincipal} Read on group kubesentiment.default.granted`,
    );
  });

  it("revokes what it granted the workers' former principal when they log in as another, and nothing else", async () => {
    const name = "moved";
    const topics = topicsOf(name);
    /** Whether `user` may write to the pipeline's responses topic: "not refused", or Kafka's refusal. */
    const writeAs = async (user: ScramUser) => {
      const producer = clientAs(user).producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
      await producer.connect();
      try {
        return await refusal(
          producer.send({ topic: topics.responses, acks: -1, messages: [{ key: "probe", value: "{}" }] }),
        );
      } finally {
        await producer.disconnect();
      }
    };
    const grantedTo = (principal: string) =>
      waitFor(
        `${name}'s ACLs granted to ${principal}`,
        () => {
          const acls = conditionOf(k.pipeline(name), "AclsReady");
          return acls?.status === "True" && acls.message.includes(`principal ${principal} `);
        },
        { timeoutMs: 60_000, describe: () => JSON.stringify(k.pipeline(name)?.status?.conditions) },
      );
    const onMoved = async (principal: string) =>
      (await workerAcls(principal)).filter(
        (acl) => acl.includes(`:default.${name}-`) || acl.endsWith(`.${name}`),
      );
    k.apply(pipelineManifest(name, spec(true)));
    await grantedTo(workerPrincipal);
    expect(await writeAs(worker)).to.equal("not refused");
    // Someone else's ACL for the same principal on the same topic: not the operator's to revoke.
    await asAdmin((client) =>
      client.createAcls({
        acl: [
          {
            principal: workerPrincipal,
            host: "*",
            resourceType: AclResourceTypes.TOPIC,
            resourceName: topics.requests,
            resourcePatternType: ResourcePatternTypes.LITERAL,
            operation: AclOperationTypes.DESCRIBE_CONFIGS,
            permissionType: AclPermissionTypes.ALLOW,
          },
        ],
      }),
    );

    k.run([
      "patch",
      "sp",
      name,
      "-n",
      "default",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { kafka: { sasl: { secretRef: { name: "kafka-successor" } } } } }),
    ]);
    await grantedTo(`User:${successor.name}`);
    expect(await onMoved(workerPrincipal)).to.deep.equal([`DESCRIBE_CONFIGS TOPIC:${topics.requests}`]);
    expect(await onMoved(`User:${successor.name}`)).to.have.length(7);
    expect(await writeAs(worker)).to.equal("TOPIC_AUTHORIZATION_FAILED");
    expect(await writeAs(successor)).to.equal("not refused");
    expect(eventsOf(k, name)).to.include(
      `revoked ${workerPrincipal} Read+Describe on topic ${topics.requests}`,
    );
    expect(
      (k.pipeline(name) as SentimentPipeline | undefined)?.status?.acls?.granted.map((b) => b.principal),
    ).to.deep.equal(Array(7).fill(`User:${successor.name}`));
  });

  it("deletes the workers' ACLs with the pipeline under deletionPolicy Delete", async () => {
    await reader?.close();
    reader = undefined;
    expect(await workerAcls()).to.include.members(grantedAcls);
    k.run(["delete", "sentimentpipeline", "granted", "-n", "default", "--wait=false"]);
    await waitFor("pipeline granted gone", () => (k.pipeline("granted") === undefined ? true : undefined), {
      timeoutMs: 90_000,
      describe: () =>
        JSON.stringify((k.pipeline("granted") as SentimentPipeline | undefined)?.status?.conditions),
    });
    expect((await workerAcls()).filter((acl) => grantedAcls.includes(acl))).to.deep.equal([]);
  });
});
