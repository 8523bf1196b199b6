/**
 * Which offsets the worker may commit. Batches are handed off as they are fetched and finish out of order;
 * an offset becomes committable only when every batch fetched before it on its partition has had all its
 * responses and dead letters acknowledged (at-least-once). Pure bookkeeping: commit-scheduler.ts decides
 * when to commit, and the consume loop does the I/O.
 */

export interface OffsetToCommit {
  topic: string;
  partition: number;
  /** The next offset to consume, as Kafka commits it. */
  offset: string;
}

interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Fetched batches not yet part of the acknowledged prefix, in fetch order. */
  readonly open: Ticket[];
  /** The end of the acknowledged prefix; never moves back. */
  committable: bigint;
  /** The highest offset a commit has succeeded for; never moves back. */
  committed: bigint;
}

/** One fetched batch of one partition, from `track` to `ack`. */
export interface Ticket {
  readonly next: bigint;
  readonly messages: number;
  status: "open" | "acknowledged" | "abandoned";
  /** Cleared when the partition is revoked: acknowledging the ticket then changes nothing. */
  state: PartitionState | undefined;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class CommitTracker {
  readonly #partitions = new Map<string, PartitionState>();
  #unacknowledged = 0;

  /** Messages handed off and not yet acknowledged, across partitions. */
  get unacknowledged(): number {
    return this.#unacknowledged;
  }

  /** Registers a fetched batch ending at `lastOffset`, behind every batch of its partition tracked before. */
  track(topic: string, partition: number, lastOffset: string, messages: number): Ticket {
    const key = keyOf(topic, partition);
    let state = this.#partitions.get(key);
    if (state === undefined) {
      state = { topic, partition, open: [], committable: -1n, committed: -1n };
      this.#partitions.set(key, state);
    }
    const ticket: Ticket = { next: BigInt(lastOffset) + 1n, messages, status: "open", state };
    state.open.push(ticket);
    this.#unacknowledged += messages;
    return ticket;
  }

  /** Every result of the ticket's batch is acknowledged by Kafka. */
  acknowledge(ticket: Ticket): void {
    if (ticket.status !== "open") return;
    ticket.status = "acknowledged";
    this.#unacknowledged -= ticket.messages;
    const state = ticket.state;
    if (state === undefined) return;
    while (state.open[0]?.status === "acknowledged") {
      const done = state.open.shift() as Ticket;
      // A batch fetched again after a rebalance can end below what is already committable.
      if (done.next > state.committable) state.committable = done.next;
    }
  }

  /** A ticket whose batch will never be acknowledged (the pipeline failed): it stops counting as pending. */
  abandon(ticket: Ticket): void {
    if (ticket.status !== "open") return;
    // It stays first in its partition's line for good: nothing fetched after it is ever committed.
    ticket.status = "abandoned";
    this.#unacknowledged -= ticket.messages;
  }

  /** Whether the ticket's partition is still this member's. */
  owns(ticket: Ticket): boolean {
    return ticket.state !== undefined;
  }

  /** Partitions whose acknowledged prefix is ahead of their last successful commit. */
  due(): OffsetToCommit[] {
    const offsets: OffsetToCommit[] = [];
    for (const state of this.#partitions.values()) {
      if (state.committable > state.committed) {
        offsets.push({
          topic: state.topic,
          partition: state.partition,
          offset: state.committable.toString(),
        });
      }
    }
    return offsets;
  }

  /** Records a successful commit of `offsets` (from `due`). */
  committed(offsets: readonly OffsetToCommit[]): void {
    for (const { topic, partition, offset } of offsets) {
      const state = this.#partitions.get(keyOf(topic, partition));
      if (state !== undefined && BigInt(offset) > state.committed) state.committed = BigInt(offset);
    }
  }

  /**
   * Forgets the partitions this member no longer owns, so no late commit moves back the offset their new
   * owner commits. Their batches in flight still finish; what they wrote is answered twice at worst.
   */
  retain(isAssigned: (topic: string, partition: number) => boolean): void {
    for (const [key, state] of this.#partitions) {
      if (isAssigned(state.topic, state.partition)) continue;
      for (const ticket of state.open) ticket.state = undefined;
      this.#partitions.delete(key);
    }
  }
}
