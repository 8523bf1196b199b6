// The classifier on its own thread and on a pool of threads, loaded from the shipped model: the same
// predictions as in the calling thread, requests in flight together each get their own answer, and a broken
// model directory is refused with the same message.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
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
      const description = (c: Classifier) => ({
        name: c.name,
        version: c.version,
        labels: c.labels,
        tokenization: c.tokenization,
      });
      expect(description(threaded)).to.deep.equal(description(local));
      expect(threaded.tokenization).to.match(/^per word, cached/);
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

describe("a classifier thread that dies", function () {
  this.timeout(60_000);
  let faultDir: string;
  let faultFile: string;
  const opened: Classifier[] = [];

  beforeEach(async () => {
    faultDir = await mkdtemp(join(tmpdir(), "kubesentiment-fault-"));
    faultFile = join(faultDir, "fault");
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((classifier) => classifier.close()));
    await rm(faultDir, { recursive: true, force: true });
  });

  /** The outcome of a call: its labels, or its error's message. */
  const outcome = (classifier: Classifier) =>
    classifier.classify(texts).then(
      (predictions) => predictions.map((p) => p.label).join(),
      (error: Error) => error.message,
    );

  it("rejects the call in flight and every later call at once, leaving none hanging", async () => {
    const threaded = await loadClassifierInThread(modelDir, { ...options, faultFile });
    opened.push(threaded);
    const expected = await outcome(threaded);
    await writeFile(faultFile, "exit");
    expect(await outcome(threaded)).to.match(/classifier thread exited/);
    expect(await outcome(threaded)).to.match(/classifier thread exited/);
    expect(expected).to.not.match(/exited/);
  });

  it("is replaced in a pool: the call it took fails, the next is answered by a new thread", async () => {
    const pool = await loadClassifierPool(modelDir, { ...options, faultFile }, 1);
    opened.push(pool);
    const expected = await outcome(pool);
    await writeFile(faultFile, "exit");
    expect(await outcome(pool)).to.match(/classifier thread exited/);
    await rm(faultFile);
    expect(await outcome(pool)).to.equal(expected);
  });
});
