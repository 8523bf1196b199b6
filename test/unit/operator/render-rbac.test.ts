import { readFileSync } from "node:fs";
import { loadAllYaml, type V1ClusterRole, type V1Role } from "@kubernetes/client-node";
import { expect } from "chai";

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
}

const manifests = loadAllYaml(
  readFileSync(new URL("../../../operator/deploy/rbac.yaml", import.meta.url), "utf8"),
) as Manifest[];

function find<T>(kind: string, name: string): T {
  const found = manifests.find((manifest) => manifest.kind === kind && manifest.metadata.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found as T;
}

describe("operator RBAC manifest", () => {
  it("holds the ServiceAccount, its cluster and namespaced roles and their bindings", () => {
    expect(
      manifests.map(({ kind, metadata }) => `${kind} ${metadata.namespace ?? "-"}/${metadata.name}`),
    ).to.deep.equal([
      "ServiceAccount kubesentiment-system/kubesentiment-operator",
      "ClusterRole -/kubesentiment-operator",
      // Unbound here: operator/deploy/rbac-keda.yaml binds it where KEDA is used.
      "ClusterRole -/kubesentiment-operator-keda",
      "ClusterRoleBinding -/kubesentiment-operator",
      "ClusterRole -/kubesentiment-operator-metrics-api",
      "ClusterRoleBinding -/kubesentiment-operator-metrics-api",
      "Role kubesentiment-system/kubesentiment-operator-leader-election",
      "RoleBinding kubesentiment-system/kubesentiment-operator-leader-election",
      "RoleBinding kube-system/kubesentiment-operator-auth-reader",
    ]);
  });

  it("grants no wildcard and keeps leases out of the cluster-wide roles", () => {
    for (const name of [
      "kubesentiment-operator",
      "kubesentiment-operator-keda",
      "kubesentiment-operator-metrics-api",
    ]) {
      for (const rule of find<V1ClusterRole>("ClusterRole", name).rules ?? []) {
        expect([...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...rule.verbs]).not.to.include("*");
        expect(rule.resources).not.to.include("leases");
      }
    }
    const role = find<V1Role>("Role", "kubesentiment-operator-leader-election");
    expect(role.rules?.flatMap((rule) => rule.resources)).to.deep.equal(["leases", "leases"]);
  });

  it("reads Secrets by name only: get, never list or watch", () => {
    const rules = find<V1ClusterRole>("ClusterRole", "kubesentiment-operator").rules ?? [];
    expect(
      rules.filter((rule) => rule.resources?.includes("secrets")).map((rule) => rule.verbs),
    ).to.deep.equal([["get"]]);
  });

  it("lists pods, to say why workers fail, and does nothing else with them", () => {
    const rules = find<V1ClusterRole>("ClusterRole", "kubesentiment-operator").rules ?? [];
    expect(rules.filter((rule) => rule.resources?.includes("pods"))).to.deep.equal([
      { apiGroups: [""], resources: ["pods"], verbs: ["list"] },
    ]);
  });

  it("keeps only cluster-scoped resources in the role a namespaced install keeps cluster-wide", () => {
    const rules = find<V1ClusterRole>("ClusterRole", "kubesentiment-operator-metrics-api").rules ?? [];
    expect(rules.flatMap((rule) => rule.resources)).to.deep.equal(["tokenreviews", "subjectaccessreviews"]);
  });

  it("binds every role to the operator's ServiceAccount", () => {
    for (const binding of manifests.filter(({ kind }) => kind.endsWith("Binding"))) {
      expect((binding as unknown as { subjects: unknown[] }).subjects).to.deep.equal([
        { kind: "ServiceAccount", name: "kubesentiment-operator", namespace: "kubesentiment-system" },
      ]);
    }
  });
});
