// The chart installed by the real helm into a real kube-apiserver + controller manager + kwok (pods run without
// containers), with a real Kafka: the CRD becomes Established, the operator Deployment available, a pipeline is
// accepted and reconciled by the operator running here AS the chart's ServiceAccount, which proves the chart's
// CRD and RBAC are what the operator needs; an upgrade with changed values rolls; an uninstall leaves only the
// CRD and the user's pipelines.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dumpYaml, loadYaml, type V1Deployment, type V1Secret } from "@kubernetes/client-node";
import { expect } from "chai";
import { clusterPortCount } from "../../hack/harness/cluster-config.ts";
import { type Cluster, startCluster } from "../../hack/harness/cluster-run.ts";
import type { KafkaCluster } from "../../hack/harness/kafka-cluster.ts";
import { type Kubectl, kubectlFor } from "../../hack/harness/kubectl.ts";
import { freePortBase } from "../../hack/harness/ports.ts";
import { startTogether } from "../../hack/harness/processes.ts";
import { waitFor } from "../../hack/harness/wait.ts";
import type { RunningOperator } from "../../operator/src/operator.ts";
import type { SentimentPipeline } from "../../operator/src/pipeline.ts";
import { chartDir, helm, releaseNamespace, upgradeArgs } from "../support/helm.ts";
import { startKafkaOnFreePorts } from "../support/kafka.ts";
import { conditionOf, pipelineManifest, runOperator } from "../support/operator.ts";

const release = "kubesentiment";
const operatorName = "kubesentiment-operator";
const serviceAccount = `system:serviceaccount:${releaseNamespace}:${operatorName}`;

/** The cluster's kubeconfig, but every request impersonates `user` (the admin may impersonate anyone). */
function impersonatingKubeconfig(cluster: Cluster, user: string): string {
  const config = loadYaml(readFileSync(cluster.kubeconfigPath, "utf8")) as {
    users: { user: { as?: string } }[];
  };
  for (const entry of config.users) entry.user.as = user;
  const file = join(cluster.dir, "operator-sa.kubeconfig");
  writeFileSync(file, dumpYaml(config), { mode: 0o600 });
  return file;
}

