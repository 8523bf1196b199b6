import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";
import { builtInModelDir } from "../../../worker/src/config.ts";
import { FetchModelError, fetchModel, modelArchiveFiles } from "../../../worker/src/model/fetch-model.ts";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../../../worker/src/model/fetch-model.ts", import.meta.url));

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("fetch-model", () => {
  let work: string;
  let archives: Record<string, Buffer>;
  let server: Server;
  let base: string;
  const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "fetch-model-test-"));
    // The worker's own model as an archive with the files at its top level; and one missing a file.
    await run("tar", ["-czf", join(work, "model.tar.gz"), "-C", builtInModelDir, ...modelArchiveFiles]);
    await run("tar", [
      "-czf",
      join(work, "partial.tar.gz"),
      "-C",
      builtInModelDir,
      "model.onnx",
      "config.json",
    ]);
    archives = {
      "/model.tar.gz": await readFile(join(work, "model.tar.gz")),
      "/partial.tar.gz": await readFile(join(work, "partial.tar.gz")),
      "/not-gzip.tar.gz": Buffer.from("this is not an archive\n"),
    };
    server = createServer((request, response) => {
      const body = archives[request.url ?? ""];
      if (body === undefined) response.writeHead(404).end("no such archive\n");
      else response.writeHead(200, { "content-type": "application/gzip" }).end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.close();
    await rm(work, { recursive: true, force: true });
  });

  async function target(): Promise<string> {
    return mkdtemp(join(work, "target-"));
  }

  function archiveDigest(path: string): string {
    const body = archives[path];
    if (body === undefined) throw new Error(`no archive ${path}`);
    return sha256(body);
  }

  it("downloads, verifies and unpacks the model, leaving only its files", async () => {
    const dir = await target();
    await fetchModel(`${base}/model.tar.gz`, archiveDigest("/model.tar.gz"), dir, { allowHttp: true });
    expect((await readdir(dir)).sort()).to.deep.equal([...modelArchiveFiles].sort());
    for (const file of modelArchiveFiles) {
      const [fetched, original] = await Promise.all([
        readFile(join(dir, file)),
        readFile(join(builtInModelDir, file)),
      ]);
      expect(fetched.equals(original), file).to.equal(true);
    }
  });

  it("refuses an archive whose digest differs, naming both digests, and unpacks nothing", async () => {
    const dir = await target();
    const wrong = "0".repeat(64);
    const error = await rejection(fetchModel(`${base}/model.tar.gz`, wrong, dir, { allowHttp: true }));
    expect(error).to.be.instanceOf(FetchModelError);
    expect(error.message)
      .to.include(`expected ${wrong}`)
      .and.include(`got ${archiveDigest("/model.tar.gz")}`);
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it("names the HTTP status of a failed download", async () => {
    const error = await rejection(
      fetchModel(`${base}/missing.tar.gz`, "0".repeat(64), await target(), { allowHttp: true }),
    );
    expect(error.message).to.include("missing.tar.gz").and.include("HTTP 404");
  });

  it("names the unreachable server", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/model.tar.gz`;
    await new Promise((resolve) => closed.close(resolve));
    const error = await rejection(fetchModel(url, "0".repeat(64), await target(), { allowHttp: true }));
    expect(error.message).to.include(`cannot download ${url}`).and.include("ECONNREFUSED");
  });

  it("names the files an archive lacks", async () => {
    const error = await rejection(
      fetchModel(`${base}/partial.tar.gz`, archiveDigest("/partial.tar.gz"), await target(), {
        allowHttp: true,
      }),
    );
    expect(error.message).to.include("lacks tokenizer.json, tokenizer_config.json");
  });

  it("reports what tar says about a file that is not an archive", async () => {
    const dir = await target();
    const error = await rejection(
      fetchModel(`${base}/not-gzip.tar.gz`, archiveDigest("/not-gzip.tar.gz"), dir, { allowHttp: true }),
    );
    expect(error.message).to.match(/^tar could not unpack the archive \(exit \d+\): .+/);
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it("refuses http:// unless allowed, and a digest that is not one", async () => {
    const dir = await target();
    expect((await rejection(fetchModel(`${base}/model.tar.gz`, "0".repeat(64), dir))).message).to.equal(
      `'${base}/model.tar.gz' must be an https:// URL`,
    );
    expect((await rejection(fetchModel("https://example.invalid/m.tgz", "abc", dir))).message).to.include(
      "'abc' is not a SHA-256 digest",
    );
  });

  describe("CLI", () => {
    async function cli(...args: string[]): Promise<{ code: number; stderr: string }> {
      try {
        await run(process.execPath, ["--import", "tsx", script, ...args]);
        return { code: 0, stderr: "" };
      } catch (error) {
        const failed = error as { code: number; stderr: string };
        return { code: failed.code, stderr: failed.stderr };
      }
    }

    it("demands https and exits 1 with the reason", async () => {
      const result = await cli(`${base}/model.tar.gz`, archiveDigest("/model.tar.gz"), await target());
      expect(result.code).to.equal(1);
      expect(result.stderr).to.include(`fetch-model: '${base}/model.tar.gz' must be an https:// URL`);
    });

    it("exits 2 with its usage on wrong arguments", async () => {
      const result = await cli("https://example.invalid/m.tgz");
      expect(result.code).to.equal(2);
      expect(result.stderr).to.include("usage: fetch-model <https-url> <sha256> <target-dir>");
    });
  });
});
