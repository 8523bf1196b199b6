// fetch-model as the init container runs it: the CLI against a local HTTPS server whose certificate a test CA
// signs, which the child process trusts through NODE_EXTRA_CA_CERTS as the operator's init container does
// (spec.model.source.url.caSecretRef) — or does not.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { expect } from "chai";
import { builtInModelDir } from "../../../worker/src/config.ts";
import { makeTestPki, type TestPki } from "../../support/kafka-security.ts";

const run = promisify(execFile);
const script = fileURLToPath(new URL("../../../worker/src/model/fetch-model.ts", import.meta.url));
const modelFiles = ["config.json", "model.onnx", "tokenizer.json", "tokenizer_config.json"];

describe("fetch-model", function () {
  // Each case starts a Node process under tsx.
  this.timeout(30_000);
  let work: string;
  let archives: Record<string, Buffer>;
  let server: Server;
  let base: string;
  let pki: TestPki;
  const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

  before(async () => {
    work = await mkdtemp(join(tmpdir(), "fetch-model-test-"));
    // A private CA and a leaf for IP:127.0.0.1 it signs; and a second CA that signs nothing here.
    pki = makeTestPki(join(work, "pki"));
    // The worker's own model as an archive with the files at its top level; and one missing a file.
    await run("tar", ["-czf", join(work, "model.tar.gz"), "-C", builtInModelDir, ...modelFiles]);
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
    server = createServer(
      { key: await readFile(pki.serverKey), cert: await readFile(pki.serverCert) },
      (request, response) => {
        const body = archives[request.url ?? ""];
        if (body === undefined) response.writeHead(404).end("no such archive\n");
        else response.writeHead(200, { "content-type": "application/gzip" }).end(body);
      },
    );
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
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

  /**
   * Runs the CLI with `caFile` as NODE_EXTRA_CA_CERTS (none: the public roots alone): its exit code and what it
   * wrote to stderr.
   */
  async function fetchModelTrusting(
    caFile: string | undefined,
    ...args: string[]
  ): Promise<{ code: number; stderr: string }> {
    const { NODE_EXTRA_CA_CERTS: _inherited, ...env } = process.env;
    try {
      await run(process.execPath, ["--import", "tsx", script, ...args], {
        env: caFile === undefined ? env : { ...env, NODE_EXTRA_CA_CERTS: caFile },
      });
      return { code: 0, stderr: "" };
    } catch (error) {
      const failed = error as { code: number; stderr: string };
      return { code: failed.code, stderr: failed.stderr };
    }
  }

  /** Runs the CLI trusting the test CA, as a pipeline whose caSecretRef names it. */
  function fetchModel(...args: string[]): Promise<{ code: number; stderr: string }> {
    return fetchModelTrusting(pki.caCert, ...args);
  }

  it("downloads, verifies and unpacks the model, leaving only its files", async () => {
    const dir = await target();
    const result = await fetchModel(`${base}/model.tar.gz`, archiveDigest("/model.tar.gz"), dir);
    expect(result).to.deep.equal({ code: 0, stderr: "" });
    expect((await readdir(dir)).sort()).to.deep.equal(modelFiles);
    for (const file of modelFiles) {
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
    const result = await fetchModel(`${base}/model.tar.gz`, wrong, dir);
    expect(result.code).to.equal(1);
    expect(result.stderr)
      .to.include(`expected ${wrong}`)
      .and.include(`got ${archiveDigest("/model.tar.gz")}`);
    expect(await readdir(dir)).to.deep.equal([]);
  });

  describe("the server's certificate", () => {
    it("is not trusted without the CA that signs it: says so, hints at caSecretRef, and unpacks nothing", async () => {
      const dir = await target();
      const url = `${base}/model.tar.gz`;
      const result = await fetchModelTrusting(undefined, url, archiveDigest("/model.tar.gz"), dir);
      expect(result.code).to.equal(1);
      expect(result.stderr)
        .to.include(`fetch-model: cannot download ${url}: the server's certificate was not trusted`)
        .and.include("none of Node's public root CAs issued it")
        .and.include("spec.model.source.url.caSecretRef");
      expect(await readdir(dir)).to.deep.equal([]);
    });

    it("is not trusted with a CA that did not sign it, naming that CA's file", async () => {
      const dir = await target();
      const result = await fetchModelTrusting(
        pki.otherCaCert,
        `${base}/model.tar.gz`,
        archiveDigest("/model.tar.gz"),
        dir,
      );
      expect(result.code).to.equal(1);
      expect(result.stderr)
        .to.include("the server's certificate was not trusted")
        .and.include(`nor the CA in ${pki.otherCaCert} issued it`)
        .and.include("spec.model.source.url.caSecretRef");
      expect(await readdir(dir)).to.deep.equal([]);
    });
  });

  describe("a CA file it cannot use", () => {
    it("refuses one it cannot read, naming it, before making the target directory", async () => {
      const missing = join(work, "no-such-ca.crt");
      const dir = join(work, "never-made");
      const result = await fetchModelTrusting(
        missing,
        `${base}/model.tar.gz`,
        archiveDigest("/model.tar.gz"),
        dir,
      );
      expect(result.code).to.equal(1);
      expect(result.stderr)
        .to.include(`fetch-model: cannot read the CA file ${missing} (NODE_EXTRA_CA_CERTS`)
        .and.include("ENOENT");
      expect(existsSync(dir)).to.equal(false);
    });

    it("refuses one that holds no PEM certificate, naming it", async () => {
      const notPem = join(work, "not-a-ca.crt");
      await writeFile(notPem, "ca.crt was expected here\n");
      const result = await fetchModelTrusting(
        notPem,
        `${base}/model.tar.gz`,
        archiveDigest("/model.tar.gz"),
        await target(),
      );
      expect(result.code).to.equal(1);
      expect(result.stderr)
        .to.include(`fetch-model: the CA file ${notPem} (NODE_EXTRA_CA_CERTS`)
        .and.include("holds no PEM certificate");
    });
  });

  it("names the HTTP status of a failed download", async () => {
    const result = await fetchModel(`${base}/missing.tar.gz`, "0".repeat(64), await target());
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include("missing.tar.gz").and.include("HTTP 404");
  });

  it("names the unreachable server", async () => {
    const closed = createHttpServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const url = `https://127.0.0.1:${(closed.address() as AddressInfo).port}/model.tar.gz`;
    await new Promise((resolve) => closed.close(resolve));
    const result = await fetchModel(url, "0".repeat(64), await target());
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include(`cannot download ${url}`).and.include("ECONNREFUSED");
  });

  it("names the files an archive lacks", async () => {
    const result = await fetchModel(
      `${base}/partial.tar.gz`,
      archiveDigest("/partial.tar.gz"),
      await target(),
    );
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include("lacks tokenizer.json, tokenizer_config.json");
  });

  it("reports what tar says about a file that is not an archive, on one line", async () => {
    const dir = await target();
    const result = await fetchModel(`${base}/not-gzip.tar.gz`, archiveDigest("/not-gzip.tar.gz"), dir);
    expect(result.code).to.equal(1);
    // The last line of the init container's log is its termination message's reason (pod-failures.ts): it must
    // hold what tar said first (the cause), not only tar's closing "exiting now".
    expect(result.stderr.trimEnd()).to.match(
      /^fetch-model: tar could not unpack the archive \(exit \d+\): [^\n]+$/,
    );
    expect(result.stderr).to.include("not in gzip format");
    expect(await readdir(dir)).to.deep.equal([]);
  });

  it("refuses http:// and a digest that is not one, exiting 1 with the reason", async () => {
    const dir = await target();
    const http = "http://127.0.0.1:1/model.tar.gz";
    const plain = await fetchModel(http, "0".repeat(64), dir);
    expect(plain.code).to.equal(1);
    expect(plain.stderr).to.include(`fetch-model: '${http}' must be an https:// URL`);
    const digest = await fetchModel(`${base}/model.tar.gz`, "abc", dir);
    expect(digest.code).to.equal(1);
    expect(digest.stderr).to.include("'abc' is not a SHA-256 digest");
  });

  it("exits 2 with its usage on wrong arguments", async () => {
    const result = await fetchModel("https://example.invalid/m.tgz");
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include("usage: fetch-model <https-url> <sha256> <target-dir>");
  });
});
