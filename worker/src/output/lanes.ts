// Writes that proceed independently per destination broker: a leader that is slow or cut off holds only the
// submissions with records for it, while writes to every other broker go on. Each lane is a CoalescingWriter
// (one write at a time, what is submitted meanwhile goes together in the next).
import { CoalescingWriter } from "./coalescing-writer.ts";

/** A lane is named by the node id of the leader its records go to; undefined for records not yet placed. */
export type Lane = number | undefined;

/** Where an item goes: its destination partition (any key unique per topic and partition) and that leader. */
export interface Destination {
  partition: string;
  leader: number;
}

/**
 * Which lane each destination partition takes: its leader's, unless records of that partition are still queued
 * or in flight in another lane (the leader moved meanwhile); then that lane, so no two writes to one partition
 * are ever in flight together (the idempotent producer numbers each partition's records in order).
 */
export class PartitionLanes {
  readonly #held = new Map<string, { lane: number; items: number }>();

  /** The lane for one item bound for `destination`, held until release(destination). */
  take(destination: Destination): number {
    const held = this.#held.get(destination.partition);
    if (held !== undefined) {
      held.items++;
      return held.lane;
    }
    this.#held.set(destination.partition, { lane: destination.leader, items: 1 });
    return destination.leader;
  }

  /** One item taken for `destination` is written (or failed). */
  release(destination: Destination): void {
    const held = this.#held.get(destination.partition);
    if (held === undefined) return;
    held.items--;
    if (held.items === 0) this.#held.delete(destination.partition);
  }
}

export class LaneWriter<T> {
  readonly #write: (items: T[]) => Promise<void>;
  readonly #lanes = new Map<Lane, CoalescingWriter<T>>();
  readonly #partitions = new PartitionLanes();

  /** `write` writes one lane's coalesced items; the lanes' writes run concurrently. */
  constructor(write: (items: T[]) => Promise<void>) {
    this.#write = write;
  }

  /**
   * Resolves when every item is written, each in the lane of its destination (undefined: not yet known, one
   * lane of their own); rejects if a write holding any of them fails.
   */
  submit(items: readonly { item: T; destination: Destination | undefined }[]): Promise<void> {
    const byLane = new Map<Lane, { items: T[]; destinations: Destination[] }>();
    for (const { item, destination } of items) {
      const lane = destination === undefined ? undefined : this.#partitions.take(destination);
      let group = byLane.get(lane);
      if (group === undefined) {
        group = { items: [], destinations: [] };
        byLane.set(lane, group);
      }
      group.items.push(item);
      if (destination !== undefined) group.destinations.push(destination);
    }
    return Promise.all(
      [...byLane].map(([lane, group]) =>
        this.#lane(lane)
          .submit(group.items)
          .finally(() => {
            for (const destination of group.destinations) this.#partitions.release(destination);
          }),
      ),
    ).then(() => {});
  }

  #lane(lane: Lane): CoalescingWriter<T> {
    let writer = this.#lanes.get(lane);
    if (writer === undefined) {
      writer = new CoalescingWriter(this.#write);
      this.#lanes.set(lane, writer);
    }
    return writer;
  }
}
