// Builds Go programs pinned by a go.mod of this repository (hack/k8s, hack/helm) with the machine's Go, into the
// cache outside git. No release download: the module proxy is the one source we can reach, and go.sum pins
// exactly what is compiled. A stamp of go.mod, go.sum and whatever else shapes the build (flags, packages)
// makes a second build a no-op and a changed pin a rebuild.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { HarnessError } from "./cli.ts";
import { requireCommand, run } from "./commands.ts";
import { repoRoot } from "./dirs.ts";

export interface GoBuild {
  /** The directory of the go.mod that pins what is built. */
  moduleDir: string;
  /** What its progress lines start with ("cluster", "helm"). */
  name: string;
  /** What the build makes, for a person ("the control plane", "helm"). */
  purpose: string;
  /** Where the binaries go, with the stamp beside them. */
  dir: string;
  /** Every binary the build leaves in `dir`. */
  binaries: string[];
  /** What shapes the binaries besides go.mod and go.sum (flags, package lists); part of the stamp. */
  shaping: string[];
}

/** The version go.mod requires for a module, e.g. "v1.37.2" for k8s.io/kubernetes. */
export function requiredVersion(goMod: string, module: string): string {
  const escaped = module.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  const match = new RegExp(`^\\s*(?:require\\s+)?${escaped}\\s+(v\\S+)`, "m").exec(goMod);
  if (!match?.[1]) throw new HarnessError(`go.mod does not require ${module}`);
  return match[1];
}

/** The `go` directive of a go.mod, e.g. "1.26.0". */
export function goDirective(goMod: string): string {
  const match = /^go\s+(\d+(?:\.\d+)*)\s*$/m.exec(goMod);
  if (!match?.[1]) throw new HarnessError("go.mod has no go directive");
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

/** The file name `go build -o dir/` gives a main package: its last path element, skipping a /vN suffix. */
export function goBinaryName(pkg: string): string {
  const parts = pkg.split("/");
  const last = parts.at(-1) ?? pkg;
  return /^v\d+$/.test(last) && parts.length > 1 ? (parts.at(-2) ?? last) : last;
}

/** True when `build.dir` holds every binary and the stamp of this exact build. */
export function isBuilt(build: GoBuild): boolean {
  const stampFile = join(build.dir, ".stamp");
  return (
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8").trim() === stampOf(build) &&
    build.binaries.every((file) => existsSync(file))
  );
}

/**
 * Runs `go build` with `args` in the module's directory, once the machine's Go is known new enough for its
 * go.mod, announcing it first (it takes minutes); `finish` (renames, say) runs before the stamp is written, so
 * an interrupted build is built again. CGO off: no C toolchain needed and static binaries; -trimpath keeps build
 * paths out; GOTOOLCHAIN=local fails clearly instead of fetching another Go.
 */
export function goBuild(
  build: GoBuild,
  args: string[],
  {
    announce,
    log,
    finish = () => {},
  }: { announce: string; log: (line: string) => void; finish?: () => void },
): void {
  const goModFile = join(build.moduleDir, "go.mod");
  const named = relative(repoRoot, goModFile);
  const go = requireCommand("go", `install Go (see ${named} for the version); it builds ${build.purpose}`);
  const needed = goDirective(readFileSync(goModFile, "utf8"));
  const goVersion = run(go, ["env", "GOVERSION"]).trim().replace(/^go/, "");
  if (!versionAtLeast(goVersion, needed)) {
    throw new HarnessError(`Go ${goVersion} is too old: ${named} needs Go ${needed} or newer`);
  }
  mkdirSync(build.dir, { recursive: true });
  log(`${build.name}: ${announce}`);
  const started = Date.now();
  // Niced: a cold build takes minutes of both cores, and tests or other work may share the machine.
  run("nice", ["-n", "10", go, "build", "-trimpath", ...args], {
    cwd: build.moduleDir,
    env: { ...process.env, CGO_ENABLED: "0", GOTOOLCHAIN: "local" },
  });
  finish();
  writeFileSync(join(build.dir, ".stamp"), `${stampOf(build)}\n`);
  log(`${build.name}: built in ${Math.round((Date.now() - started) / 1000)}s`);
}

function stampOf(build: GoBuild): string {
  const hash = createHash("sha256");
  for (const file of ["go.mod", "go.sum"]) hash.update(readFileSync(join(build.moduleDir, file)));
  for (const part of build.shaping) hash.update(part);
  return hash.digest("hex");
}
