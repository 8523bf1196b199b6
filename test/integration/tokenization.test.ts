// Every SST-2 train and dev sentence gets, through the classifier's cached tokenization, exactly the ids,
// truncation, padding and attention mask that whole-text Tokenizers.js encoding gives (the uncached path).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { defaultModelDir, readSst2, sst2Dir } from "../../hack/model/dataset.ts";
import { loadClassifierStages } from "../../worker/src/model/classifier.ts";
import { padBatch, truncateIds } from "../../worker/src/model/preprocess.ts";

const modelDir = defaultModelDir(repoRoot);
const readJson = (file: string) => JSON.parse(readFileSync(join(modelDir, file), "utf8")) as object;
const sizes = { train: 67_349, dev: 872 };

describe("cached tokenization on SST-2", () => {
  const tokenizer = new Tokenizer(readJson("tokenizer.json"), readJson("tokenizer_config.json"));
  const specialIds = new Set(
    [...tokenizer.get_added_tokens_decoder()].filter(([, token]) => token.special).map(([id]) => id),
  );
  for (const [split, size] of Object.entries(sizes)) {
    it(`matches the uncached path on every ${split} sentence, truncated to 16 and to 128 tokens`, async function () {
      const file = join(sst2Dir(repoRoot), `${split}.tsv`);
      if (!existsSync(file)) {
        console.log(`      skipped: ${file} is absent (set SST2_DIR to the GLUE SST-2 folder)`);
        this.skip();
      }
      this.timeout(300_000);
      const texts = (await readSst2(file)).map((row) => row.text);
      expect(texts.length).to.equal(size);
      // 16 truncates many sentences (keeping the closing [SEP]); 128 is the model's limit.
      const limits = [16, 128];
      const stages = await Promise.all(
        limits.map((maxSequenceLength) => loadClassifierStages(modelDir, { maxSequenceLength })),
      );
      try {
        for (const stage of stages) expect(stage.tokenization).to.match(/^per word, cached/);
        for (let start = 0; start < texts.length; start += 64) {
          const batch = texts.slice(start, start + 64);
          const whole = batch.map((text) => tokenizer.encode(text).ids);
          limits.forEach((limit, i) => {
            const want = padBatch(
              whole.map((ids) => truncateIds(ids, limit, specialIds)),
              0,
            );
            const got = padBatch(stages[i]?.tokenize(batch) ?? [], 0);
            expect(got, `sentences ${start}..${start + batch.length - 1}, max ${limit} tokens`).to.deep.equal(
              want,
            );
          });
        }
      } finally {
        await Promise.all(stages.map((stage) => stage.close()));
      }
    });
  }
});
