// Builds helm from hack/helm/go.mod (see go-build.ts), once per helm version, into the cache beside the
// control-plane binaries.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { cacheDir, repoRoot } from "./dirs.ts";
import { type GoBuild, goBuild, isBuilt, requiredVersion } from "./go-build.ts";

export const helmModuleDir = join(repoRoot, "hack", "helm");
export const helmModule = "helm.sh/helm/v4";
const helmPackage = `${helmModule}/cmd/helm`;

export function helmVersion(): string {
  return requiredVersion(readFileSync(join(helmModuleDir, "go.mod"), "utf8"), helmModule);
}

/**
 * Strip symbols, and stamp the release into helm's version package as its Makefile does, so `helm version`
 * and the chart's `.Capabilities.HelmVersion` say v4.x.y instead of the bare "v4.3" compiled into the source.
 * The proxy does not tell the release's commit, so gitCommit stays empty.
 */
export function helmLdflags(version: string): string {
  const pkg = `${helmModule}/internal/version`;
  return ["-s", "-w", `-X ${pkg}.version=${version}`, `-X ${pkg}.gitTreeState=clean`].join(" ");
}

export function helmBinDir(version = helmVersion()): string {
  return join(cacheDir("helm"), version, "bin");
}

function helmBuild(version = helmVersion()): GoBuild {
  const dir = helmBinDir(version);
  return {
    moduleDir: helmModuleDir,
    name: "helm",
    purpose: "helm",
    dir,
    binaries: [join(dir, "helm")],
    shaping: [helmLdflags(version)],
  };
}

/** Path of the built helm, or a HarnessError telling how to build it. */
export function helmBinary(): string {
  const build = helmBuild();
  if (!isBuilt(build)) {
    throw new HarnessError(
      `helm ${helmVersion()} is not built in ${build.dir}: run 'node --import tsx hack/helm.ts build' (or hack/setup.sh helm)`,
    );
  }
  return join(build.dir, "helm");
}

/** Builds helm unless the cache already holds this exact build; returns its path. */
export function buildHelm(log: (line: string) => void = console.error): string {
  const version = helmVersion();
  const build = helmBuild(version);
  const helm = join(build.dir, "helm");
  if (isBuilt(build)) return helm;
  goBuild(build, ["-ldflags", helmLdflags(version), "-o", helm, helmPackage], {
    announce: `building helm ${version} into ${build.dir} (cold: about 9 minutes on 2 busy cores, less when the control-plane build warmed the Go cache)`,
    log,
  });
  return helm;
}
