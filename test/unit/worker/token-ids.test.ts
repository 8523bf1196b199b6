// Per-word cached tokenization gives exactly the ids Tokenizers.js gives for whole texts: for the built-in
// tokenizer and for a BERT/DistilBERT-style export (test/fixtures/bert-tokenizer, made by
// hack/model/bert_tokenizer_fixture.py), on generated Unicode text; each distinct word is encoded once; and
// tokenizers that are not word-local are detected and encoded whole. (Every SST-2 sentence:
// test/integration/tokenization.test.ts.)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import { expect } from "chai";
import fc from "fast-check";
import { repoRoot } from "../../../hack/harness/dirs.ts";
import { createTokenIdEncoder, defaultWordCache } from "../../../worker/src/model/token-ids.ts";
import { wordwiseVerdict } from "../../../worker/src/model/word-cache-safety.ts";

type Json = Record<string, unknown>;
const readJson = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), "utf8")) as Json;
const exports = {
  "built-in (worker/model)": join(repoRoot, "worker", "model"),
  "BERT/DistilBERT-style fixture": join(repoRoot, "test", "fixtures", "bert-tokenizer"),
};
const load = (dir: string) => ({
  json: readJson(dir, "tokenizer.json"),
  config: readJson(dir, "tokenizer_config.json"),
});

/** Characters that stress a normalizer and pre-tokenizer, mixed with plain letters and words. */
const tricky = [
  "e\u0301",
  "\u0301",
  "\u0308",
  "\u0327",
  "é",
  "É",
  "Å",
  "ñ",
  "ß",
  "İ",
  "Σ",
  "ΟΔΟΣ",
  "ﬁ",
  "Ⅻ",
  "²",
  "电",
  "影",
  "映画",
  "영화",
  "ｶ",
  "👍",
  "👎",
  "🏳️‍🌈",
  "👩🏽‍🔬",
  "\u200d",
  "\u200b",
  "\ufeff",
  "\ufffd",
  "\u0000",
  "\u0001",
  "\u0007",
  "\u000b",
  "\u000c",
  "\u0085",
  "\u00ad",
  "\ud800",
  "\udc00",
  " ",
  "  ",
  "\t",
  "\n",
  "\r\n",
  "\u00a0",
  "\u3000",
  "\u2028",
  "\u1680",
  ".",
  ",",
  "'",
  "n't",
  "!",
  "¿",
  "«",
  "—",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "[UNK]",
  "##",
  "un",
];
const unicodeText = fc.string({
  unit: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...tricky) },
    { weight: 3, arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 8 }) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: fc.constantFrom("a", "é", "b", "\u0301"), minLength: 60, maxLength: 130 }),
    },
  ),
  maxLength: 30,
});

describe("per-word cached tokenization", () => {
  for (const [name, dir] of Object.entries(exports)) {
    describe(name, () => {
      const { json, config } = load(dir);
      const tokenizer = new Tokenizer(json, config);

      it("is word-local, so it is cached per word", () => {
        expect(createTokenIdEncoder(tokenizer, json, config).description).to.match(/^per word, cached/);
      });

      it("gives the whole text's ids on generated Unicode text (accents, CJK, emoji, controls, long words)", () => {
        // A tiny cache, so that eviction and re-encoding happen as well as hits.
        const encoder = createTokenIdEncoder(tokenizer, json, config, {
          ...defaultWordCache,
          maxEntries: 16,
        });
        fc.assert(
          fc.property(fc.array(unicodeText, { minLength: 1, maxLength: 4 }), (texts) => {
            for (const text of texts)
              expect(encoder.encode(text)).to.deep.equal(tokenizer.encode(text).ids, JSON.stringify(text));
          }),
          { numRuns: 200 },
        );
      });

      it("gives the whole text's ids for empty and blank texts, and words past the cacheable length", () => {
        const encoder = createTokenIdEncoder(tokenizer, json, config, {
          ...defaultWordCache,
          maxWordLength: 4,
        });
        for (const text of ["", " ", "\n\t \r", "a", "  café  society  ", "unbelievably unwatchable"]) {
          expect(encoder.encode(text)).to.deep.equal(tokenizer.encode(text).ids, JSON.stringify(text));
        }
      });
    });
  }

  it("encodes each distinct word once, however often it appears", () => {
    const { json, config } = load(exports["built-in (worker/model)"]);
    const tokenizer = new Tokenizer(json, config);
    const encoded: string[] = [];
    const counting = new Proxy(tokenizer, {
      get: (target, key) =>
        key === "encode"
          ? (text: string, options?: object) => {
              encoded.push(text);
              return target.encode(text, options);
            }
          : Reflect.get(target, key),
    });
    const encoder = createTokenIdEncoder(counting, json, config);
    encoded.length = 0; // the probes that read the special-token wrapping
    const text = "a great film , a great cast";
    expect(encoder.encode(text)).to.deep.equal(tokenizer.encode(text).ids);
    expect(encoder.encode(text)).to.deep.equal(tokenizer.encode(text).ids);
    expect(encoded).to.deep.equal(["a", "great", "film", ",", "cast"]);
  });
});

