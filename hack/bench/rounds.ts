// Drains measured in rounds on a shared host, where a slow stretch slows every process at once.
import type { CpuSplit } from "./cpu-split.ts";

/** One drain's rate, and where its CPU went (undefined where /proc is not Linux's). */
export interface Drain {
  rate: number;
  cpu: CpuSplit | undefined;
}

/** The round that drained fastest: interference on a shared host only ever slows a drain down. */
export function fastest(rounds: readonly Drain[]): Drain {
  const [first, ...rest] = rounds;
  if (first === undefined) throw new RangeError("no rounds to choose the fastest of");
  return rest.reduce((best, round) => (round.rate > best.rate ? round : best), first);
}
