// The Helm chart, rendered by the real helm: it lints; every pod is hardened and bounded; the operator gets its
// environment from values and the downward API; the values schema refuses bad values naming the field; RBAC
// and the CRDs are exactly those of operator/deploy/rbac.yaml and crds/; the metrics API's certificate is
// coherent; the optional parts appear only when asked for.
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type KubernetesObject,
  loadAllYaml,
  type V1ClusterRole,
  type V1ClusterRoleBinding,
  type V1Container,
  type V1Deployment,
  type V1NetworkPolicy,
  type V1Pod,
  type V1PodSpec,
  type V1Role,
  type V1RoleBinding,
  type V1Secret,
  type V1Service,
} from "@kubernetes/client-node";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { chartDir, findObject, helm, releaseNamespace, render, template } from "../support/helm.ts";

const crdDir = join(repoRoot, "crds");
const rbacFile = join(repoRoot, "operator", "deploy", "rbac.yaml");

interface APIService extends KubernetesObject {
  spec: { service: { name: string; namespace: string; port: number }; caBundle?: string };
}

const operatorOf = (objects: KubernetesObject[]) =>
  findObject<V1Deployment>(objects, "Deployment", "kubesentiment-operator");
const containerOf = (deployment: V1Deployment): V1Container => {
  const container = deployment.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error("the Deployment has no container");
  return container;
};
const envOf = (container: V1Container) =>
  Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));

/** Every pod the chart can start: the operator's template and the `helm test` hook. */
function podSpecs(objects: KubernetesObject[]): [string, V1PodSpec][] {
  const specs: [string, V1PodSpec][] = [];
  for (const object of objects) {
    const name = `${object.kind}/${object.metadata?.name}`;
    if (object.kind === "Pod") specs.push([name, (object as V1Pod).spec as V1PodSpec]);
    if (object.kind === "Deployment")
      specs.push([name, (object as V1Deployment).spec?.template.spec as V1PodSpec]);
  }
  return specs;
}

