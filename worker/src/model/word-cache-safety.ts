/**
 * Whether a tokenizer.json may be encoded one whitespace-separated word at a time (and so cached per word) with
 * the same ids as encoding the whole text. That holds when every step is local to a word: the normalizer never
 * looks across ASCII whitespace and keeps it whitespace, the pre-tokenizer splits on whitespace and drops it,
 * the model encodes each pre-token on its own, and the post-processor only wraps the sequence in special tokens.
 * Anything not known to be so (Metaspace or ByteLevel pre-tokenizers, which encode the spaces themselves; a
 * Precompiled or Prepend normalizer; a regex Replace; fused unknowns; added tokens containing spaces) refuses,
 * and the caller encodes whole texts as before.
 */

type Json = Record<string, unknown>;

export type WordwiseVerdict =
  | {
      readonly ok: true /** Special tokens the post-processor puts before the text's tokens. */;
      readonly specialsBefore: number;
    }
  | { readonly ok: false; readonly reason: string };

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const typeOf = (step: Json) => String(step.type);

/** Normalizers that map each character on its own (or, for Unicode forms, never compose across a space). */
const LOCAL_NORMALIZERS = new Set([
  "BertNormalizer",
  "Lowercase",
  "StripAccents",
  "NFC",
  "NFD",
  "NFKC",
  "NFKD",
]);
/** Pre-tokenizers that split on whitespace and drop it. */
const WHITESPACE_SPLITTERS = new Set(["BertPreTokenizer", "Whitespace", "WhitespaceSplit"]);
/** Pre-tokenizers that split by character class only; local, but they keep whitespace inside their pieces. */
const CLASS_SPLITTERS = new Set(["Punctuation", "Digits"]);
const WORDWISE_MODELS = new Set(["WordPiece", "BPE"]);
const REGEX_SYNTAX = /[\\^$.|?*+()[\]{}]/;

function normalizerRefusal(step: unknown): string | undefined {
  if (step === null || step === undefined) return undefined;
  if (!isObject(step)) return "normalizer is not an object";
  const type = typeOf(step);
  if (type === "Sequence") {
    const steps = Array.isArray(step.normalizers) ? step.normalizers : [];
    for (const inner of steps) {
      const refusal = normalizerRefusal(inner);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  }
  if (LOCAL_NORMALIZERS.has(type)) return undefined;
  if (type === "Replace" && isObject(step.pattern)) {
    // A pattern without whitespace cannot match across two words; a regex is refused unless it is a literal.
    const literal = step.pattern.String ?? step.pattern.Regex;
    const isLiteral =
      typeof literal === "string" && (step.pattern.String !== undefined || !REGEX_SYNTAX.test(literal));
    if (isLiteral && literal !== "" && !/\s/.test(literal)) return undefined;
    return `normalizer Replace pattern ${JSON.stringify(step.pattern)} may span words`;
  }
  return `normalizer ${type} is not known to be word-local`;
}

function preTokenizerRefusal(step: unknown): string | undefined {
  if (!isObject(step)) return "no pre-tokenizer splits on whitespace";
  const type = typeOf(step);
  const steps = type === "Sequence" && Array.isArray(step.pretokenizers) ? step.pretokenizers : [step];
  let splitsOnWhitespace = false;
  for (const inner of steps) {
    const innerType = isObject(inner) ? typeOf(inner) : String(inner);
    if (WHITESPACE_SPLITTERS.has(innerType)) splitsOnWhitespace = true;
    else if (!CLASS_SPLITTERS.has(innerType))
      return `pre-tokenizer ${innerType} is not known to be word-local`;
  }
  return splitsOnWhitespace ? undefined : `pre-tokenizer ${type} does not split on whitespace`;
}

function modelRefusal(model: unknown): string | undefined {
  if (!isObject(model)) return "no model";
  const type = typeOf(model);
  if (!WORDWISE_MODELS.has(type)) return `model ${type} is not known to encode each word on its own`;
  // Fusing runs of unknowns would join an unknown word's [UNK] with its neighbour's.
  if (model.fuse_unk === true) return `model ${type} fuses unknown tokens across words`;
  return undefined;
}

/** Special tokens before the text, when the post-processor only wraps it; a string when it does more. */
function specialsBeforeText(processor: unknown): number | string {
  if (processor === null || processor === undefined) return 0;
  if (!isObject(processor)) return "post-processor is not an object";
  const type = typeOf(processor);
  if (type === "BertProcessing" || type === "RobertaProcessing") return 1;
  if (type !== "TemplateProcessing" || !Array.isArray(processor.single)) {
    return `post-processor ${type} is not known to only wrap the text`;
  }
  const pieces = processor.single.map((piece) =>
    isObject(piece) && "Sequence" in piece ? "text" : "special",
  );
  const at = pieces.indexOf("text");
  if (at < 0 || pieces.lastIndexOf("text") !== at)
    return "post-processor template does not hold the text once";
  return at;
}

export function wordwiseVerdict(tokenizerJson: Json, tokenizerConfig: Json): WordwiseVerdict {
  const refusal =
    normalizerRefusal(tokenizerJson.normalizer) ??
    preTokenizerRefusal(tokenizerJson.pre_tokenizer) ??
    modelRefusal(tokenizerJson.model) ??
    addedTokenRefusal(tokenizerJson.added_tokens) ??
    configRefusal(tokenizerConfig);
  if (refusal !== undefined) return { ok: false, reason: refusal };
  const specialsBefore = specialsBeforeText(tokenizerJson.post_processor);
  return typeof specialsBefore === "string"
    ? { ok: false, reason: specialsBefore }
    : { ok: true, specialsBefore };
}

function addedTokenRefusal(addedTokens: unknown): string | undefined {
  const tokens = Array.isArray(addedTokens) ? addedTokens : [];
  const spanning = tokens.find((token) => isObject(token) && /\s/.test(String(token.content)));
  return spanning === undefined
    ? undefined
    : `added token ${JSON.stringify(spanning.content)} contains whitespace`;
}

function configRefusal(tokenizerConfig: Json): string | undefined {
  // Tokenizers.js applies these to the whole text before the normalizer.
  for (const option of ["remove_space", "do_lowercase_and_remove_accent"]) {
    if (tokenizerConfig[option] === true) return `tokenizer_config.json ${option} is set`;
  }
  return undefined;
}
