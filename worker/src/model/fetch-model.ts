// Fetches a model archive (.tar.gz) into a directory, for a pipeline whose spec.model.source is a URL: the
// operator runs this as the init container of every worker pod. The archive's SHA-256 is checked before any of
// it is unpacked, so a changed or truncated download never reaches the worker.
//
// CLI: node worker/src/model/fetch-model.js <https-url> <sha256> <target-dir>
// exits 0 with the model in <target-dir>, 1 with a message on any failure (one line, the last it prints: the
// pod's termination message ends with it), 2 on wrong usage.
//
// The server's certificate must chain to Node's public roots or to a CA in the file NODE_EXTRA_CA_CERTS names
// (the operator points it at the mounted spec.model.source.url.caSecretRef). Node reads that file at start for
// every TLS connection, fetch's included, but only warns when it cannot; so this refuses to go on without it.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { access, mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { CONFIG_FILE, MODEL_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from "./files.ts";

const modelArchiveFiles = [MODEL_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, CONFIG_FILE] as const;

class FetchModelError extends Error {
  override name = "FetchModelError";
}

/** A download that takes longer is given up, instead of hanging the pod. */
const downloadTimeoutMs = 600_000;

/** OpenSSL's verdicts that mean no CA the process trusts issued the server's certificate. */
const untrustedCertificateCodes = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
]);

const caField = "spec.model.source.url.caSecretRef";

function reason(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === "TimeoutError") return "timed out";
    // fetch reports network failures as "fetch failed" with the real error as the cause.
    return error.cause instanceof Error ? error.cause.message : error.message;
  }
  return String(error);
}

/** A failed download's message; an untrusted certificate says which CAs were tried and where to add one. */
function downloadFailure(url: URL, error: unknown, caFile: string | undefined): FetchModelError {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  if (cause === undefined || code === undefined || !untrustedCertificateCodes.has(code)) {
    return new FetchModelError(`cannot download ${url}: ${reason(error)}`);
  }
  const remedy =
    caFile === undefined
      ? `none of Node's public root CAs issued it; for a server with a private CA, name a Secret holding that CA in ${caField}`
      : `neither Node's public root CAs nor the CA in ${caFile} issued it; check that the Secret of ${caField} holds the CA that signs the server's certificate`;
  return new FetchModelError(
    `cannot download ${url}: the server's certificate was not trusted (${code}: ${cause.message}): ${remedy}`,
  );
}

/**
 * Refuses an extra CA file Node could not have loaded: it would only have warned, and the download would then
 * fail as untrusted without the cause.
 */
async function checkCaFile(caFile: string): Promise<void> {
  let pem: string;
  try {
    pem = await readFile(caFile, "utf8");
  } catch (error) {
    throw new FetchModelError(
      `cannot read the CA file ${caFile} (NODE_EXTRA_CA_CERTS, from ${caField}): ${reason(error)}`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new FetchModelError(
      `the CA file ${caFile} (NODE_EXTRA_CA_CERTS, from ${caField}) holds no PEM certificate`,
    );
  }
}

function checkedUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FetchModelError(`'${url}' is not a URL`);
  }
  if (parsed.protocol !== "https:") {
    throw new FetchModelError(`'${url}' must be an https:// URL`);
  }
  return parsed;
}

/** Streams the body to `file` and returns the SHA-256 (hex) of what was written. */
async function download(url: URL, file: string, caFile: string | undefined): Promise<string> {
  const hash = createHash("sha256");
  const handle = await open(file, "w");
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(downloadTimeoutMs) });
    if (!response.ok || response.body === null) {
      throw new FetchModelError(`cannot download ${url}: HTTP ${response.status} ${response.statusText}`);
    }
    for await (const chunk of response.body) {
      hash.update(chunk);
      await handle.write(chunk);
    }
  } catch (error) {
    if (error instanceof FetchModelError) throw error;
    throw downloadFailure(url, error, caFile);
  } finally {
    await handle.close();
  }
  return hash.digest("hex");
}

/**
 * tar's lines joined: the last line of the init container's log is its reason in the pipeline's status (tar's
 * own last line, "Error is not recoverable: exiting now", says nothing of the cause on its first).
 */
function oneLine(text: string): string {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .join("; ");
}

/** The system tar: no archive code of our own to get wrong; it strips leading "/" and "../" from members. */
function untar(archive: string, targetDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn("tar", ["-xzf", archive, "-C", targetDir, "--no-same-owner"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    tar.stderr.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
    });
    tar.on("error", (error) => reject(new FetchModelError(`cannot run tar: ${error.message}`)));
    tar.on("close", (code) => {
      if (code === 0) resolve();
      else reject(new FetchModelError(`tar could not unpack the archive (exit ${code}): ${oneLine(stderr)}`));
    });
  });
}

async function missingFiles(dir: string): Promise<string[]> {
  const present = await Promise.all(
    modelArchiveFiles.map((file) =>
      access(join(dir, file)).then(
        () => true,
        () => false,
      ),
    ),
  );
  return modelArchiveFiles.filter((_, index) => !present[index]);
}

/**
 * Downloads `url`, checks its SHA-256 against `sha256`, and unpacks it into `targetDir`, which must then hold
 * the model files at its top level. `caFile` is the extra CA file Node was started with, if any. Throws a
 * FetchModelError whose message says what failed.
 */
async function fetchModel(
  url: string,
  sha256: string,
  targetDir: string,
  caFile: string | undefined,
): Promise<void> {
  const source = checkedUrl(url);
  const expected = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(expected)) {
    throw new FetchModelError(`'${sha256}' is not a SHA-256 digest (64 hexadecimal digits)`);
  }
  if (caFile !== undefined) await checkCaFile(caFile);
  await mkdir(targetDir, { recursive: true });
  // Inside the target directory: in the pod it is the only writable volume besides a small /tmp.
  const archive = join(targetDir, `.fetch-model-${randomBytes(6).toString("hex")}.tar.gz`);
  try {
    const actual = await download(source, archive, caFile);
    if (actual !== expected) {
      throw new FetchModelError(
        `SHA-256 mismatch for ${url}: expected ${expected}, got ${actual}; the archive was not unpacked`,
      );
    }
    await untar(archive, targetDir);
  } finally {
    await rm(archive, { force: true });
  }
  const missing = await missingFiles(targetDir);
  if (missing.length > 0) {
    throw new FetchModelError(
      `the archive from ${url} lacks ${missing.join(", ")} at its top level (a model needs ${modelArchiveFiles.join(", ")})`,
    );
  }
}

async function main(args: string[]): Promise<number> {
  const [url, sha256, targetDir] = args;
  if (args.length !== 3 || url === undefined || sha256 === undefined || targetDir === undefined) {
    console.error("usage: fetch-model <https-url> <sha256> <target-dir>");
    return 2;
  }
  try {
    // Node ignores an empty NODE_EXTRA_CA_CERTS, and so does this.
    await fetchModel(url, sha256, targetDir, process.env.NODE_EXTRA_CA_CERTS || undefined);
    console.log(`fetch-model: ${url} (sha256 ${sha256}) unpacked into ${targetDir}`);
    return 0;
  } catch (error) {
    console.error(`fetch-model: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

// Run as a program (the init container), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
