// Percentiles of end-to-end latencies, and where the time went by the timing each response carries.

export const timingParts = ["queueMs", "batchWaitMs", "inferenceMs"] as const;
export type ResponseTiming = Record<(typeof timingParts)[number], number>;

/** One answered request: its end-to-end latency and the timing its response carries. */
export interface LatencySample extends ResponseTiming {
  totalMs: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The median of each part over `samples`; the rest of the total is the wait for the writer (the response
 * timestamp is taken when its produce request is made). */
function breakdown(samples: LatencySample[]): ResponseTiming & { writeMs: number } {
  const median = (values: number[]) =>
    percentile(
      values.sort((a, b) => a - b),
      50,
    );
  const parts = Object.fromEntries(timingParts.map((part) => [part, median(samples.map((s) => s[part]))]));
  const writeMs = median(
    samples.map((s) => s.totalMs - s.queueMs - s.batchWaitMs - s.inferenceMs).map((ms) => Math.max(0, ms)),
  );
  return { ...(parts as ResponseTiming), writeMs };
}

export type Breakdown = ReturnType<typeof breakdown>;

export const describeBreakdown = (b: Breakdown) =>
  `${b.queueMs.toFixed(1)} ms in Kafka before the fetch, ${b.batchWaitMs.toFixed(1)} ms waiting for its batch, ` +
  `${b.inferenceMs.toFixed(1)} ms of inference, ${b.writeMs.toFixed(1)} ms waiting to be written`;

/** p50/p95/p99 of `totalsMs`. */
export function percentiles(totalsMs: number[]): Record<"p50" | "p95" | "p99", number> {
  const sorted = [...totalsMs].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), p99: percentile(sorted, 99) };
}

/** p50/p95/p99 of the end-to-end latencies in `samples`, and where the time went. */
export function latencySummary(samples: LatencySample[]) {
  const totals = percentiles(samples.map((s) => s.totalMs));
  return {
    ...totals,
    // Where the time went, from the timing each response carries: for the median request, and for the slowest 1%.
    median: breakdown(samples),
    slowest: breakdown(samples.filter((s) => s.totalMs >= totals.p99)),
  };
}

export type LatencySummary = ReturnType<typeof latencySummary>;