describe("Helm chart on a real control plane", function () {
  this.timeout(240_000);
  let cluster: Cluster;
  let kafka: KafkaCluster;
  let operator: RunningOperator | undefined;
  let k: Kubectl;
  const h = (args: string[]) => {
    const result = helm(args, cluster.kubeconfigPath);
    if (result.status !== 0) throw new Error(`helm ${args.join(" ")} failed: ${result.stderr}`);
    return result.stdout;
  };
  const operatorDeployment = () =>
    k.getJson<V1Deployment>(["deployment", operatorName, "-n", releaseNamespace]);
  const upgrade = (...values: string[]) => h(upgradeArgs(release, values, "180s"));
  /** The operator Deployment once `replicas` of its newest revision are up and no old one is left. */
  const rolledOut = (replicas: number) =>
    waitFor(
      `${replicas} available operator replica(s) of the new revision`,
      () => {
        const found = operatorDeployment();
        const status = found?.status;
        return status?.availableReplicas === replicas &&
          status.updatedReplicas === replicas &&
          status.replicas === replicas &&
          status.observedGeneration === found?.metadata?.generation
          ? found
          : undefined;
      },
      { timeoutMs: 90_000 },
    );
  const tlsSecret = () =>
    k.getJson<V1Secret>(["secret", `${operatorName}-metrics-api-tls`, "-n", releaseNamespace])?.data;

  before(async function () {
    this.timeout(300_000);
    [cluster, kafka] = await startTogether(
      freePortBase(clusterPortCount).then((portBase) =>
        startCluster({ name: "helm-test", portBase, controllerManager: true, kwok: true }),
      ),
      startKafkaOnFreePorts({ name: "test-helm" }),
    );
    k = kubectlFor(cluster.kubeconfigPath);
  });

  after(async () => {
    await operator?.stop();
    await Promise.all([cluster?.stop(), kafka?.stop()]);
  });

  it("installs, and tells the user what to do next", () => {
    const installed = h([
      "install",
      release,
      chartDir,
      "--namespace",
      releaseNamespace,
      "--create-namespace",
      "--wait",
      "--timeout",
      "180s",
    ]);
    expect(installed).to.contain("STATUS: deployed");
    expect(installed).to.contain("kubectl get sentimentpipelines -A");
    const listed = JSON.parse(h(["list", "--namespace", releaseNamespace, "--output", "json"])) as {
      name: string;
      status: string;
    }[];
    expect(listed.map(({ name, status }) => `${name} ${status}`)).to.deep.equal([`${release} deployed`]);
  });

  it("establishes the CRD", () => {
    k.run([
      "wait",
      "--for=condition=Established",
      "crd/sentimentpipelines.kubesentiment.io",
      "--timeout=30s",
    ]);
  });

  it("makes the operator Deployment available", async () => {
    const deployment = await waitFor(
      "the operator Deployment available",
      () => {
        const found = operatorDeployment();
        return found?.status?.availableReplicas === 1 ? found : undefined;
      },
      { timeoutMs: 90_000 },
    );
    const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "LEADER_ELECTION")?.value).to.equal("false");
  });

  it("accepts a SentimentPipeline applied with kubectl", () => {
    k.apply(
      pipelineManifest("reviews", {
        kafka: { bootstrapServers: kafka.bootstrapServers },
        topics: { partitions: 2, replicationFactor: 1 },
        autoscaling: { minReplicas: 1, maxReplicas: 2 },
      }),
    );
    expect(k.pipeline("reviews")?.metadata.name).to.equal("reviews");
  });

  it("lets the operator reconcile it with nothing but the chart's ServiceAccount's rights", async () => {
    operator = await runOperator(impersonatingKubeconfig(cluster, serviceAccount));
    const worker = await waitFor(
      "the pipeline's worker Deployment",
      () => k.getJson<V1Deployment>(["deployment", "reviews-worker", "-n", "default"]),
      { timeoutMs: 90_000, describe: () => JSON.stringify(k.pipeline("reviews")?.status?.conditions) },
    );
    expect(worker.metadata?.ownerReferences?.[0]).to.include({ kind: "SentimentPipeline", name: "reviews" });
    await waitFor("TopicsReady", () => conditionOf(k.pipeline("reviews"), "TopicsReady")?.status === "True", {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(k.pipeline("reviews")?.status?.conditions),
    });
    // The status was written, through the status subresource, as the ServiceAccount.
    expect(k.pipeline("reviews")?.status?.observedGeneration).to.equal(1);
  });

  it("grants the ServiceAccount each verb the operator uses, and not more", () => {
    const can = (args: string[]) => k.result(["auth", "can-i", ...args, `--as=${serviceAccount}`]);
    const granted = [
      ["watch", "sentimentpipelines.kubesentiment.io", "-A"],
      ["patch", "sentimentpipelines.kubesentiment.io", "-n", "default"],
      ["update", "sentimentpipelines.kubesentiment.io", "--subresource=status", "-n", "default"],
      ["update", "sentimentpipelines.kubesentiment.io", "--subresource=finalizers", "-n", "default"],
      ["watch", "sentimentreplays.kubesentiment.io", "-A"],
      ["get", "sentimentreplays.kubesentiment.io", "-n", "default"],
      ["patch", "sentimentreplays.kubesentiment.io", "--subresource=status", "-n", "default"],
      ["patch", "deployments.apps", "-n", "default"],
      ["delete", "services", "-n", "default"],
      ["create", "horizontalpodautoscalers.autoscaling", "-n", "default"],
      ["create", "events", "-n", "default"],
      ["patch", "events.events.k8s.io", "-n", "default"],
      ["get", "secrets", "-n", "default"],
      // Why a pipeline's worker pods fail, for its WorkersAvailable condition.
      ["list", "pods", "-n", "default"],
      ["watch", "sentimentredrives.kubesentiment.io", "-A"],
      ["get", "sentimentredrives.kubesentiment.io", "-n", "default"],
      ["patch", "sentimentredrives.kubesentiment.io", "--subresource=status", "-n", "default"],
      ["create", "tokenreviews.authentication.k8s.io"],
      ["create", "subjectaccessreviews.authorization.k8s.io"],
      ["get", "leases.coordination.k8s.io/kubesentiment-operator", "-n", releaseNamespace],
      ["update", "leases.coordination.k8s.io/kubesentiment-operator", "-n", releaseNamespace],
      ["create", "leases.coordination.k8s.io", "-n", releaseNamespace],
      ["get", "configmaps/extension-apiserver-authentication", "-n", "kube-system"],
    ];
    for (const args of granted) expect(can(args).stdout.trim(), `can-i ${args.join(" ")}`).to.equal("yes");
    const refused = [
      ["create", "sentimentpipelines.kubesentiment.io", "-n", "default"],
      ["delete", "sentimentpipelines.kubesentiment.io", "-n", "default"],
      // Users own their redrives: the operator only reads them and writes their status.
      ["create", "sentimentredrives.kubesentiment.io", "-n", "default"],
      ["patch", "sentimentredrives.kubesentiment.io", "-n", "default"],
      ["delete", "sentimentredrives.kubesentiment.io", "-n", "default"],
      // Users own their replays: the operator writes only their status.
      ["create", "sentimentreplays.kubesentiment.io", "-n", "default"],
      ["patch", "sentimentreplays.kubesentiment.io", "-n", "default"],
      ["create", "pods", "-n", "default"],
      ["get", "pods/log", "-n", "default"],
      ["watch", "pods", "-A"],
      ["update", "secrets", "-n", "default"],
      ["update", "leases.coordination.k8s.io/someone-else", "-n", releaseNamespace],
      ["create", "leases.coordination.k8s.io", "-n", "default"],
      ["get", "configmaps", "-n", "default"],
      ["delete", "customresourcedefinitions.apiextensions.k8s.io"],
      // Secrets only by the name a pipeline gives: never listed or watched, in any namespace.
      ["list", "secrets", "-A"],
      ["watch", "secrets", "-A"],
      ["list", "secrets", "-n", "default"],
    ];
    for (const args of refused) expect(can(args).stdout.trim(), `can-i ${args.join(" ")}`).to.equal("no");
  });

  it("rolls the operator on an upgrade with changed values, keeping its serving certificate", async () => {
    const before = operatorDeployment();
    const certificate = tlsSecret();
    expect(certificate).to.have.keys("ca.crt", "tls.crt", "tls.key");
    upgrade("replicaCount=2", "operator.logLevel=debug");
    const after = await rolledOut(2);
    expect(after.metadata?.generation).to.be.greaterThan(before?.metadata?.generation ?? 0);
    expect(after.spec?.strategy?.type).to.equal("RollingUpdate");
    const env = Object.fromEntries(
      (after.spec?.template.spec?.containers[0]?.env ?? []).map((e) => [e.name, e.value]),
    );
    expect(env).to.include({ LEADER_ELECTION: "true", LOG_LEVEL: "debug" });
    expect(after.metadata?.annotations?.["deployment.kubernetes.io/revision"]).to.equal("2");
    // The certificate the first install made is kept, so neither the APIService nor the pods lose trust.
    expect(tlsSecret()).to.deep.equal(certificate);
    expect(after.spec?.template.metadata?.annotations?.["checksum/metrics-api-tls"]).to.equal(
      before?.spec?.template.metadata?.annotations?.["checksum/metrics-api-tls"],
    );
    const history = JSON.parse(h(["history", release, "--namespace", releaseNamespace, "--output", "json"]));
    expect(history).to.have.length(2);
  });

  it("goes back to one replica without leader election, Recreate with the rolling-update settings removed", async () => {
    upgrade("replicaCount=1");
    const after = await rolledOut(1);
    expect(after.spec?.strategy).to.deep.equal({ type: "Recreate" });
    const env = after.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "LEADER_ELECTION")?.value).to.equal("false");
  });

  it("installed for some namespaces, grants Roles only there and reconciles only their pipelines", async () => {
    await operator?.stop();
    operator = undefined;
    for (const namespace of ["team-a", "team-b"]) k.run(["create", "namespace", namespace]);
    upgrade("watchNamespaces={team-a}");
    const after = await rolledOut(1);
    const env = after.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "WATCH_NAMESPACES")?.value).to.equal("team-a");

    const can = (args: string[]) =>
      k.result(["auth", "can-i", ...args, `--as=${serviceAccount}`]).stdout.trim();
    for (const args of [
      ["get", "secrets", "-n", "team-a"],
      ["watch", "sentimentpipelines.kubesentiment.io", "-n", "team-a"],
      ["patch", "deployments.apps", "-n", "team-a"],
      ["create", "tokenreviews.authentication.k8s.io"],
    ]) {
      expect(can(args), `can-i ${args.join(" ")}`).to.equal("yes");
    }
    for (const args of [
      ["list", "secrets", "-A"],
      ["get", "secrets", "-n", "team-b"],
      ["list", "sentimentpipelines.kubesentiment.io", "-A"],
      ["patch", "deployments.apps", "-n", "team-b"],
      ["patch", "deployments.apps", "-n", "default"],
    ]) {
      expect(can(args), `can-i ${args.join(" ")}`).to.equal("no");
    }

    const spec = {
      kafka: { bootstrapServers: kafka.bootstrapServers },
      topics: { partitions: 1, replicationFactor: 1 },
      autoscaling: { minReplicas: 1, maxReplicas: 1 },
    };
    const inNamespace = (namespace: string) => {
      const manifest = JSON.parse(pipelineManifest("orders", spec));
      manifest.metadata.namespace = namespace;
      return JSON.stringify(manifest);
    };
    // The unwatched namespace's pipeline first: an operator that saw it would take it up no later.
    k.apply(inNamespace("team-b"));
    k.apply(inNamespace("team-a"));
    operator = await runOperator(impersonatingKubeconfig(cluster, serviceAccount), {
      watchNamespaces: ["team-a"],
    });
    const orders = (namespace: string) =>
      k.getJson<SentimentPipeline>(["sentimentpipeline", "orders", "-n", namespace]);
    await waitFor("team-a's pipeline reconciled", () => orders("team-a")?.status?.observedGeneration === 1, {
      timeoutMs: 60_000,
      describe: () => JSON.stringify(orders("team-a")?.status?.conditions),
    });
    expect(k.getJson<V1Deployment>(["deployment", "orders-worker", "-n", "team-a"])).not.to.equal(undefined);
    expect(orders("team-b")?.status).to.equal(undefined);
    expect(k.getJson<V1Deployment>(["deployment", "orders-worker", "-n", "team-b"])).to.equal(undefined);
  });

  it("uninstalls everything but the CRD and the user's pipelines", async () => {
    await operator?.stop();
    operator = undefined;
    h(["uninstall", release, "--namespace", releaseNamespace, "--wait", "--timeout", "120s"]);

    const left = (args: string[]) => {
      const result = k.result(["get", ...args, "-o", "name", "--ignore-not-found"]);
      expect(result.status, result.stderr).to.equal(0);
      return result.stdout.trim().split("\n").filter(Boolean);
    };
    await waitFor("the operator's pods gone", () => left(["pods", "-n", releaseNamespace]).length === 0, {
      timeoutMs: 60_000,
      describe: () => left(["pods", "-n", releaseNamespace]).join(", "),
    });
    const namespaced =
      "deployments,replicasets,services,serviceaccounts,secrets,roles,rolebindings,configmaps";
    // What the cluster itself keeps in every namespace stays; nothing of the release does.
    expect(left([namespaced, "-n", releaseNamespace])).to.deep.equal([
      "serviceaccount/default",
      "configmap/kube-root-ca.crt",
    ]);
    expect(
      left(["rolebindings", "-n", "kube-system", "-l", `app.kubernetes.io/instance=${release}`]),
    ).to.deep.equal([]);
    const ofRelease = ["-l", `app.kubernetes.io/instance=${release}`];
    expect(left(["clusterroles,clusterrolebindings", ...ofRelease])).to.deep.equal([]);
    expect(left(["roles,rolebindings", "-n", "team-a", ...ofRelease])).to.deep.equal([]);
    expect(left(["apiservice/v1beta1.external.metrics.k8s.io"])).to.deep.equal([]);

    expect(left(["crd/sentimentpipelines.kubesentiment.io"])).to.deep.equal([
      "customresourcedefinition.apiextensions.k8s.io/sentimentpipelines.kubesentiment.io",
    ]);
    expect(left(["sentimentpipelines", "-n", "default"])).to.deep.equal([
      "sentimentpipeline.kubesentiment.io/reviews",
    ]);
  });
});
