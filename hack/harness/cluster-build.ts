// Builds the control-plane binaries from hack/k8s/go.mod (see go-build.ts), once per Kubernetes version:
// kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, etcd from the etcd
// server module that release depends on, and kwok.
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

export function binDir(version = kubernetesVersion()): string {
  return join(cacheDir("k8s"), version, "bin");
}

function binaryPaths(dir: string): ClusterBinaries {
  const paths = {} as ClusterBinaries;
  for (const name of Object.keys(clusterPackages) as ClusterBinary[]) paths[name] = join(dir, name);
  return paths;
}

function clusterBuild(version = kubernetesVersion()): GoBuild {
  const dir = binDir(version);
  return {
    moduleDir: goModuleDir,
    name: "cluster",
    purpose: "the control plane",
    dir,
    binaries: Object.values(binaryPaths(dir)),
    shaping: [versionLdflags(version, ""), JSON.stringify(clusterPackages)],
  };
}

/** Paths of the built binaries, or a HarnessError telling how to build them. */
export function clusterBinaries(): ClusterBinaries {
  const build = clusterBuild();
  if (!isBuilt(build)) {
    throw new HarnessError(
      `the control-plane binaries for ${kubernetesVersion()} are not built in ${build.dir}: run 'node --import tsx hack/cluster.ts build' (or hack/setup.sh cluster)`,
    );
  }
  return binaryPaths(build.dir);
}

/** Builds every binary unless the cache already holds this exact build; returns their paths. */
export function buildClusterBinaries(log: (line: string) => void = console.error): ClusterBinaries {
  const version = kubernetesVersion();
  const build = clusterBuild(version);
  const { dir } = build;
  if (isBuilt(build)) return binaryPaths(dir);
  const buildDate = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  // One `go build` for all packages so the shared dependencies compile once and in parallel.
  goBuild(
    build,
    ["-ldflags", versionLdflags(version, buildDate), "-o", `${dir}/`, ...Object.values(clusterPackages)],
    {
      announce: `building Kubernetes ${version} binaries into ${dir} (cold: about 14 CPU-minutes, 7 minutes on 2 idle cores)`,
      log,
      finish: () => {
        // go.etcd.io/etcd/server/v3 comes out as "server": give every binary the name the harness uses.
        for (const [name, pkg] of Object.entries(clusterPackages)) {
          if (goBinaryName(pkg) !== name) renameSync(join(dir, goBinaryName(pkg)), join(dir, name));
        }
      },
    },
  );
  return binaryPaths(dir);
}
