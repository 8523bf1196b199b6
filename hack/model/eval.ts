// SST-2 dev accuracy of a model directory through the worker's own inference module, so the figure is the one
// the worker delivers. Usage: npm run model:eval [-- MODEL_DIR]; data from $SST2_DIR or ../shared/data/sst2.
import { join } from "node:path";
import { loadClassifier } from "../../worker/src/model/classifier.ts";
import { repoRoot } from "../harness/dirs.ts";
import { defaultModelDir, readSst2, sst2Dir } from "./dataset.ts";

const BATCH = 64;
const THROUGHPUT_PASSES = 5;

/** Best-of-N sentences/s for classify() on batches of 64 (tokenize + pad + infer), after a warm-up pass. */
async function throughput(classify: (texts: string[]) => Promise<unknown>, texts: string[]): Promise<number> {
  const batches = Array.from({ length: Math.floor(texts.length / BATCH) }, (_, i) =>
    texts.slice(i * BATCH, (i + 1) * BATCH),
  );
  let best = Number.POSITIVE_INFINITY;
  for (let pass = 0; pass <= THROUGHPUT_PASSES; pass++) {
    const started = performance.now();
    for (const batch of batches) await classify(batch);
    if (pass > 0) best = Math.min(best, performance.now() - started);
  }
  return (batches.length * BATCH) / (best / 1000);
}

async function main(): Promise<void> {
  const modelDir = process.argv[2] ?? defaultModelDir(repoRoot);
  const devFile = join(sst2Dir(repoRoot), "dev.tsv");
  const dev = await readSst2(devFile);
  // One intra-op thread: the figure is per core, as a worker replica runs.
  const classifier = await loadClassifier(modelDir, { maxSequenceLength: 128, intraOpNumThreads: 1 });
  try {
    const [negative, positive] = classifier.labels;
    if (classifier.labels.length !== 2 || negative === undefined || positive === undefined) {
      throw new Error(`${modelDir}: SST-2 needs a two-label model, got ${classifier.labels.join(", ")}`);
    }
    // confusion[gold][predicted], SST-2 label 0 = first label (negative), 1 = second (positive).
    const confusion = [
      [0, 0],
      [0, 0],
    ];
    const started = performance.now();
    for (let i = 0; i < dev.length; i += BATCH) {
      const slice = dev.slice(i, i + BATCH);
      const predictions = await classifier.classify(slice.map((row) => row.text));
      predictions.forEach((p, k) => {
        const gold = slice[k]?.label as 0 | 1;
        const predicted = p.label === positive ? 1 : 0;
        (confusion[gold] as number[])[predicted] = ((confusion[gold] as number[])[predicted] ?? 0) + 1;
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const [[tn = 0, fp = 0] = [], [fn = 0, tp = 0] = []] = confusion;
    const correct = tn + tp;
    console.log(`model ${classifier.name} ${classifier.version} (${modelDir})`);
    console.log(
      `SST-2 dev (${devFile}): ${dev.length} sentences in ${seconds.toFixed(2)}s (tokenize + infer)`,
    );
    console.log(`accuracy ${(correct / dev.length).toFixed(4)} (${correct}/${dev.length})`);
    console.log(`confusion (rows gold, columns predicted ${negative}/${positive}):`);
    console.log(`  ${negative.padEnd(9)} ${String(tn).padStart(4)} ${String(fp).padStart(4)}`);
    console.log(`  ${positive.padEnd(9)} ${String(fn).padStart(4)} ${String(tp).padStart(4)}`);
    console.log(
      `precision(${positive}) ${(tp / (tp + fp)).toFixed(4)}  recall(${positive}) ${(tp / (tp + fn)).toFixed(4)}`,
    );
    const rate = await throughput(
      (texts) => classifier.classify(texts),
      dev.map((row) => row.text),
    );
    console.log(
      `throughput: ${rate.toFixed(0)} sentences/s (batches of ${BATCH} dev sentences, 1 thread, best of ${THROUGHPUT_PASSES})`,
    );
  } finally {
    await classifier.close();
  }
}

await main();
