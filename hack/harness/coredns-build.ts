// Builds CoreDNS from hack/coredns/go.mod (see go-build.ts), once per CoreDNS version, into the cache beside the
// control-plane binaries: the real node's DNS for Service names.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, repoRoot } from "./dirs.ts";
import { type GoBuild, goBuild, isBuilt, requiredVersion } from "./go-build.ts";

const corednsModuleDir = join(repoRoot, "hack", "coredns");
/** CoreDNS's main package is its module's root. */
const corednsModule = "github.com/coredns/coredns";
// CoreDNS states its version in a constant of its own source: stripping symbols is all the linker is told.
const corednsLdflags = "-s -w";

export function corednsVersion(): string {
  return requiredVersion(readFileSync(join(corednsModuleDir, "go.mod"), "utf8"), corednsModule);
}

function corednsBuild(version: string): GoBuild {
  const dir = join(cacheDir("coredns"), version, "bin");
  return {
    moduleDir: corednsModuleDir,
    name: "coredns",
    purpose: "CoreDNS",
    dir,
    binaries: [join(dir, "coredns")],
    shaping: [corednsLdflags],
  };
}

/** Builds CoreDNS unless the cache already holds this exact build; returns its path. */
export function buildCoredns(log: (line: string) => void = console.error): string {
  const version = corednsVersion();
  const build = corednsBuild(version);
  const coredns = join(build.dir, "coredns");
  if (isBuilt(build)) return coredns;
  goBuild(build, ["-ldflags", corednsLdflags, "-o", coredns, corednsModule], {
    announce: `building CoreDNS ${version} into ${build.dir} (cold: a few minutes on 2 busy cores)`,
    log,
  });
  return coredns;
}
