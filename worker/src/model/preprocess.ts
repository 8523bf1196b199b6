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
  let length = 0;
  for (const row of rows) length = Math.max(length, row.length);
  const inputIds = new BigInt64Array(batch * length).fill(BigInt(padId));
  const attentionMask = new BigInt64Array(batch * length);
  // Plain loops: this runs for every token of every batch on the classifier thread.
  for (let r = 0; r < batch; r++) {
    const row = rows[r] as readonly number[];
    const base = r * length;
    for (let c = 0; c < row.length; c++) inputIds[base + c] = BigInt(row[c] as number);
    attentionMask.fill(1n, base, base + row.length);
  }
  return { batch, length, inputIds, attentionMask };
}

/** Numerically stable softmax of one row. */
export function softmax(logits: ArrayLike<number>): number[] {
  return softmaxAt(logits, 0, logits.length);
}

/** Softmax of `values[start, start + width)`, read in place: no row is copied out of the logits. */
function softmaxAt(values: ArrayLike<number>, start: number, width: number): number[] {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = start; i < start + width; i++) max = Math.max(max, values[i] as number);
  const probs: number[] = new Array(width);
  let sum = 0;
  for (let i = 0; i < width; i++) {
    const e = Math.exp((values[start + i] as number) - max);
    probs[i] = e;
    sum += e;
  }
  for (let i = 0; i < width; i++) probs[i] = (probs[i] as number) / sum;
  return probs;
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
  const predictions: Prediction[] = new Array(batch);
  for (let r = 0; r < batch; r++) {
    const probs = softmaxAt(logits, r * width, width);
    const best = argmax(probs);
    const scores: Record<string, number> = {};
    for (let i = 0; i < width; i++) scores[labels[i] as string] = probs[i] as number;
    predictions[r] = { label: labels[best] as string, score: probs[best] as number, scores };
  }
  return predictions;
}
