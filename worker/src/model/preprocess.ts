/**
 * Pure pieces of inference: truncation, batch padding, softmax and label mapping.
 * No I/O and no onnxruntime here, so each step is unit-tested on its own.
 */

/** A padded batch laid out row-major, ready to become int64 tensors of shape [batch, length]. */
export interface PaddedBatch {
  readonly batch: number;
  readonly length: number;
  readonly inputIds: BigInt64Array;
  readonly attentionMask: BigInt64Array;
}

export interface Prediction {
  readonly label: string;
  readonly score: number;
  readonly scores: Record<string, number>;
}

/**
 * Cuts `ids` to at most `maxLength` tokens. Trailing special tokens (the [SEP] a BERT-style template appends)
 * are kept, because models are trained to see the sequence closed by them.
 */
export function truncateIds(
  ids: readonly number[],
  maxLength: number,
  specialIds: ReadonlySet<number>,
): number[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  }
  if (ids.length <= maxLength) return [...ids];
  let tail = 0;
  while (tail < ids.length && specialIds.has(ids[ids.length - 1 - tail] as number)) tail++;
  // A tail as long as the budget would leave no content; then plain truncation is the only honest choice.
  if (tail >= maxLength) return ids.slice(0, maxLength);
  return [...ids.slice(0, maxLength - tail), ...ids.slice(ids.length - tail)];
}

/** Right-pads every row to the longest one with `padId`; the mask is 1 for real tokens, 0 for padding. */
export function padBatch(rows: readonly (readonly number[])[], padId: number): PaddedBatch {
  const batch = rows.length;
  const length = rows.reduce((max, row) => Math.max(max, row.length), 0);
  const inputIds = new BigInt64Array(batch * length).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch * length);
  rows.forEach((row, r) => {
    const base = r * length;
    row.forEach((id, c) => {
      inputIds[base + c] = BigInt(id);
      attentionMask[base + c] = 1n;
    });
  });
  return { batch, length, inputIds, attentionMask };
}

/** Numerically stable softmax of one row. */
export function softmax(logits: ArrayLike<number>): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  const exps = Array.from({ length: logits.length }, (_, i) => Math.exp((logits[i] as number) - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

/** Index of the largest value; the first one wins ties. */
export function argmax(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("argmax of an empty array");
  let best = 0;
  for (let i = 1; i < values.length; i++) if ((values[i] as number) > (values[best] as number)) best = i;
  return best;
}

/** Turns a row-major [batch, labels.length] logits buffer into one prediction per row, in order. */
export function predictionsFromLogits(
  logits: ArrayLike<number>,
  batch: number,
  labels: readonly string[],
): Prediction[] {
  const width = labels.length;
  if (logits.length !== batch * width) {
    throw new RangeError(`expected ${batch}x${width} logits, got ${logits.length} values`);
  }
  return Array.from({ length: batch }, (_, r) => {
    const probs = softmax(Array.prototype.slice.call(logits, r * width, (r + 1) * width) as number[]);
    const best = argmax(probs);
    const scores: Record<string, number> = {};
    labels.forEach((label, i) => {
      scores[label] = probs[i] as number;
    });
    return { label: labels[best] as string, score: probs[best] as number, scores };
  });
}
