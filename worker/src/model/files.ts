/**
 * Reads and validates a model directory laid out like a Hugging Face sequence-classification export:
 * model.onnx, tokenizer.json, tokenizer_config.json, config.json.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";

export const MODEL_FILE = "model.onnx";
export const TOKENIZER_FILE = "tokenizer.json";
export const TOKENIZER_CONFIG_FILE = "tokenizer_config.json";
export const CONFIG_FILE = "config.json";

/** A model directory that cannot be used; the message names the file and what is wrong with it. */
export class ModelDirError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = "ModelDirError";
  }
}

export interface ModelFiles {
  readonly modelPath: string;
  readonly modelBytes: Uint8Array;
  readonly tokenizerJson: Record<string, unknown>;
  readonly tokenizerConfig: Record<string, unknown>;
  readonly name: string;
  readonly version: string;
  /** Label of each logits column, in column order. */
  readonly labels: readonly string[];
  /** Pad token from tokenizer_config.json (a string), when present. */
  readonly padToken: string | undefined;
  /** Pad id declared outside the vocabulary: tokenizer.json padding, then config.json pad_token_id. */
  readonly declaredPadId: number | undefined;
  /** tokenizer_config.json model_max_length, when it is a usable bound. */
  readonly modelMaxLength: number | undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

async function readJsonObject(dir: string, file: string): Promise<Record<string, unknown>> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new ModelDirError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelDirError(path, `is not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(parsed)) throw new ModelDirError(path, "must contain a JSON object");
  return parsed;
}

/** Labels in logits-column order from config.json's id2label, which must cover 0..n-1 exactly. */
export function labelsFromConfig(config: Record<string, unknown>, file: string): string[] {
  const id2label = config.id2label;
  if (!isObject(id2label))
    throw new ModelDirError(file, "missing id2label (an object mapping class index to label)");
  const entries = Object.entries(id2label);
  if (entries.length < 2) throw new ModelDirError(file, "id2label must name at least two classes");
  const labels: string[] = new Array(entries.length);
  for (const [key, value] of entries) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= entries.length || String(index) !== key) {
      throw new ModelDirError(file, `id2label key "${key}" is not an index in 0..${entries.length - 1}`);
    }
    if (typeof value !== "string" || value === "") {
      throw new ModelDirError(file, `id2label["${key}"] must be a non-empty string`);
    }
    labels[index] = value;
  }
  if (new Set(labels).size !== labels.length) throw new ModelDirError(file, "id2label has duplicate labels");
  return labels;
}

function optionalInteger(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 ? value : undefined;
}

function padTokenOf(tokenizerConfig: Record<string, unknown>): string | undefined {
  const pad = tokenizerConfig.pad_token;
  if (typeof pad === "string") return pad;
  // Older exports store special tokens as AddedToken objects ({"content": "[PAD]", ...}).
  if (isObject(pad) && typeof pad.content === "string") return pad.content;
  return undefined;
}

export async function readModelDir(dir: string): Promise<ModelFiles> {
  const modelPath = join(dir, MODEL_FILE);
  let modelBytes: Uint8Array;
  try {
    modelBytes = await readFile(modelPath);
  } catch (err) {
    throw new ModelDirError(
      modelPath,
      `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  const [tokenizerJson, tokenizerConfig, config] = await Promise.all([
    readJsonObject(dir, TOKENIZER_FILE),
    readJsonObject(dir, TOKENIZER_CONFIG_FILE),
    readJsonObject(dir, CONFIG_FILE),
  ]);
  const configPath = join(dir, CONFIG_FILE);
  const labels = labelsFromConfig(config, configPath);

  const padding = tokenizerJson.padding;
  const declaredPadId =
    (isObject(padding) ? optionalInteger(padding.pad_id) : undefined) ?? optionalInteger(config.pad_token_id);
  const maxLength = optionalInteger(tokenizerConfig.model_max_length);

  const name =
    typeof config.name === "string"
      ? config.name
      : typeof config._name_or_path === "string" && config._name_or_path !== ""
        ? config._name_or_path
        : basename(dir);
  // Without a declared version the weights' digest identifies the model unambiguously.
  const version =
    typeof config.version === "string"
      ? config.version
      : `sha256-${createHash("sha256").update(modelBytes).digest("hex").slice(0, 12)}`;

  return {
    modelPath,
    modelBytes,
    tokenizerJson,
    tokenizerConfig,
    name,
    version,
    labels,
    padToken: padTokenOf(tokenizerConfig),
    declaredPadId,
    // Hugging Face writes a huge sentinel (1e30) when a tokenizer has no limit; treat that as none.
    modelMaxLength: maxLength !== undefined && maxLength > 0 && maxLength < 1_000_000 ? maxLength : undefined,
  };
}
