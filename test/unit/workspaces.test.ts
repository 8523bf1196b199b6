import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Package names in a workspace's production closure, as its image's `npm ci --omit=dev --workspace` installs. */
function productionPackages(workspace: string): Set<string> {
  const paths = execFileSync("npm", ["ls", "--omit=dev", "--workspace", workspace, "--all", "--parseable"], {
    cwd: root,
    encoding: "utf8",
  });
  return new Set(
    paths
      .split("\n")
      .filter((path) => path.includes("node_modules"))
      .map((path) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length)),
  );
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => join(entry.parentPath, entry.name));
}

/** The top-level folder each relative import of a file lands in. */
function importedFolders(file: string): string[] {
  const specifiers = [...readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)].map(
    (match) => match[1] ?? "",
  );
  return specifiers.map(
    (specifier) => relative(root, resolve(join(file, ".."), specifier)).split("/")[0] ?? "",
  );
}

describe("workspaces", () => {
  it("installs in the operator's image none of the worker's dependencies", function () {
    this.timeout(30_000);
    const packages = productionPackages("operator");
    // lz4-napi through common/: the kubectl plugin reads the LZ4 batches workers write.
    expect([...packages]).to.include.members(["@kubernetes/client-node", "kafkajs", "winston", "lz4-napi"]);
    for (const workerOnly of ["onnxruntime-node", "@huggingface/tokenizers"]) {
      expect([...packages]).to.not.include(workerOnly);
    }
  });

  it("installs in the worker's image none of the operator's dependencies", function () {
    this.timeout(30_000);
    const packages = productionPackages("worker");
    expect([...packages]).to.include.members([
      "onnxruntime-node",
      "@huggingface/tokenizers",
      "kafkajs",
      "winston",
    ]);
    expect([...packages]).to.not.include("@kubernetes/client-node");
  });

  // The images copy only their own folder and common/: an import across would fail at run time in the image.
  const allowed: Record<string, string[]> = {
    common: ["common"],
    operator: ["operator", "common"],
    worker: ["worker", "common"],
  };
  for (const [workspace, folders] of Object.entries(allowed)) {
    it(`keeps ${workspace}/ importing only from ${folders.join(" and ")}`, () => {
      const crossings = sourceFiles(join(root, workspace, "src")).flatMap((file) =>
        importedFolders(file)
          .filter((folder) => !folders.includes(folder))
          .map((folder) => `${relative(root, file)} imports from ${folder}/`),
      );
      expect(crossings).to.deep.equal([]);
    });
  }
});
