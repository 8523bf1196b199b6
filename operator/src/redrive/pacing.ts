// The redrive's rate limit, as a pure schedule: the n-th record since the runner started may go no earlier than
// n / ratePerSecond seconds after the start. A pause (a slow broker) is not made up for by a burst beyond one
// chunk, and records go in chunks of a tenth of a second's worth, one Kafka transaction each, so the live
// requests beside them never meet more than that at once.

/** Records per transaction: a tenth of a second's worth, at least one, at most 500. */
export function chunkSizeFor(ratePerSecond: number): number {
  return Math.min(500, Math.max(1, Math.floor(ratePerSecond / 10)));
}

export class Pacer {
  #sent = 0;
  #startMs: number;

  constructor(
    private readonly ratePerSecond: number,
    nowMs: number,
  ) {
    this.#startMs = nowMs;
  }

  /** How long to wait before sending `count` more records. */
  delayMs(count: number, nowMs: number): number {
    // Not behind by more than one chunk: a runner that stalled does not then send a burst to catch up.
    const earliest = this.#startMs + (this.#sent * 1000) / this.ratePerSecond;
    if (nowMs - earliest > (count * 1000) / this.ratePerSecond) {
      this.#startMs = nowMs - (this.#sent * 1000) / this.ratePerSecond;
      return 0;
    }
    return Math.max(0, Math.ceil(earliest - nowMs));
  }

  /** `count` records went. */
  sent(count: number): void {
    this.#sent += count;
  }
}
