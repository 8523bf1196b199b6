// The model path's two costs per message, in this process: tokenization (whole-text Tokenizers.js, as before the
// word cache, and the worker's cached per-word encoding) and inference (padding + ONNX Runtime), over SST-2 dev
// (or the bench texts without it) in the worker's batches. Timed in CPU time of this process (all its threads),
// which a machine loaded by other processes distorts less than wall time.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { loadClassifierStages } from "../../worker/src/model/classifier.ts";
import { readModelDir } from "../../worker/src/model/files.ts";
import {
  createTokenIdEncoder,
  type TokenIdEncoder,
  wholeTextEncoder,
} from "../../worker/src/model/token-ids.ts";
import { repoRoot } from "../harness/dirs.ts";
import { readSst2, sst2Dir } from "../model/dataset.ts";
import { sampleTexts } from "./workload.ts";

const batchSize = 64;
const rounds = 3;

/** SST-2 dev's sentences, or none where the data is absent. */
export async function sst2DevTexts(): Promise<string[]> {
  const dev = join(sst2Dir(repoRoot), "dev.tsv");
  return existsSync(dev) ? (await readSst2(dev)).map((row) => row.text) : [];
}

async function benchTexts(): Promise<{ texts: string[]; source: string }> {
  const dev = await sst2DevTexts();
  if (dev.length > 0) return { texts: dev, source: "SST-2 dev" };
  return {
    texts: Array.from({ length: 872 }, (_, i) => sampleTexts[i % sampleTexts.length] as string),
    source: "bench texts",
  };
}

async function cpuMicrosPerText(count: number, run: () => unknown): Promise<number> {
  const started = process.cpuUsage();
  await run();
  const used = process.cpuUsage(started);
  return (used.user + used.system) / count;
}

const timeEncoding = (encoder: TokenIdEncoder, texts: readonly string[]) =>
  cpuMicrosPerText(texts.length, () => {
    for (const text of texts) encoder.encode(text);
  });

export async function modelPathCosts(modelDir: string, maxSequenceLength: number) {
  const { texts, source } = await benchTexts();
  const files = await readModelDir(modelDir);
  const tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
  const fresh = () => createTokenIdEncoder(tokenizer, files.tokenizerJson, files.tokenizerConfig);
  const whole = wholeTextEncoder(tokenizer, "whole texts");
  // Each figure is the last of a few rounds (the JIT settles); the cached one starts each round with an empty
  // cache, so words seen for the first time are paid for, then again warm.
  let uncachedUs = 0;
  let cachedUs = 0;
  let warmUs = 0;
  for (let round = 0; round < rounds; round++) {
    uncachedUs = await timeEncoding(whole, texts);
    const encoder = fresh();
    cachedUs = await timeEncoding(encoder, texts);
    warmUs = await timeEncoding(encoder, texts);
  }
  const stages = await loadClassifierStages(modelDir, { maxSequenceLength });
  const batches = Array.from({ length: Math.ceil(texts.length / batchSize) }, (_, i) =>
    stages.tokenize(texts.slice(i * batchSize, (i + 1) * batchSize)),
  );
  let inferUs = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      inferUs = await cpuMicrosPerText(texts.length, async () => {
        for (const rows of batches) await stages.infer(rows);
      });
    }
  } finally {
    await stages.close();
  }
  return {
    source,
    count: texts.length,
    tokenization: stages.tokenization,
    uncachedUs,
    cachedUs,
    warmUs,
    inferUs,
  };
}

export const describeModelPath = (costs: Awaited<ReturnType<typeof modelPathCosts>>) => [
  `model path per message over ${costs.source} (${costs.count} texts, batches of ${batchSize}), CPU time of this process:`,
  `    tokenize: ${costs.cachedUs.toFixed(1)} µs cached per word from an empty cache (${costs.warmUs.toFixed(1)} µs warm), ` +
    `${costs.uncachedUs.toFixed(1)} µs whole-text uncached (before); infer: ${costs.inferUs.toFixed(1)} µs`,
  `    tokenization: ${costs.tokenization}`,
];
