// The pure steps of the worker's inference path: truncation that keeps the closing special token, padding a
// batch to its longest row, softmax/argmax and label mapping, and model-directory validation.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { labelsFromConfig, ModelDirError, readModelDir } from "../../worker/src/model/files.ts";
import {
  argmax,
  padBatch,
  predictionsFromLogits,
  softmax,
  truncateIds,
} from "../../worker/src/model/preprocess.ts";

const CLS = 2;
const SEP = 3;
const special = new Set([0, 1, CLS, SEP]);

describe("model preprocessing", () => {
  describe("truncateIds", () => {
    it("leaves a short sequence alone (as a copy)", () => {
      const ids = [CLS, 10, 11, SEP];
      const out = truncateIds(ids, 8, special);
      expect(out).to.deep.equal(ids);
      expect(out).to.not.equal(ids);
    });

    it("keeps the final [SEP] when cutting", () => {
      expect(truncateIds([CLS, 10, 11, 12, 13, SEP], 4, special)).to.deep.equal([CLS, 10, 11, SEP]);
    });

    it("cuts plainly when the sequence does not end in a special token", () => {
      expect(truncateIds([10, 11, 12, 13], 2, special)).to.deep.equal([10, 11]);
    });

    it("rejects a non-positive limit", () => {
      expect(() => truncateIds([1], 0, special)).to.throw(RangeError, /maxLength/);
    });
  });

  describe("padBatch", () => {
    it("pads each row to the longest with the pad id and masks the padding", () => {
      const padded = padBatch(
        [
          [CLS, 10, SEP],
          [CLS, 10, 11, 12, SEP],
        ],
        7,
      );
      expect(padded.batch).to.equal(2);
      expect(padded.length).to.equal(5);
      expect([...padded.inputIds]).to.deep.equal([2n, 10n, 3n, 7n, 7n, 2n, 10n, 11n, 12n, 3n]);
      expect([...padded.attentionMask]).to.deep.equal([1n, 1n, 1n, 0n, 0n, 1n, 1n, 1n, 1n, 1n]);
    });

    it("gives an empty batch for no rows", () => {
      const padded = padBatch([], 0);
      expect(padded.batch).to.equal(0);
      expect(padded.inputIds.length).to.equal(0);
    });
  });

  describe("softmax and argmax", () => {
    it("normalizes and survives large logits", () => {
      const probs = softmax([1000, 1000 + Math.log(3)]);
      expect(probs[0]).to.be.closeTo(0.25, 1e-12);
      expect(probs[1]).to.be.closeTo(0.75, 1e-12);
    });

    it("argmax picks the first maximum and refuses an empty array", () => {
      expect(argmax([0.2, 0.5, 0.5])).to.equal(1);
      expect(() => argmax([])).to.throw(RangeError);
    });
  });

  describe("predictionsFromLogits", () => {
    it("maps one prediction per row, in order, with scores per label", () => {
      const preds = predictionsFromLogits(Float32Array.from([2, 0, -1, 1]), 2, ["negative", "positive"]);
      expect(preds.map((p) => p.label)).to.deep.equal(["negative", "positive"]);
      expect(preds[0]?.score).to.be.closeTo(1 / (1 + Math.exp(-2)), 1e-6);
      expect(preds[1]?.scores.negative).to.be.closeTo(1 / (1 + Math.exp(2)), 1e-6);
      const sum = Object.values(preds[1]?.scores ?? {}).reduce((a, b) => a + b, 0);
      expect(sum).to.be.closeTo(1, 1e-9);
    });

    it("refuses logits whose size does not match batch x labels", () => {
      expect(() => predictionsFromLogits(new Float32Array(3), 1, ["a", "b"])).to.throw(RangeError, /1x2/);
    });
  });
});

describe("model directory validation", () => {
  describe("labelsFromConfig", () => {
    it("orders labels by class index", () => {
      expect(
        labelsFromConfig({ id2label: { "1": "positive", "0": "negative" } }, "config.json"),
      ).to.deep.equal(["negative", "positive"]);
    });

    for (const [what, config, message] of [
      ["missing id2label", {}, /config\.json: missing id2label/],
      ["a single class", { id2label: { "0": "only" } }, /at least two/],
      ["a gap in the indices", { id2label: { "0": "a", "2": "b" } }, /"2" is not an index in 0\.\.1/],
      ["a non-string label", { id2label: { "0": "a", "1": 5 } }, /id2label\["1"\]/],
      ["duplicate labels", { id2label: { "0": "a", "1": "a" } }, /duplicate/],
    ] as const) {
      it(`rejects ${what}`, () => {
        expect(() => labelsFromConfig(config, "config.json"))
          .to.throw(ModelDirError, message)
          .with.property("file", "config.json");
      });
    }
  });

  describe("readModelDir", () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), "ks-model-"));
      await writeFile(join(dir, "model.onnx"), "not really onnx");
      await writeFile(join(dir, "tokenizer.json"), JSON.stringify({ padding: { pad_id: 9 } }));
      await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ model_max_length: 1e30 }));
      await writeFile(join(dir, "config.json"), JSON.stringify({ id2label: { "0": "neg", "1": "pos" } }));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it("names the file that is missing", async () => {
      await rm(join(dir, "tokenizer_config.json"));
      const err = await readModelDir(dir).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ModelDirError);
      expect((err as Error).message).to.match(/tokenizer_config\.json: cannot be read \(ENOENT\)/);
    });

    it("names the file that is not JSON", async () => {
      await writeFile(join(dir, "config.json"), "{");
      const err = await readModelDir(dir).catch((e: unknown) => e);
      expect((err as Error).message).to.match(/config\.json: is not valid JSON/);
    });

    it("falls back to the directory name, a weights digest, and tokenizer.json's pad id", async () => {
      const files = await readModelDir(dir);
      expect(files.name).to.match(/^ks-model-/);
      expect(files.version).to.match(/^sha256-[0-9a-f]{12}$/);
      expect(files.declaredPadId).to.equal(9);
      expect(files.padToken).to.equal(undefined);
      // Hugging Face's "no limit" sentinel is not a limit.
      expect(files.modelMaxLength).to.equal(undefined);
    });

    it("reads name, version and an AddedToken-style pad token", async () => {
      await writeFile(
        join(dir, "config.json"),
        JSON.stringify({ name: "m", version: "1", id2label: { "0": "a", "1": "b" } }),
      );
      await writeFile(
        join(dir, "tokenizer_config.json"),
        JSON.stringify({ pad_token: { content: "[PAD]" }, model_max_length: 512 }),
      );
      const files = await readModelDir(dir);
      expect([files.name, files.version, files.padToken, files.modelMaxLength]).to.deep.equal([
        "m",
        "1",
        "[PAD]",
        512,
      ]);
    });
  });
});
