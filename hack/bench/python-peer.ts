// The Python peer (python-peer/peer.py: confluent-kafka + onnxruntime + tokenizers, batched as the seed would
// write it): its venv under the cache, its throughput on the bench's requests into a sink of its own, and
// whether its labels equal the worker's.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Admin, Kafka } from "kafkajs";
import type { WorkerConfig } from "../../worker/src/config.ts";
import { loadClassifier } from "../../worker/src/model/classifier.ts";
import { HarnessError } from "../harness/cli.ts";
import { run } from "../harness/commands.ts";
import { cacheDir, repoRoot } from "../harness/dirs.ts";
import { awaitCommitted, writeRate } from "./progress.ts";
import { messages } from "./throughput.ts";

const peerDir = join(repoRoot, "hack", "bench", "python-peer");
const script = join(peerDir, "peer.py");

/** The venv's python, (re)installed from requirements.txt when that file has changed since. */
export function peerPython(): string {
  const requirements = join(peerDir, "requirements.txt");
  const venv = join(cacheDir("python-peer"), "venv");
  const python = join(venv, "bin", "python");
  const stamp = join(venv, "requirements.sha256");
  const digest = createHash("sha256").update(readFileSync(requirements)).digest("hex");
  if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== digest) {
    run(process.env.BENCH_PYTHON ?? "python3", ["-m", "venv", "--clear", venv]);
    run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements], {
      timeoutMs: 600_000,
    });
    writeFileSync(stamp, digest);
  }
  return python;
}

/** The peer's labels and the worker's for the same texts; the texts where they differ. */
export async function compareLabels(python: string, config: WorkerConfig, texts: readonly string[]) {
  const { dir, maxSequenceLength } = config.model;
  const peer = JSON.parse(
    run(python, [script, "labels", dir, String(maxSequenceLength)], { input: JSON.stringify(texts) }),
  ) as string[];
  const classifier = await loadClassifier(dir, { maxSequenceLength });
  try {
    const worker = (await classifier.classify(texts)).map((prediction) => prediction.label);
    const differing = texts.flatMap((text, i) =>
      peer[i] === worker[i] ? [] : [{ text, peer: peer[i], worker: worker[i] }],
    );
    return { compared: texts.length, differing };
  } finally {
    await classifier.close();
  }
}

/** Messages per second of the peer draining the bench's requests into config's responses topic. */
export async function pythonPeerRate(kafka: Kafka, admin: Admin, python: string, config: WorkerConfig) {
  const { topics, kafka: connection, model } = config;
  const peer = spawn(
    python,
    [
      script,
      "serve",
      connection.bootstrapServers.join(","),
      topics.requests,
      topics.responses,
      connection.groupId,
      model.dir,
      String(model.maxSequenceLength),
    ],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  const ended = new Promise<string>((resolve) => {
    peer.once("error", (error) => resolve(error.message));
    peer.once("exit", (code, signal) => resolve(`exited (${code ?? signal})`));
  });
  const failed = ended.then((how) => {
    throw new HarnessError(`python peer ${how} before committing ${messages} requests`);
  });
  try {
    await Promise.race([awaitCommitted(admin, connection.groupId, topics.requests, messages, 300), failed]);
  } finally {
    failed.catch(() => {});
    peer.kill("SIGTERM");
    await ended;
  }
  return writeRate(kafka, admin, topics.responses);
}
