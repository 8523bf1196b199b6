// kafkajs's idempotent producer numbers each partition's records when it builds a request and moves the numbers
// on only when the whole request succeeds: two writes in flight to one partition take the same numbers, and a
// refused request leaves the partitions it did append behind the broker until they are sent again unchanged.
// Either way a write that comes between is refused as out of order, the producer must be replaced, and its resend
// appends twice what had been written. So writes that share a partition take turns; a write to a topic whose
// partitions are not yet known holds the whole topic.

/** What one send writes to: named partitions, or whole topics where a record's partition is not yet known. */
export interface SendScope {
  partitions: ReadonlySet<string>;
  topics: ReadonlySet<string>;
}

/** `topic/partition`, the name of one partition in a scope. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

function topicOf(key: string): string {
  return key.slice(0, key.lastIndexOf("/"));
}

/** Pure: may sends with these scopes be in flight together? */
export function overlaps(a: SendScope, b: SendScope): boolean {
  for (const topic of a.topics) {
    if (b.topics.has(topic) || [...b.partitions].some((key) => topicOf(key) === topic)) return true;
  }
  for (const key of a.partitions) {
    if (b.partitions.has(key) || b.topics.has(topicOf(key))) return true;
  }
  return false;
}

export class PartitionLocks {
  readonly #held = new Map<SendScope, Promise<void>>();

  /** Runs `send` once no send in flight shares a partition with `scope`. */
  async run<T>(scope: SendScope, send: () => Promise<T>): Promise<T> {
    for (;;) {
      const blocking = [...this.#held].filter(([held]) => overlaps(held, scope)).map(([, done]) => done);
      if (blocking.length === 0) break;
      await Promise.all(blocking);
    }
    let release = () => {};
    this.#held.set(scope, new Promise<void>((resolve) => (release = resolve)));
    try {
      return await send();
    } finally {
      this.#held.delete(scope);
      release();
    }
  }
}
