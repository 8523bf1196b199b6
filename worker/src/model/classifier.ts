/**
 * The worker's sentiment classifier: a Hugging Face-style sequence-classification export (model.onnx +
 * tokenizer.json + tokenizer_config.json + config.json) run with onnxruntime-node and Tokenizers.js.
 */
import { readFileSync } from "node:fs";
import { Tokenizer } from "@huggingface/tokenizers";
import * as ort from "onnxruntime-node";
import { ModelDirError, readModelDir, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from "./files.ts";
import { groupByLength } from "./length-groups.ts";
import {
  type PaddedBatch,
  type Prediction,
  padBatch,
  predictionsFromLogits,
  truncateIds,
} from "./preprocess.ts";
import { createTokenIdEncoder } from "./token-ids.ts";

export interface ClassifierOptions {
  /** Tokens per text including special tokens; longer texts are cut, keeping the closing [SEP]. */
  readonly maxSequenceLength: number;
  /** onnxruntime intra-op threads. Default 1: the worker scales out by replicas, one core each. */
  readonly intraOpNumThreads?: number;
  /**
   * Test-only fault injection (MODEL_FAULT_FILE; the operator never sets it): while this file exists, each run
   * hands ONNX Runtime input ids of the wrong type, so the real session's run fails as a broken model's would,
   * and the model recovers when the file is removed. A file holding "exit" ends a classifier thread instead.
   */
  readonly faultFile?: string;
}

export interface Classifier {
  readonly name: string;
  readonly version: string;
  /** Labels in logits-column order. */
  readonly labels: readonly string[];
  /** The effective limit: the smaller of the option and the tokenizer's model_max_length. */
  readonly maxSequenceLength: number;
  /** How texts are tokenized (per word through a cache, or whole and why), for the log. */
  readonly tokenization: string;
  /** Exactly one prediction per text, in input order. */
  classify(texts: readonly string[]): Promise<Prediction[]>;
  close(): Promise<void>;
}

/** The two halves of classify, apart so that each can be timed (the bench does). */
export interface ClassifierStages {
  /** One row of token ids per text, truncated to maxSequenceLength. */
  tokenize(texts: readonly string[]): number[][];
  /** Runs the model on the rows, grouped by length and padded per group: one prediction per row, in order. */
  infer(rows: readonly (readonly number[])[]): Promise<Prediction[]>;
}

const LOGITS = "logits";
/**
 * The fixed cost of one ONNX Runtime run, in padded tokens: on the default model a run of equal rows costs about
 * 100 µs plus about 1 µs per padded token (measured at 1–64 rows of 4–128 tokens). Heavier models pay more per
 * token for a similar fixed cost, so for them this errs towards fewer, larger runs.
 */
const RUN_COST_IN_TOKENS = 100;
const SUPPORTED_INPUTS = new Set(["input_ids", "attention_mask", "token_type_ids"]);

function resolvePadId(
  tokenizer: Tokenizer,
  padToken: string | undefined,
  declaredPadId: number | undefined,
  dir: string,
): number {
  if (padToken !== undefined) {
    const id = tokenizer.token_to_id(padToken);
    if (id === undefined) {
      throw new ModelDirError(
        `${dir}/${TOKENIZER_CONFIG_FILE}`,
        `pad_token "${padToken}" is not in ${TOKENIZER_FILE}'s vocabulary`,
      );
    }
    return id;
  }
  if (declaredPadId !== undefined) return declaredPadId;
  throw new ModelDirError(
    `${dir}/${TOKENIZER_CONFIG_FILE}`,
    `missing pad_token (and neither ${TOKENIZER_FILE} padding.pad_id nor config.json pad_token_id is set)`,
  );
}

function feedsFor(inputNames: readonly string[], padded: PaddedBatch): Record<string, ort.Tensor> {
  const dims = [padded.batch, padded.length];
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputNames) {
    const data =
      name === "input_ids"
        ? padded.inputIds
        : name === "attention_mask"
          ? padded.attentionMask
          : new BigInt64Array(padded.batch * padded.length); // token_type_ids: a single segment is all zeros
    feeds[name] = new ort.Tensor("int64", data, dims);
  }
  return feeds;
}

/** Test-only: the fault options.faultFile injects now, if any ("exit", or any other content: the run fails). */
export function injectedFault(options: ClassifierOptions): "exit" | "fail" | undefined {
  if (options.faultFile === undefined) return undefined;
  try {
    return readFileSync(options.faultFile, "utf8").trim() === "exit" ? "exit" : "fail";
  } catch {
    return undefined;
  }
}

export async function loadClassifier(dir: string, options: ClassifierOptions): Promise<Classifier> {
  const { tokenize, infer, ...classifier } = await loadClassifierStages(dir, options);
  return {
    ...classifier,
    async classify(texts) {
      if (texts.length === 0) return [];
      return infer(tokenize(texts));
    },
  };
}

