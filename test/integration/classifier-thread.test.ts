// The classifier on its own thread and on a pool of threads, loaded from the shipped model: the same
// predictions as in the calling thread, requests in flight together each get their own answer, and a broken
// model directory is refused with the same message.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { defaultModelDir } from "../../hack/model/dataset.ts";
import { type Classifier, loadClassifier } from "../../worker/src/model/classifier.ts";
import { loadClassifierPool } from "../../worker/src/model/classifier-pool.ts";
import { loadClassifierInThread } from "../../worker/src/model/classifier-thread.ts";

const modelDir = defaultModelDir(repoRoot);
const options = { maxSequenceLength: 128 };
const texts = ["an absolute delight", "a tedious, joyless mess", "sharp, warm and often hilarious", "dull"];

const loaders: [string, typeof loadClassifier][] = [
  ["on its own thread", loadClassifierInThread],
  ["on a pool of two threads", (dir, opts) => loadClassifierPool(dir, opts, 2)],
];

for (const [where, load] of loaders)
  describe(`classifier ${where}`, function () {
    this.timeout(60_000);
    let local: Classifier;
    let threaded: Classifier;

    before(async () => {
      [local, threaded] = await Promise.all([loadClassifier(modelDir, options), load(modelDir, options)]);
    });
    after(async () => {
      await Promise.all([local?.close(), threaded?.close()]);
    });

    it("describes the same model and gives the same predictions", async () => {
      expect({ name: threaded.name, version: threaded.version, labels: threaded.labels }).to.deep.equal({
        name: local.name,
        version: local.version,
        labels: local.labels,
      });
      expect(await threaded.classify(texts)).to.deep.equal(await local.classify(texts));
    });

    it("answers requests in flight together, each with its own predictions", async () => {
      const answers = await Promise.all(texts.map((text) => threaded.classify([text])));
      const expected = await Promise.all(texts.map((text) => local.classify([text])));
      expect(answers).to.deep.equal(expected);
    });

    it("refuses a broken model directory with the loader's message", async () => {
      const broken = await mkdtemp(join(tmpdir(), "kubesentiment-model-"));
      try {
        await cp(modelDir, broken, { recursive: true });
        await rm(join(broken, "model.onnx"));
        const failure = await load(broken, options).then(
          () => undefined,
          (error: Error) => error,
        );
        const direct = await loadClassifier(broken, options).then(
          () => undefined,
          (error: Error) => error,
        );
        expect(failure?.message).to.equal(direct?.message).and.to.include("model.onnx");
      } finally {
        await rm(broken, { recursive: true, force: true });
      }
    });
  });