describe("word-local tokenizer detection", () => {
  const { json: bert, config } = load(exports["BERT/DistilBERT-style fixture"]);
  const variant = (changes: Json) => ({ ...bert, ...changes });

  it("accepts BERT-style exports, cased or uncased, with BertProcessing or no post-processor", () => {
    const cased = { type: "BertNormalizer", lowercase: false, strip_accents: false, clean_text: true };
    expect(wordwiseVerdict(variant({ normalizer: cased }), config)).to.deep.equal({
      ok: true,
      specialsBefore: 1,
    });
    const bertProcessing = { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] };
    expect(wordwiseVerdict(variant({ post_processor: bertProcessing }), config)).to.deep.equal({
      ok: true,
      specialsBefore: 1,
    });
    expect(wordwiseVerdict(variant({ post_processor: null, normalizer: null }), config)).to.deep.equal({
      ok: true,
      specialsBefore: 0,
    });
  });

  const refused: [string, Json, RegExp][] = [
    [
      "a ByteLevel pre-tokenizer",
      { pre_tokenizer: { type: "ByteLevel", add_prefix_space: false } },
      /pre-tokenizer ByteLevel/,
    ],
    [
      "a Metaspace pre-tokenizer",
      { pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "first" } },
      /Metaspace/,
    ],
    [
      "a pre-tokenizer that keeps whitespace",
      { pre_tokenizer: { type: "Punctuation" } },
      /does not split on whitespace/,
    ],
    ["no pre-tokenizer", { pre_tokenizer: null }, /no pre-tokenizer/],
    [
      "a Precompiled normalizer",
      { normalizer: { type: "Precompiled", precompiled_charsmap: "" } },
      /Precompiled/,
    ],
    [
      "a Prepend normalizer",
      { normalizer: { type: "Sequence", normalizers: [{ type: "Prepend", prepend: "▁" }] } },
      /Prepend/,
    ],
    [
      "a regex Replace",
      { normalizer: { type: "Replace", pattern: { Regex: "\\s+" }, content: " " } },
      /Replace/,
    ],
    [
      "a Replace of whitespace",
      { normalizer: { type: "Replace", pattern: { String: "a b" }, content: "ab" } },
      /Replace/,
    ],
    ["a Unigram model", { model: { type: "Unigram", vocab: [] } }, /Unigram/],
    ["fused unknowns", { model: { ...(bert.model as Json), fuse_unk: true } }, /fuses unknown/],
    [
      "an added token with a space",
      { added_tokens: [{ id: 5, content: "new york", special: false }] },
      /"new york"/,
    ],
    [
      "a post-processor Sequence",
      { post_processor: { type: "Sequence", processors: [] } },
      /post-processor Sequence/,
    ],
  ];
  for (const [what, changes, reason] of refused) {
    it(`refuses ${what}, naming it`, () => {
      const verdict = wordwiseVerdict(variant(changes), config);
      expect(verdict.ok).to.equal(false);
      expect(verdict.ok ? "" : verdict.reason).to.match(reason);
    });
  }

  it("refuses tokenizer_config.json's remove_space, applied to the whole text", () => {
    expect(wordwiseVerdict(bert, { ...config, remove_space: true })).to.deep.equal({
      ok: false,
      reason: "tokenizer_config.json remove_space is set",
    });
  });

  it("keeps a literal Replace (the built-in n't split)", () => {
    const replace = { type: "Replace", pattern: { Regex: "n't" }, content: " n't" };
    expect(wordwiseVerdict(variant({ normalizer: replace }), config).ok).to.equal(true);
  });

  it("encodes whole texts where words are not independent (a byte-level BPE marks a word's leading space)", () => {
    const byteLevel = {
      ...bert,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: null,
      model: { type: "BPE", vocab: { a: 0, b: 1, Ġ: 2, Ġb: 3 }, merges: ["Ġ b"], unk_token: null },
    };
    const tokenizer = new Tokenizer(byteLevel, {});
    const wordByWord = [...tokenizer.encode("a").ids, ...tokenizer.encode("b").ids];
    expect(tokenizer.encode("a b").ids).to.deep.equal([0, 3]).and.not.deep.equal(wordByWord);
    const encoder = createTokenIdEncoder(tokenizer, byteLevel, {});
    expect(encoder.description).to.match(/^whole texts, uncached \(pre-tokenizer ByteLevel/);
    expect(encoder.encode("a b")).to.deep.equal([0, 3]);
  });
});