export async function loadClassifierStages(
  dir: string,
  options: ClassifierOptions,
): Promise<Omit<Classifier, "classify"> & ClassifierStages> {
  if (!Number.isInteger(options.maxSequenceLength) || options.maxSequenceLength < 2) {
    throw new RangeError(`maxSequenceLength must be an integer >= 2, got ${options.maxSequenceLength}`);
  }
  const files = await readModelDir(dir);
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
  } catch (err) {
    throw new ModelDirError(
      `${dir}/${TOKENIZER_FILE}`,
      `cannot be loaded by Tokenizers.js (${(err as Error).message})`,
    );
  }
  const encoder = createTokenIdEncoder(tokenizer, files.tokenizerJson, files.tokenizerConfig);
  const padId = resolvePadId(tokenizer, files.padToken, files.declaredPadId, dir);
  const specialIds = new Set(
    [...tokenizer.get_added_tokens_decoder()].filter(([, token]) => token.special).map(([id]) => id),
  );
  const maxSequenceLength = Math.min(
    options.maxSequenceLength,
    files.modelMaxLength ?? Number.POSITIVE_INFINITY,
  );

  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(files.modelBytes, {
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
  } catch (err) {
    throw new ModelDirError(files.modelPath, `cannot be loaded by onnxruntime (${(err as Error).message})`);
  }
  try {
    const unsupported = session.inputNames.filter((name) => !SUPPORTED_INPUTS.has(name));
    if (unsupported.length > 0 || !session.inputNames.includes("input_ids")) {
      throw new ModelDirError(
        files.modelPath,
        `inputs must include input_ids and be among ${[...SUPPORTED_INPUTS].join(", ")}; model declares ${session.inputNames.join(", ")}`,
      );
    }
    const output = session.outputNames.includes(LOGITS) ? LOGITS : session.outputNames[0];
    if (output === undefined) throw new ModelDirError(files.modelPath, "declares no outputs");
    checkLogitsWidth(session, output, files.labels.length, files.modelPath);
  } catch (err) {
    await session.release();
    throw err;
  }
  const output = session.outputNames.includes(LOGITS) ? LOGITS : (session.outputNames[0] as string);

  async function runOnce(rows: readonly (readonly number[])[]): Promise<Prediction[]> {
    const padded = padBatch(rows, padId);
    const feeds = feedsFor(session.inputNames, padded);
    if (injectedFault(options) !== undefined) {
      feeds.input_ids = new ort.Tensor("float32", new Float32Array(padded.batch * padded.length), [
        padded.batch,
        padded.length,
      ]);
    }
    const results = await session.run(feeds, [output]);
    const logits = results[output];
    if (logits === undefined) throw new Error(`${files.modelPath}: run returned no "${output}" output`);
    if (logits.dims.length !== 2 || logits.dims[1] !== files.labels.length) {
      throw new ModelDirError(
        files.modelPath,
        `"${output}" has shape [${logits.dims.join(", ")}], expected [${padded.batch}, ${files.labels.length}] (one column per id2label entry)`,
      );
    }
    return predictionsFromLogits(logits.data as Float32Array, padded.batch, files.labels);
  }

  return {
    name: files.name,
    version: files.version,
    labels: files.labels,
    maxSequenceLength,
    tokenization: encoder.description,
    tokenize: (texts) =>
      texts.map((text) => truncateIds(encoder.encode(text), maxSequenceLength, specialIds)),
    async infer(rows) {
      const predictions: Prediction[] = new Array(rows.length);
      const groups = groupByLength(
        rows.map((row) => row.length),
        RUN_COST_IN_TOKENS,
      );
      for (const group of groups) {
        const results = await runOnce(group.map((index) => rows[index] as readonly number[]));
        group.forEach((index, k) => {
          predictions[index] = results[k] as Prediction;
        });
      }
      return predictions;
    },
    close: () => session.release(),
  };
}

/** Fails at load, not at the first message, when the declared logits width disagrees with id2label. */
function checkLogitsWidth(
  session: ort.InferenceSession,
  output: string,
  labelCount: number,
  modelPath: string,
): void {
  const meta = session.outputMetadata.find((m) => m.name === output);
  if (meta === undefined || !meta.isTensor)
    throw new ModelDirError(modelPath, `output "${output}" is not a tensor`);
  if (meta.type !== "float32")
    throw new ModelDirError(modelPath, `output "${output}" is ${meta.type}, expected float32`);
  const width = meta.shape[1];
  if (meta.shape.length !== 2 || (typeof width === "number" && width !== labelCount)) {
    throw new ModelDirError(
      modelPath,
      `output "${output}" has shape [${meta.shape.join(", ")}] but config.json id2label names ${labelCount} labels`,
    );
  }
}
