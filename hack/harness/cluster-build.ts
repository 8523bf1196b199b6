// Builds the control-plane binaries from hack/k8s/go.mod with the machine's Go, once per Kubernetes version:
// kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from k8s.io/kubernetes, etcd from the etcd server module
// that release depends on, and kwok. They land in the cache (outside git); a stamp of go.mod, go.sum and the
// build flags makes a second build a no-op and a changed pin a rebuild.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { requireCommand, run } from "./commands.ts";
import { cacheDir, repoRoot } from "./dirs.ts";

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

/** The version go.mod requires for a module, e.g. "v1.37.2" for k8s.io/kubernetes. */
export function requiredVersion(goMod: string, module: string): string {
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(goMod);
  if (!match?.[1]) throw new HarnessError(`hack/k8s/go.mod does not require ${module}`);
  return match[1];
}

/** The `go` directive of a go.mod, e.g. "1.26.0". */
export function goDirective(goMod: string): string {
  const match = /^go\s+(\d+(?:\.\d+)*)\s*$/m.exec(goMod);
  if (!match?.[1]) throw new HarnessError("hack/k8s/go.mod has no go directive");
  return match[1];
}

/** True when dotted version a >= b (missing parts count as 0). */
export function versionAtLeast(a: string, b: string): boolean {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

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

/** The file name `go build -o dir/` gives a main package: its last path element, skipping a /vN suffix. */
export function goBinaryName(pkg: string): string {
  const parts = pkg.split("/");
  const last = parts.at(-1) ?? pkg;
  return /^v\d+$/.test(last) && parts.length > 1 ? (parts.at(-2) ?? last) : last;
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

function buildStamp(): string {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(goModuleDir, file)));
  hash.update(versionLdflags(kubernetesVersion(), ""));
  hash.update(JSON.stringify(clusterPackages));
  return hash.digest("hex");
}

function isBuilt(dir: string): boolean {
  const stampFile = join(dir, ".stamp");
  return (
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8").trim() === buildStamp() &&
    Object.values(binaryPaths(dir)).every((file) => existsSync(file))
  );
}

/** Paths of the built binaries, or a HarnessError telling how to build them. */
export function clusterBinaries(): ClusterBinaries {
  const dir = binDir();
  if (!isBuilt(dir)) {
    throw new HarnessError(
      `the control-plane binaries for ${kubernetesVersion()} are not built in ${dir}: run 'node --import tsx hack/cluster.ts build' (or hack/setup.sh cluster)`,
    );
  }
  return binaryPaths(dir);
}

/** Builds every binary unless the cache already holds this exact build; returns their paths. */
export function buildClusterBinaries(log: (line: string) => void = console.error): ClusterBinaries {
  const version = kubernetesVersion();
  const dir = binDir(version);
  if (isBuilt(dir)) return binaryPaths(dir);

  const go = requireCommand(
    "go",
    "install Go (see hack/k8s/go.mod for the version); it builds the control plane",
  );
  const goMod = readFileSync(join(goModuleDir, "go.mod"), "utf8");
  const goVersion = run(go, ["env", "GOVERSION"]).trim().replace(/^go/, "");
  if (!versionAtLeast(goVersion, goDirective(goMod))) {
    throw new HarnessError(
      `Go ${goVersion} is too old: hack/k8s/go.mod needs Go ${goDirective(goMod)} or newer`,
    );
  }

  mkdirSync(dir, { recursive: true });
  log(
    `cluster: building Kubernetes ${version} binaries into ${dir} (cold: about 14 CPU-minutes, 7 minutes on 2 idle cores)`,
  );
  const started = Date.now();
  const buildDate = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  // One `go build` for all packages so the shared dependencies compile once and in parallel. CGO off: no C
  // toolchain needed and static binaries; -trimpath keeps build paths out; GOTOOLCHAIN=local fails clearly
  // instead of fetching another Go.
  run(
    go,
    [
      "build",
      "-trimpath",
      "-ldflags",
      versionLdflags(version, buildDate),
      "-o",
      `${dir}/`,
      ...Object.values(clusterPackages),
    ],
    { cwd: goModuleDir, env: { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local" } },
  );
  // go.etcd.io/etcd/server/v3 comes out as "server": give every binary the name the harness uses.
  for (const [name, pkg] of Object.entries(clusterPackages)) {
    if (goBinaryName(pkg) !== name) renameSync(join(dir, goBinaryName(pkg)), join(dir, name));
  }
  writeFileSync(join(dir, ".stamp"), `${buildStamp()}\n`);
  log(`cluster: built in ${Math.round((Date.now() - started) / 1000)}s`);
  return binaryPaths(dir);
}
