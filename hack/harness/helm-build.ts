// Builds helm from hack/helm/go.mod with the machine's Go, once per helm version, into the cache (outside git)
// beside the control-plane binaries. No release download: the module proxy is the one source we can reach, and
// go.sum pins exactly what is compiled. A stamp of go.mod, go.sum and the flags makes a second build a no-op.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { goDirective, requiredVersion, versionAtLeast } from "./cluster-build.ts";
import { requireCommand, run } from "./commands.ts";
import { cacheDir, repoRoot } from "./dirs.ts";

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

function buildStamp(version: string): string {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(helmModuleDir, file)));
  hash.update(helmLdflags(version));
  return hash.digest("hex");
}

function isBuilt(dir: string, version: string): boolean {
  const stampFile = join(dir, ".stamp");
  return (
    existsSync(join(dir, "helm")) &&
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8").trim() === buildStamp(version)
  );
}

/** Path of the built helm, or a HarnessError telling how to build it. */
export function helmBinary(): string {
  const version = helmVersion();
  const dir = helmBinDir(version);
  if (!isBuilt(dir, version)) {
    throw new HarnessError(
      `helm ${version} is not built in ${dir}: run 'node --import tsx hack/helm.ts build' (or hack/setup.sh cluster)`,
    );
  }
  return join(dir, "helm");
}

/** Builds helm unless the cache already holds this exact build; returns its path. */
export function buildHelm(log: (line: string) => void = console.error): string {
  const version = helmVersion();
  const dir = helmBinDir(version);
  if (isBuilt(dir, version)) return join(dir, "helm");

  const go = requireCommand("go", "install Go (see hack/helm/go.mod for the version); it builds helm");
  const goMod = readFileSync(join(helmModuleDir, "go.mod"), "utf8");
  const goVersion = run(go, ["env", "GOVERSION"]).trim().replace(/^go/, "");
  if (!versionAtLeast(goVersion, goDirective(goMod))) {
    throw new HarnessError(
      `Go ${goVersion} is too old: hack/helm/go.mod needs Go ${goDirective(goMod)} or newer`,
    );
  }
  mkdirSync(dir, { recursive: true });
  log(
    `helm: building helm ${version} into ${dir} (cold: about 9 minutes on 2 busy cores, less when the control-plane build warmed the Go cache)`,
  );
  const started = Date.now();
  // Same choices as the control-plane build: static (CGO off), no build paths, never fetch another Go.
  run(go, ["build", "-trimpath", "-ldflags", helmLdflags(version), "-o", join(dir, "helm"), helmPackage], {
    cwd: helmModuleDir,
    env: { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local" },
  });
  writeFileSync(join(dir, ".stamp"), `${buildStamp(version)}\n`);
  log(`helm: built in ${Math.round((Date.now() - started) / 1000)}s`);
  return join(dir, "helm");
}
