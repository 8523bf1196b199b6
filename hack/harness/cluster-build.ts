// Builds the control-plane binaries from hack/k8s/go.mod (see go-build.ts), once per Kubernetes version:
// kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, etcd from the etcd
// server module that release depends on, and kwok; and, apart, the real node's kubelet and kube-proxy from the
// same k8s.io/kubernetes, so a cluster without a real node never waits for them.
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { cacheDir, repoRoot } from "./dirs.ts";
import { type GoBuild, goBinaryName, goBuild, isBuilt, requiredVersion } from "./go-build.ts";

export const goModuleDir = join(repoRoot, "hack", "k8s");

/** Binary name → Go package path; all are `tool` lines in hack/k8s/go.mod so go.sum covers them. */
export const clusterPackages = {
  "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
  "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
  // Without a scheduler no pod gets a node, and kwok only runs pods bound to its node.
  "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
  kubectl: "k8s.io/kubernetes/cmd/kubectl",
  etcd: "go.etcd.io/etcd/server/v3",
  kwok: "sigs.k8s.io/kwok/cmd/kwok",
} as const;

export type ClusterBinary = keyof typeof clusterPackages;
export type ClusterBinaries = Record<ClusterBinary, string>;

/** The real node's binaries: also `tool` lines in hack/k8s/go.mod. */
export const nodePackages = {
  kubelet: "k8s.io/kubernetes/cmd/kubelet",
  "kube-proxy": "k8s.io/kubernetes/cmd/kube-proxy",
} as const;

export type NodeBinaries = Record<keyof typeof nodePackages, string>;

/**
 * Linker flags: strip symbols (half the size) and stamp the release into both version packages, so that
 * `kubectl version` and the apiserver's /version report it instead of v0.0.0-master. The build date is
 * left out of the cache stamp so it does not force rebuilds.
 */
export function versionLdflags(gitVersion: string, buildDate: string): string {
  const [major, minor] = gitVersion.replace(/^v/, "").split(".");
  const flags = ["-s", "-w"];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]) {
    flags.push(
      `-X ${pkg}.gitVersion=${gitVersion}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
      `-X ${pkg}.gitTreeState=clean`,
      `-X ${pkg}.buildDate=${buildDate}`,
    );
  }
  return flags.join(" ");
}

export function kubernetesVersion(): string {
  return requiredVersion(readFileSync(join(goModuleDir, "go.mod"), "utf8"), "k8s.io/kubernetes");
}

/** One set of binaries built together, with a stamp of its own in its own directory. */
interface BinarySet<Name extends string> {
  name: string;
  purpose: string;
  /** The directory under the version's cache directory. */
  subdir: string;
  packages: Record<Name, string>;
  /** How long a cold build takes, for the announcement. */
  cold: string;
  /** The setup command that builds it. */
  buildCommand: string;
}

const controlPlane: BinarySet<ClusterBinary> = {
  name: "cluster",
  purpose: "the control-plane binaries",
  subdir: "bin",
  packages: clusterPackages,
  cold: "about 14 CPU-minutes, 7 minutes on 2 idle cores",
  buildCommand: "node --import tsx hack/cluster.ts build' (or hack/setup.sh cluster)",
};

const realNode: BinarySet<keyof typeof nodePackages> = {
  name: "cluster",
  purpose: "the real node's kubelet and kube-proxy",
  subdir: "node-bin",
  packages: nodePackages,
  cold: "about 2 minutes more once the control plane is built",
  buildCommand: "node --import tsx hack/cluster.ts build --real-node' (or hack/setup.sh real-node)",
};

export function binDir(version = kubernetesVersion()): string {
  return join(cacheDir("k8s"), version, controlPlane.subdir);
}

function binaryPaths<Name extends string>(set: BinarySet<Name>, dir: string): Record<Name, string> {
  const paths = {} as Record<Name, string>;
  for (const name of Object.keys(set.packages) as Name[]) paths[name] = join(dir, name);
  return paths;
}

function goBuildOf<Name extends string>(set: BinarySet<Name>, version: string): GoBuild {
  const dir = join(cacheDir("k8s"), version, set.subdir);
  return {
    moduleDir: goModuleDir,
    name: set.name,
    purpose: set.purpose,
    dir,
    binaries: Object.values<string>(binaryPaths(set, dir)),
    shaping: [versionLdflags(version, ""), JSON.stringify(set.packages)],
  };
}

/** Paths of a built set, or a HarnessError telling how to build it. */
function builtBinaries<Name extends string>(set: BinarySet<Name>): Record<Name, string> {
  const version = kubernetesVersion();
  const build = goBuildOf(set, version);
  if (!isBuilt(build)) {
    throw new HarnessError(
      `${set.purpose} for ${version} are not built in ${build.dir}: run '${set.buildCommand}`,
    );
  }
  return binaryPaths(set, build.dir);
}

/** Builds a set unless the cache already holds this exact build; returns their paths. */
function buildBinaries<Name extends string>(
  set: BinarySet<Name>,
  log: (line: string) => void,
): Record<Name, string> {
  const version = kubernetesVersion();
  const build = goBuildOf(set, version);
  const { dir } = build;
  if (isBuilt(build)) return binaryPaths(set, dir);
  const buildDate = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  // One `go build` for all packages so the shared dependencies compile once and in parallel.
  goBuild(
    build,
    ["-ldflags", versionLdflags(version, buildDate), "-o", `${dir}/`, ...Object.values<string>(set.packages)],
    {
      announce: `building ${set.purpose} (Kubernetes ${version}) into ${dir} (cold: ${set.cold})`,
      log,
      finish: () => {
        // go.etcd.io/etcd/server/v3 comes out as "server": give every binary the name the harness uses.
        for (const [name, pkg] of Object.entries<string>(set.packages)) {
          if (goBinaryName(pkg) !== name) renameSync(join(dir, goBinaryName(pkg)), join(dir, name));
        }
      },
    },
  );
  return binaryPaths(set, dir);
}

/** Paths of the built control-plane binaries, or a HarnessError telling how to build them. */
export function clusterBinaries(): ClusterBinaries {
  return builtBinaries(controlPlane);
}

/** Builds the control-plane binaries unless the cache already holds this exact build; returns their paths. */
export function buildClusterBinaries(log: (line: string) => void = console.error): ClusterBinaries {
  return buildBinaries(controlPlane, log);
}

/** Builds the real node's kubelet and kube-proxy unless already built; returns their paths. */
export function buildNodeBinaries(log: (line: string) => void = console.error): NodeBinaries {
  return buildBinaries(realNode, log);
}

/** Paths of the real node's binaries when built, else undefined (a `down` with nothing of the node to undo). */
export function builtNodeBinaries(): NodeBinaries | undefined {
  const build = goBuildOf(realNode, kubernetesVersion());
  return isBuilt(build) ? binaryPaths(realNode, build.dir) : undefined;
}
