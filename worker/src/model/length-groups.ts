/**
 * Splits a batch into runs of similar length. A batch is padded to its longest row, so a 60-token review in a
 * batch of 5-token ones makes the model pay 60 tokens for every row; on SST-2 dev text that padding is about
 * half of the inference work. Each run also has a fixed cost, so splitting pays only where lengths differ
 * enough: the groups minimise (runs × runCostInTokens + Σ rows × the longest row of their run).
 */

/**
 * Indices of `lengths` in groups to run together: every index exactly once, each group's rows of similar length,
 * groups in ascending length. The split is optimal for the cost model above (dynamic programming over the
 * distinct lengths, so at most maxSequenceLength² steps however large the batch).
 */
export function groupByLength(lengths: readonly number[], runCostInTokens: number): number[][] {
  if (!(runCostInTokens >= 0)) throw new RangeError(`runCostInTokens must be >= 0, got ${runCostInTokens}`);
  const order = lengths
    .map((_, index) => index)
    .sort((a, b) => (lengths[a] as number) - (lengths[b] as number));
  // Boundaries worth considering: a split between two rows of equal length only adds a run.
  const ends: number[] = [];
  for (let i = 1; i <= order.length; i++) {
    if (i === order.length || lengths[order[i] as number] !== lengths[order[i - 1] as number]) ends.push(i);
  }
  // cost[k]: the cheapest way to run the first ends[k] sorted rows; from[k]: where its last group starts.
  const cost: number[] = new Array(ends.length);
  const from: number[] = new Array(ends.length);
  for (let k = 0; k < ends.length; k++) {
    const end = ends[k] as number;
    const width = lengths[order[end - 1] as number] as number;
    let best = runCostInTokens + end * width;
    let bestStart = -1;
    for (let j = 0; j < k; j++) {
      const start = ends[j] as number;
      const candidate = (cost[j] as number) + runCostInTokens + (end - start) * width;
      if (candidate < best) {
        best = candidate;
        bestStart = j;
      }
    }
    cost[k] = best;
    from[k] = bestStart;
  }
  const groups: number[][] = [];
  for (let k = ends.length - 1; k >= 0; k = from[k] as number) {
    const start = from[k] === -1 ? 0 : (ends[from[k] as number] as number);
    groups.unshift(order.slice(start, ends[k]));
  }
  return groups;
}
