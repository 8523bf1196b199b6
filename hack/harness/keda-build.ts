// Builds KEDA's operator and metrics server (its adapter) from hack/keda/go.mod (see go-build.ts), once per KEDA
// version, into the cache beside the control plane, for the e2e test of spec.autoscaling.provider keda. Its
// CRDs come from the same module, in the Go module cache.
import { readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./cli.ts";
import { run } from "./commands.ts";
import { cacheDir, repoRoot } from "./dirs.ts";
import { type GoBuild, goBinaryName, goBuild, isBuilt, requiredVersion } from "./go-build.ts";

export const kedaModuleDir = join(repoRoot, "hack", "keda");
export const kedaModule = "github.com/kedacore/keda/v2";

/** Binary name → Go package path; both are `tool` lines in hack/keda/go.mod so go.sum covers them. */
const kedaPackages = {
  "keda-operator": `${kedaModule}/cmd/operator`,
  "keda-adapter": `${kedaModule}/cmd/adapter`,
} as const;

export type KedaBinaries = Record<keyof typeof kedaPackages, string>;

export function kedaVersion(): string {
  return requiredVersion(readFileSync(join(kedaModuleDir, "go.mod"), "utf8"), kedaModule);
}

/** Strip symbols, and stamp the release into KEDA's version package, which both binaries log at start. */
function kedaLdflags(version: string): string {
  return ["-s", "-w", `-X ${kedaModule}/version.Version=${version}`].join(" ");
}

function kedaBuild(version: string): GoBuild {
  const dir = join(cacheDir("keda"), version, "bin");
  return {
    moduleDir: kedaModuleDir,
    name: "keda",
    purpose: "KEDA's operator and metrics server",
    dir,
    binaries: Object.keys(kedaPackages).map((name) => join(dir, name)),
    shaping: [kedaLdflags(version), JSON.stringify(kedaPackages)],
  };
}

function paths(dir: string): KedaBinaries {
  return { "keda-operator": join(dir, "keda-operator"), "keda-adapter": join(dir, "keda-adapter") };
}

/** Paths of the built binaries, or a HarnessError telling how to build them. */
export function kedaBinaries(): KedaBinaries {
  const version = kedaVersion();
  const build = kedaBuild(version);
  if (!isBuilt(build)) {
    throw new HarnessError(
      `KEDA ${version} is not built in ${build.dir}: run 'node --import tsx hack/keda.ts build' (or hack/setup.sh keda)`,
    );
  }
  return paths(build.dir);
}

/** Builds both unless the cache already holds this exact build; returns their paths. */
export function buildKeda(log: (line: string) => void = console.error): KedaBinaries {
  const version = kedaVersion();
  const build = kedaBuild(version);
  if (isBuilt(build)) return paths(build.dir);
  goBuild(
    build,
    ["-ldflags", kedaLdflags(version), "-o", `${build.dir}/`, ...Object.values<string>(kedaPackages)],
    {
      announce: `building ${build.purpose} ${version} into ${build.dir} (cold: over an hour on 2 cores shared with other builds)`,
      log,
      finish: () => {
        // Both main packages are named by their directory ("operator", "adapter"): give them KEDA's names.
        for (const [name, pkg] of Object.entries<string>(kedaPackages)) {
          renameSync(join(build.dir, goBinaryName(pkg)), join(build.dir, name));
        }
      },
    },
  );
  return paths(build.dir);
}

/** KEDA's CRDs (config/crd/bases) in the Go module cache, for the module version go.mod pins. */
export function kedaCrdDir(): string {
  const moduleDir = run("go", ["list", "-m", "-f", "{{.Dir}}", kedaModule], {
    cwd: kedaModuleDir,
    env: { ...process.env, GOTOOLCHAIN: "local" },
  }).trim();
  if (moduleDir === "")
    throw new HarnessError(`${kedaModule} is not in the Go module cache: build KEDA first`);
  return join(moduleDir, "config", "crd", "bases");
}