describe("Helm chart", function () {
  this.timeout(60_000);
  let defaults: KubernetesObject[];

  before(() => {
    defaults = render();
  });

  it("passes helm lint --strict", () => {
    const result = helm(["lint", "--strict", chartDir]);
    expect(result.status, result.stdout + result.stderr).to.equal(0);
  });

  it("renders the operator, its RBAC, Services and the metrics API into the release namespace", () => {
    expect(
      defaults.map((o) => `${o.kind} ${o.metadata?.namespace ?? "-"}/${o.metadata?.name}`).sort(),
    ).to.deep.equal([
      "APIService -/v1beta1.external.metrics.k8s.io",
      "ClusterRole -/kubesentiment-operator",
      "ClusterRole -/kubesentiment-operator-metrics-api",
      "ClusterRoleBinding -/kubesentiment-operator",
      "ClusterRoleBinding -/kubesentiment-operator-metrics-api",
      "Deployment kubesentiment-system/kubesentiment-operator",
      "Pod kubesentiment-system/kubesentiment-operator-test-readyz",
      "Role kubesentiment-system/kubesentiment-operator-leader-election",
      "RoleBinding kube-system/kubesentiment-operator-auth-reader",
      "RoleBinding kubesentiment-system/kubesentiment-operator-leader-election",
      "Secret kubesentiment-system/kubesentiment-operator-metrics-api-tls",
      "Service kubesentiment-system/kubesentiment-operator",
      "Service kubesentiment-system/kubesentiment-operator-metrics-api",
      "ServiceAccount kubesentiment-system/kubesentiment-operator",
    ]);
    const other = render({}, "sentiment");
    expect(operatorOf(other).metadata?.namespace).to.equal("sentiment");
  });

  it("hardens every pod: non-root, read-only root, no capabilities or escalation, RuntimeDefault seccomp", () => {
    const specs = podSpecs(defaults);
    expect(specs.map(([name]) => name)).to.have.members([
      "Deployment/kubesentiment-operator",
      "Pod/kubesentiment-operator-test-readyz",
    ]);
    for (const [name, spec] of specs) {
      expect(spec.securityContext, name).to.deep.include({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(spec.hostNetwork ?? false, name).to.equal(false);
      for (const container of [...(spec.initContainers ?? []), ...spec.containers]) {
        const where = `${name} container ${container.name}`;
        expect(container.securityContext, where).to.deep.include({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(container.securityContext?.privileged ?? false, where).to.equal(false);
        for (const bound of ["requests", "limits"] as const) {
          expect(container.resources?.[bound], `${where} ${bound}`).to.include.keys("cpu", "memory");
        }
      }
    }
  });

  it("gives the read-only operator a bounded emptyDir at /tmp", () => {
    const deployment = operatorOf(defaults);
    const tmp = deployment.spec?.template.spec?.volumes?.find((v) => v.name === "tmp");
    expect(tmp?.emptyDir?.sizeLimit).to.equal("64Mi");
    expect(containerOf(deployment).volumeMounts).to.deep.include({ name: "tmp", mountPath: "/tmp" });
  });

  it("probes /healthz and /readyz on port 8081", () => {
    const container = containerOf(operatorOf(defaults));
    expect(container.ports).to.deep.include({ name: "http", containerPort: 8081, protocol: "TCP" });
    expect(container.livenessProbe?.httpGet).to.deep.equal({ path: "/healthz", port: "http" });
    expect(container.readinessProbe?.httpGet).to.deep.equal({ path: "/readyz", port: "http" });
    expect(envOf(container).HTTP_PORT).to.equal("8081");
    const service = findObject<V1Service>(defaults, "Service", "kubesentiment-operator");
    expect(service.spec?.ports).to.deep.equal([
      { name: "http", port: 8081, targetPort: "http", protocol: "TCP" },
    ]);
  });

  it("takes its identity and namespace from the downward API and its images from values", () => {
    const deployment = operatorOf(
      render({
        image: { repository: "example/op", tag: "1.2.3" },
        workerImage: { repository: "example/w", tag: "4" },
      }),
    );
    const container = containerOf(deployment);
    expect(container.image).to.equal("example/op:1.2.3");
    expect(envOf(container)).to.deep.include({
      POD_NAME: { fieldRef: { fieldPath: "metadata.name" } },
      OPERATOR_NAMESPACE: { fieldRef: { fieldPath: "metadata.namespace" } },
      WORKER_IMAGE: "example/w:4",
    });
    expect(deployment.spec?.template.spec?.serviceAccountName).to.equal("kubesentiment-operator");
    // Without tags, both images follow the chart's appVersion, as the operator's own default does.
    expect(envOf(containerOf(operatorOf(defaults))).WORKER_IMAGE).to.equal("kubesentiment/worker:0.1.0");
    expect(containerOf(operatorOf(defaults)).image).to.equal("kubesentiment/operator:0.1.0");
  });

  for (const replicas of [1, 2, 3]) {
    it(`with ${replicas} replica(s) turns leader election ${replicas > 1 ? "on and rolls" : "off and recreates"}`, () => {
      const deployment = operatorOf(render({ replicaCount: replicas }));
      expect(deployment.spec?.replicas).to.equal(replicas);
      expect(envOf(containerOf(deployment)).LEADER_ELECTION).to.equal(replicas > 1 ? "true" : "false");
      expect(deployment.spec?.strategy?.type).to.equal(replicas > 1 ? "RollingUpdate" : "Recreate");
    });
  }

  it("passes operator settings and extra variables through", () => {
    const env = envOf(
      containerOf(
        operatorOf(
          render({
            operator: { logLevel: "debug", resyncPeriodMs: 5000, extraEnv: [{ name: "EXTRA", value: "x" }] },
          }),
        ),
      ),
    );
    expect(env).to.include({
      LOG_LEVEL: "debug",
      RESYNC_PERIOD_MS: "5000",
      RECONCILE_CONCURRENCY: "4",
      EXTRA: "x",
    });
  });

  const refusals: { title: string; values: Record<string, unknown>; field: string }[] = [
    { title: "a negative replica count", values: { replicaCount: -1 }, field: "/replicaCount" },
    {
      title: "a replica count that is not a number",
      values: { replicaCount: "two" },
      field: "/replicaCount",
    },
    { title: "a numeric image tag", values: { image: { tag: 3 } }, field: "/image/tag" },
    {
      title: "an unknown log level",
      values: { operator: { logLevel: "loud" } },
      field: "/operator/logLevel",
    },
    { title: "a misspelt top-level key", values: { replicas: 2 }, field: "replicas" },
    { title: "resources without limits", values: { resources: { limits: null } }, field: "/resources" },
    {
      title: "a bad pull policy",
      values: { image: { pullPolicy: "Sometimes" } },
      field: "/image/pullPolicy",
    },
  ];
  for (const { title, values, field } of refusals) {
    it(`refuses ${title}, naming ${field}`, () => {
      const rendered = template(values);
      expect(rendered).to.have.property("error");
      const error = "error" in rendered ? rendered.error : "";
      expect(error).to.contain("values don't meet the specifications of the schema");
      expect(error).to.contain(field);
    });
  }

  it("grants exactly the rules of operator/deploy/rbac.yaml, bound to its ServiceAccount", () => {
    const reviewed = loadAllYaml(readFileSync(rbacFile, "utf8")) as KubernetesObject[];
    for (const name of ["kubesentiment-operator", "kubesentiment-operator-metrics-api"]) {
      expect(findObject<V1ClusterRole>(defaults, "ClusterRole", name).rules, name).to.deep.equal(
        findObject<V1ClusterRole>(reviewed, "ClusterRole", name).rules,
      );
    }
    const role = findObject<V1Role>(defaults, "Role");
    expect(role.rules).to.deep.equal(findObject<V1Role>(reviewed, "Role").rules);

    // Bindings and subjects follow the release namespace.
    const elsewhere = render({}, "sentiment");
    const subject = { kind: "ServiceAccount", name: "kubesentiment-operator", namespace: "sentiment" };
    for (const name of ["kubesentiment-operator", "kubesentiment-operator-metrics-api"]) {
      const clusterBinding = findObject<V1ClusterRoleBinding>(elsewhere, "ClusterRoleBinding", name);
      expect(clusterBinding.roleRef).to.deep.include({ kind: "ClusterRole", name });
      expect(clusterBinding.subjects).to.deep.equal([subject]);
    }
    const bindings = elsewhere.filter((o): o is V1RoleBinding => o.kind === "RoleBinding");
    expect(bindings.map((b) => [b.metadata?.namespace, b.roleRef.name])).to.have.deep.members([
      ["sentiment", "kubesentiment-operator-leader-election"],
      ["kube-system", "extension-apiserver-authentication-reader"],
    ]);
    for (const binding of bindings) expect(binding.subjects).to.deep.equal([subject]);
    expect(findObject<V1Role>(elsewhere, "Role").metadata?.namespace).to.equal("sentiment");
  });

  it("grants Secrets by name only (get): never list or watch them", () => {
    const secretRules = findObject<V1ClusterRole>(
      defaults,
      "ClusterRole",
      "kubesentiment-operator",
    ).rules?.filter((rule) => rule.resources?.includes("secrets"));
    expect(secretRules?.map((rule) => rule.verbs)).to.deep.equal([["get"]]);
  });

  describe("KEDA (keda.enabled)", () => {
    const reviewed = () => loadAllYaml(readFileSync(rbacFile, "utf8")) as KubernetesObject[];
    const rulesOf = (objects: KubernetesObject[], kind: string, name: string) =>
      findObject<V1ClusterRole>(objects, kind, name).rules ?? [];
    const grantsKeda = (objects: KubernetesObject[]) =>
      objects.some((o) =>
        ((o as V1ClusterRole).rules ?? []).some((rule) => rule.apiGroups?.includes("keda.sh")),
      );

    it("is off by default: no rule over KEDA's resources, and the operator is not told to use it", () => {
      expect(grantsKeda(defaults)).to.equal(false);
      expect(envOf(containerOf(operatorOf(defaults)))).not.to.have.property("KEDA_ENABLED");
    });

    it("adds exactly the KEDA rules of operator/deploy/rbac.yaml to the pipeline rules, and tells the operator", () => {
      const objects = render({ keda: { enabled: true }, metricsApi: { enabled: false } });
      const kedaRules = rulesOf(reviewed(), "ClusterRole", "kubesentiment-operator-keda");
      expect(kedaRules.flatMap((rule) => rule.resources)).to.deep.equal([
        "scaledobjects",
        "triggerauthentications",
      ]);
      expect(rulesOf(objects, "ClusterRole", "kubesentiment-operator")).to.deep.equal([
        ...rulesOf(reviewed(), "ClusterRole", "kubesentiment-operator"),
        ...kedaRules,
      ]);
      expect(envOf(containerOf(operatorOf(objects)))).to.include({ KEDA_ENABLED: "true" });
      // Without the metrics API, no APIService to collide with KEDA's.
      expect(objects.some((o) => o.kind === "APIService")).to.equal(false);
    });

    it("grants them in each watched namespace's Role in a namespaced install", () => {
      const objects = render({ keda: { enabled: true }, watchNamespaces: ["team-a"] });
      const role = findObject<V1Role>(
        objects.filter((o) => o.metadata?.namespace === "team-a"),
        "Role",
      );
      expect(role.rules).to.deep.equal([
        ...rulesOf(reviewed(), "ClusterRole", "kubesentiment-operator"),
        ...rulesOf(reviewed(), "ClusterRole", "kubesentiment-operator-keda"),
      ]);
    });

    it("binds the raw install's KEDA rules only in operator/deploy/rbac-keda.yaml", () => {
      const binding = findObject<V1ClusterRoleBinding>(
        loadAllYaml(readFileSync(join(repoRoot, "operator", "deploy", "rbac-keda.yaml"), "utf8")),
        "ClusterRoleBinding",
      );
      expect(binding.roleRef.name).to.equal("kubesentiment-operator-keda");
      const bindings = reviewed().filter((o): o is V1ClusterRoleBinding => o.kind === "ClusterRoleBinding");
      expect(bindings.map((b) => b.roleRef.name)).to.not.include("kubesentiment-operator-keda");
    });
  });

  describe("namespaced install (watchNamespaces)", () => {
    let namespaced: KubernetesObject[];
    before(() => {
      namespaced = render({ watchNamespaces: ["team-a", "team-b"] });
    });

    it("grants the pipeline rules in a Role per watched namespace, and no ClusterRole over namespaced resources", () => {
      const reviewed = loadAllYaml(readFileSync(rbacFile, "utf8")) as KubernetesObject[];
      const rules = findObject<V1ClusterRole>(reviewed, "ClusterRole", "kubesentiment-operator").rules;
      const subject = { kind: "ServiceAccount", name: "kubesentiment-operator", namespace: releaseNamespace };
      for (const namespace of ["team-a", "team-b"]) {
        const inNamespace = namespaced.filter((o) => o.metadata?.namespace === namespace);
        expect(inNamespace.map((o) => `${o.kind} ${o.metadata?.name}`)).to.deep.equal([
          "Role kubesentiment-operator",
          "RoleBinding kubesentiment-operator",
        ]);
        expect(findObject<V1Role>(inNamespace, "Role").rules).to.deep.equal(rules);
        const binding = findObject<V1RoleBinding>(inNamespace, "RoleBinding");
        expect(binding.roleRef).to.deep.include({ kind: "Role", name: "kubesentiment-operator" });
        expect(binding.subjects).to.deep.equal([subject]);
      }
      // Cluster-wide only what no Role can grant: the metrics API's token and access reviews.
      const clusterRoles = namespaced.filter((o): o is V1ClusterRole => o.kind === "ClusterRole");
      expect(clusterRoles.map((role) => role.metadata?.name)).to.deep.equal([
        "kubesentiment-operator-metrics-api",
      ]);
      expect(clusterRoles.flatMap((role) => role.rules?.flatMap((rule) => rule.resources))).to.deep.equal([
        "tokenreviews",
        "subjectaccessreviews",
      ]);
    });

    it("tells the operator which namespaces to watch", () => {
      expect(envOf(containerOf(operatorOf(namespaced)))).to.include({ WATCH_NAMESPACES: "team-a,team-b" });
      expect(envOf(containerOf(operatorOf(defaults)))).not.to.have.property("WATCH_NAMESPACES");
    });

    it("refuses a namespace that is not a DNS label", () => {
      const rendered = template({ watchNamespaces: ["Team_A"] });
      expect("error" in rendered ? rendered.error : "").to.contain("/watchNamespaces/0");
    });
  });

  it("ships crds/ byte for byte", () => {
    const names = readdirSync(crdDir)
      .filter((name) => name.endsWith(".yaml"))
      .sort();
    expect(names).to.include.members([
      "sentimentpipelines.kubesentiment.io.yaml",
      "sentimentredrives.kubesentiment.io.yaml",
      "sentimentreplays.kubesentiment.io.yaml",
    ]);
    expect(readdirSync(join(chartDir, "crds")).sort()).to.deep.equal(names);
    const sources = names.map((name) => readFileSync(join(crdDir, name), "utf8"));
    for (const [index, name] of names.entries()) {
      expect(readFileSync(join(chartDir, "crds", name), "utf8"), name).to.equal(sources[index]);
    }
    const shown = helm(["show", "crds", chartDir]);
    expect(shown.status, shown.stderr).to.equal(0);
    // helm prints each CRD file after a document separator and a blank line, in the order of their names.
    expect(shown.stdout.trimEnd()).to.equal(
      sources
        .map((source) => `---\n${source}`)
        .join("\n")
        .trimEnd(),
    );
  });

  describe("metrics API", () => {
    it("registers external.metrics.k8s.io on a Service on 443 in front of the operator's 6443", () => {
      const apiService = findObject<APIService>(defaults, "APIService");
      expect(apiService.spec.service).to.deep.equal({
        name: "kubesentiment-operator-metrics-api",
        namespace: releaseNamespace,
        port: 443,
      });
      const service = findObject<V1Service>(defaults, "Service", "kubesentiment-operator-metrics-api");
      expect(service.spec?.ports).to.deep.equal([
        { name: "https", port: 443, targetPort: "metrics-api", protocol: "TCP" },
      ]);
      expect(containerOf(operatorOf(defaults)).ports).to.deep.include({
        name: "metrics-api",
        containerPort: 6443,
        protocol: "TCP",
      });
    });

    it("generates a CA and a serving certificate for the Service, trusted by the APIService, mounted for the operator", () => {
      const secret = findObject<V1Secret>(defaults, "Secret");
      const data = secret.data ?? {};
      const decode = (key: string) => Buffer.from(data[key] ?? "", "base64");
      const ca = new X509Certificate(decode("ca.crt"));
      const cert = new X509Certificate(decode("tls.crt"));
      expect(cert.verify(ca.publicKey)).to.equal(true);
      expect(cert.checkPrivateKey(createPrivateKey(decode("tls.key")))).to.equal(true);
      expect(cert.subjectAltName).to.contain(
        "DNS:kubesentiment-operator-metrics-api.kubesentiment-system.svc",
      );
      expect(findObject<APIService>(defaults, "APIService").spec.caBundle).to.equal(data["ca.crt"]);

      const deployment = operatorOf(defaults);
      const volume = deployment.spec?.template.spec?.volumes?.find((v) => v.name === "metrics-api-tls");
      expect(volume?.secret?.secretName).to.equal(secret.metadata?.name);
      const mount = containerOf(deployment).volumeMounts?.find((m) => m.name === "metrics-api-tls");
      expect(envOf(containerOf(deployment))).to.include({
        METRICS_API_PORT: "6443",
        METRICS_TLS_CERT_FILE: `${mount?.mountPath}/tls.crt`,
        METRICS_TLS_KEY_FILE: `${mount?.mountPath}/tls.key`,
      });
      // The pod template carries the checksum of this very certificate (rendered in another template), so a
      // rotation restarts the pods onto the new one.
      expect(deployment.spec?.template.metadata?.annotations?.["checksum/metrics-api-tls"]).to.equal(
        createHash("sha256").update(decode("tls.crt")).digest("hex"),
      );
    });

    it("leaves the certificate to cert-manager when asked", () => {
      const objects = render({ metricsApi: { certManager: { enabled: true } } });
      expect(objects.some((o) => o.kind === "Secret")).to.equal(false);
      const apiService = findObject<APIService>(objects, "APIService");
      expect(apiService.spec.caBundle).to.equal(undefined);
      expect(apiService.metadata?.annotations).to.deep.equal({
        "cert-manager.io/inject-ca-from": "kubesentiment-system/kubesentiment-operator-metrics-api",
      });
      const certificate = findObject<KubernetesObject & { spec: Record<string, unknown> }>(
        objects,
        "Certificate",
      );
      expect(certificate.spec).to.include({ secretName: "kubesentiment-operator-metrics-api-tls" });
      expect(certificate.spec.issuerRef).to.deep.equal({
        name: "kubesentiment-operator-selfsigned",
        kind: "Issuer",
        group: "cert-manager.io",
      });
      expect(findObject(objects, "Issuer").metadata?.name).to.equal("kubesentiment-operator-selfsigned");

      const withIssuer = render({
        metricsApi: { certManager: { enabled: true, issuerRef: { name: "corp-ca", kind: "ClusterIssuer" } } },
      });
      expect(withIssuer.some((o) => o.kind === "Issuer")).to.equal(false);
      expect(
        findObject<KubernetesObject & { spec: Record<string, unknown> }>(withIssuer, "Certificate").spec
          .issuerRef,
      ).to.deep.equal({ name: "corp-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
    });

    it("renders none of it when disabled", () => {
      const objects = render({ metricsApi: { enabled: false } });
      for (const kind of ["APIService", "Secret", "Certificate"]) {
        expect(
          objects.some((o) => o.kind === kind),
          kind,
        ).to.equal(false);
      }
      expect(objects.some((o) => o.metadata?.namespace === "kube-system")).to.equal(false);
      // Nor the Service the APIService would call, nor the token and access reviews it would need.
      const rendered = objects.map((o) => `${o.kind} ${o.metadata?.name}`);
      for (const kind of ["ClusterRole", "ClusterRoleBinding"]) {
        expect(rendered).to.not.include(`${kind} kubesentiment-operator-metrics-api`);
      }
      expect(objects.filter((o) => o.kind === "Service").map((o) => o.metadata?.name)).to.deep.equal([
        "kubesentiment-operator",
      ]);
      const container = containerOf(operatorOf(objects));
      expect(envOf(container)).not.to.have.any.keys(
        "METRICS_API_PORT",
        "METRICS_TLS_CERT_FILE",
        "METRICS_TLS_KEY_FILE",
      );
      expect(container.ports?.map((p) => p.name)).to.deep.equal(["http"]);
    });
  });

  it("adds a NetworkPolicy only when enabled, admitting the metrics API and the listed peers", () => {
    expect(defaults.some((o) => o.kind === "NetworkPolicy")).to.equal(false);
    const peer = { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } };
    const policy = findObject<V1NetworkPolicy>(
      render({ networkPolicy: { enabled: true, metricsFrom: [peer] } }),
      "NetworkPolicy",
    );
    expect(policy.spec?.podSelector?.matchLabels).to.deep.equal(
      operatorOf(defaults).spec?.selector.matchLabels,
    );
    expect(policy.spec?.policyTypes).to.deep.equal(["Ingress"]);
    expect(policy.spec?.ingress).to.deep.equal([
      { ports: [{ port: "http", protocol: "TCP" }], _from: [{ podSelector: {} }, peer] },
      { ports: [{ port: "metrics-api", protocol: "TCP" }] },
    ]);
  });

  it("tests /readyz through the operator's Service in a hook pod", () => {
    const pod = findObject<V1Pod>(defaults, "Pod");
    expect(pod.metadata?.annotations?.["helm.sh/hook"]).to.equal("test");
    expect(pod.spec?.containers[0]?.command?.at(-1)).to.equal(
      "http://kubesentiment-operator.kubesentiment-system.svc:8081/readyz",
    );
  });
});
