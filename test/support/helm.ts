// Test helpers around the chart: helm (the one hack/helm.ts builds, not whatever is on PATH) with its own
// config, cache and data directories so tests never touch a person's ~/.config/helm, and `helm template`
// output parsed into objects.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type KubernetesObject, loadAllYaml } from "@kubernetes/client-node";
import { type CommandResult, runCommand } from "../../hack/harness/commands.ts";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { helmBinary } from "../../hack/harness/helm-build.ts";

export const chartDir = join(repoRoot, "charts", "kubesentiment");
export const releaseNamespace = "kubesentiment-system";

let home: string | undefined;
function helmHome(): string {
  home ??= mkdtempSync(join(tmpdir(), "kubesentiment-helm-"));
  return home;
}

/** Runs helm; never throws on a non-zero exit (tests assert on it). */
export function helm(args: string[], kubeconfig?: string): CommandResult {
  const dir = helmHome();
  return runCommand(helmBinary(), args, {
    timeoutMs: 300_000,
    env: {
      ...process.env,
      HELM_CONFIG_HOME: join(dir, "config"),
      HELM_CACHE_HOME: join(dir, "cache"),
      HELM_DATA_HOME: join(dir, "data"),
      ...(kubeconfig === undefined ? {} : { KUBECONFIG: kubeconfig }),
    },
  });
}

/** `helm upgrade` of `release` keeping its values but these `--set` ones, waiting up to `timeout` for it. */
export function upgradeArgs(release: string, values: string[], timeout: string): string[] {
  return [
    "upgrade",
    release,
    chartDir,
    "--namespace",
    releaseNamespace,
    "--reuse-values",
    ...values.flatMap((value) => ["--set", value]),
    "--wait",
    "--timeout",
    timeout,
  ];
}

/** A values file (JSON is YAML) for `-f`. */
export function valuesFile(values: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(helmHome(), "values-")), "values.yaml");
  writeFileSync(file, JSON.stringify(values));
  return file;
}

/** `helm template` with these values, or the failure's stderr. */
export function template(
  values: Record<string, unknown> = {},
  namespace = releaseNamespace,
): { objects: KubernetesObject[] } | { error: string } {
  const result = helm([
    "template",
    "kubesentiment",
    chartDir,
    "--namespace",
    namespace,
    "-f",
    valuesFile(values),
  ]);
  if (result.status !== 0) return { error: result.stderr };
  const objects = (loadAllYaml(result.stdout) as (KubernetesObject | null)[]).filter(
    (object): object is KubernetesObject => object !== null,
  );
  return { objects };
}

/** The rendered objects; fails the test with helm's message when rendering fails. */
export function render(
  values: Record<string, unknown> = {},
  namespace = releaseNamespace,
): KubernetesObject[] {
  const rendered = template(values, namespace);
  if ("error" in rendered) throw new Error(`helm template failed: ${rendered.error}`);
  return rendered.objects;
}

/** The one rendered object of this kind (and name, when given); fails naming what is missing. */
export function findObject<T extends KubernetesObject>(
  objects: KubernetesObject[],
  kind: string,
  name?: string,
): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ""}, rendered ${found.length}`);
  }
  return found[0] as T;
}
