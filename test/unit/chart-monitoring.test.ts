// The chart's observability pieces: rendered only when asked for, and every metric they query is one the
// worker or the operator actually exports (a renamed metric must not leave a silent alert behind).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { chartDir, findObject, render } from "../support/helm.ts";

const exported = [
  readFileSync(join(repoRoot, "worker", "src", "metrics.ts"), "utf8"),
  readFileSync(join(repoRoot, "operator", "src", "metrics.ts"), "utf8"),
]
  .join("\n")
  .match(/kubesentiment_[a-z_]+/g);

/** Metric names a PromQL text uses, with histogram suffixes taken back to the histogram's name. */
function metricsIn(text: string): string[] {
  const names = text.match(/kubesentiment_(?:worker|pipeline|operator)_[a-z_]+/g) ?? [];
  return [...new Set(names.map((name) => name.replace(/_(bucket|sum|count)$/, "")))];
}

describe("chart monitoring", () => {
  const all = {
    monitoring: {
      podMonitor: { enabled: true },
      prometheusRule: { enabled: true, labels: { release: "prometheus" } },
      grafanaDashboard: { enabled: true },
    },
  };

  it("renders nothing for monitoring by default", () => {
    const kinds = render().map((object) => object.kind);
    expect(kinds).to.not.include.members(["PodMonitor", "ServiceMonitor", "PrometheusRule"]);
    expect(render().some((object) => object.metadata?.name === "kubesentiment-grafana-dashboard")).to.equal(
      false,
    );
  });

  it("renders the alerts the issue names, with the labels Prometheus selects by", () => {
    const rule = findObject<
      {
        metadata: { labels: Record<string, string> };
        spec: { groups: { rules: { alert: string; expr: string }[] }[] };
      } & { kind: string }
    >(render(all), "PrometheusRule");
    expect(rule.metadata.labels.release).to.equal("prometheus");
    const rules = rule.spec.groups.flatMap((group) => group.rules);
    expect(rules.map((r) => r.alert)).to.deep.equal([
      "KubeSentimentConsumerLagHigh",
      "KubeSentimentDeadLetterRateHigh",
      "KubeSentimentCircuitBreakerOpen",
    ]);
    expect(rules[0]?.expr).to.include("> 10000");
  });

  it("scrapes every worker with its pipeline label, and ships the dashboard", () => {
    const objects = render(all);
    const podMonitor = findObject<{ kind: string; spec: { podTargetLabels: string[] } }>(
      objects,
      "PodMonitor",
    );
    expect(podMonitor.spec.podTargetLabels).to.deep.equal(["kubesentiment.io/pipeline"]);
    const dashboard = findObject<{ kind: string; data: Record<string, string> }>(
      objects,
      "ConfigMap",
      "kubesentiment-grafana-dashboard",
    );
    expect(JSON.parse(dashboard.data["kubesentiment.json"] ?? "{}").panels).to.have.length(6);
  });

  it("queries only metrics the worker and the operator export", () => {
    for (const file of ["prometheus-rules.yaml", "grafana-dashboard.json"]) {
      const used = metricsIn(readFileSync(join(chartDir, "files", file), "utf8"));
      expect(used.length, file).to.be.greaterThan(3);
      expect(exported, file).to.include.members(used);
    }
  });
});
