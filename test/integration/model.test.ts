// The default model shipped in worker/model, loaded exactly as the worker loads it (onnxruntime-node +
// Tokenizers.js through worker/src/model): SST-2 dev accuracy, obvious sentences, batching invariance, and
// clear refusals of broken model directories.
import { existsSync } from "node:fs";
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import { defaultModelDir, readSst2, sst2Dir } from "../../hack/model/dataset.ts";
import { type Classifier, loadClassifier } from "../../worker/src/model/classifier.ts";
import { ModelDirError } from "../../worker/src/model/files.ts";

const modelDir = defaultModelDir(repoRoot);
const devFile = join(sst2Dir(repoRoot), "dev.tsv");

describe("default sentiment model (worker/model)", () => {
  let classifier: Classifier;
  before(async () => {
    classifier = await loadClassifier(modelDir, { maxSequenceLength: 128 });
  });
  after(() => classifier?.close());

  it("declares its name, version and labels", () => {
    expect(classifier.name).to.equal("kubesentiment-sst2-cnn");
    expect(classifier.version).to.match(/^sha256-[0-9a-f]{12}$/);
    expect(classifier.labels).to.deep.equal(["negative", "positive"]);
  });

  it("reaches the target SST-2 dev accuracy (>= 0.84)", async function () {
    if (!existsSync(devFile)) this.skip(); // only without the shared data; CI always has it
    const dev = await readSst2(devFile);
    let correct = 0;
    for (let i = 0; i < dev.length; i += 64) {
      const rows = dev.slice(i, i + 64);
      const predictions = await classifier.classify(rows.map((r) => r.text));
      predictions.forEach((p, k) => {
        if (p.label === classifier.labels[rows[k]?.label ?? -1]) correct++;
      });
    }
    expect(dev.length).to.equal(872);
    expect(correct / dev.length).to.be.at.least(0.84);
  });

  const obvious: [string, "positive" | "negative"][] = [
    ["an absolute delight", "positive"],
    ["a tedious, joyless mess", "negative"],
    ["One of the best films of the year, funny and moving.", "positive"],
    ["The acting is wonderful and the story is beautiful.", "positive"],
    ["A boring, predictable waste of two hours.", "negative"],
    ["I didn't like it at all; the plot is dull and stupid.", "negative"],
  ];
  for (const [text, label] of obvious) {
    it(`calls "${text}" ${label}`, async () => {
      const [prediction] = await classifier.classify([text]);
      expect(prediction?.label).to.equal(label);
      expect(prediction?.score).to.be.greaterThan(0.5);
    });
  }

  it("gives the same results for a mixed-length batch as one by one, in order", async () => {
    const texts = [
      "",
      "good",
      obvious[1]?.[0] ?? "",
      "a long , winding , occasionally inspired but mostly tiresome journey through the director 's obsessions , which never quite adds up to a film worth recommending to anyone",
      "fine",
      "x".repeat(2000),
    ];
    const batched = await classifier.classify(texts);
    expect(batched).to.have.length(texts.length);
    for (const [i, text] of texts.entries()) {
      const [single] = await classifier.classify([text]);
      expect(batched[i]?.label, text).to.equal(single?.label);
      expect(batched[i]?.score, text).to.be.closeTo(single?.score ?? Number.NaN, 1e-5);
    }
  });

  it("gives every SST-2 dev sentence the same result in batches of 256 (run by length groups) as alone", async function () {
    if (!existsSync(devFile)) this.skip();
    const texts = (await readSst2(devFile)).map((row) => row.text);
    for (let i = 0; i < texts.length; i += 256) {
      const batch = texts.slice(i, i + 256);
      const batched = await classifier.classify(batch);
      for (const [k, text] of batch.entries()) {
        const [single] = await classifier.classify([text]);
        expect(batched[k]?.label, text).to.equal(single?.label);
        expect(batched[k]?.score, text).to.be.closeTo(single?.score ?? Number.NaN, 1e-5);
      }
    }
  });

  it("returns an empty result for an empty batch", async () => {
    expect(await classifier.classify([])).to.deep.equal([]);
  });

  it("cuts long texts to maxSequenceLength and still classifies them", async () => {
    const short = await loadClassifier(modelDir, { maxSequenceLength: 8 });
    try {
      const [prediction] = await short.classify([`terrible ${"and boring ".repeat(500)}`]);
      expect(prediction?.label).to.equal("negative");
    } finally {
      await short.close();
    }
  });
});

describe("loading a broken model directory", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "ks-model-"));
    await cp(modelDir, dir, { recursive: true });
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function editJson(file: string, edit: (json: Record<string, unknown>) => void): Promise<void> {
    const json = JSON.parse(await readFile(join(dir, file), "utf8")) as Record<string, unknown>;
    edit(json);
    await writeFile(join(dir, file), JSON.stringify(json));
  }

  async function loadError(): Promise<Error> {
    const err = await loadClassifier(dir, { maxSequenceLength: 128 }).then(
      (c) => c.close().then(() => undefined),
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(ModelDirError);
    return err as Error;
  }

  it("names config.json when id2label is missing", async () => {
    await editJson("config.json", (c) => {
      delete c.id2label;
    });
    expect((await loadError()).message).to.match(/config\.json: missing id2label/);
  });

  it("refuses a logits width that differs from the label count", async () => {
    await editJson("config.json", (c) => {
      c.id2label = { "0": "negative", "1": "neutral", "2": "positive" };
    });
    expect((await loadError()).message).to.match(
      /model\.onnx: output "logits" has shape \[batch, 2\] but config\.json id2label names 3 labels/,
    );
  });

  it("names tokenizer_config.json when its pad token is not in the vocabulary", async () => {
    await editJson("tokenizer_config.json", (c) => {
      c.pad_token = "<pad>";
    });
    expect((await loadError()).message).to.match(
      /tokenizer_config\.json: pad_token "<pad>" is not in tokenizer\.json/,
    );
  });

  it("names model.onnx when it is missing", async () => {
    await rm(join(dir, "model.onnx"));
    expect((await loadError()).message).to.match(/model\.onnx: cannot be read \(ENOENT\)/);
  });
});
