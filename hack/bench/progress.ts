// How far a consumer group or a sink topic has got: what the throughput scenarios time by.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Admin, Kafka } from "kafkajs";
import { HarnessError } from "../harness/cli.ts";
import { recordCount } from "../harness/kafka-client.ts";

export async function committed(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (offsets?.partitions ?? []).reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
}

/** Waits until the group has committed `target` messages of `topic`, or `limitSeconds` pass. */
export async function awaitCommitted(
  admin: Admin,
  groupId: string,
  topic: string,
  target: number,
  limitSeconds: number,
) {
  const deadline = Date.now() + limitSeconds * 1000;
  for (;;) {
    const count = await committed(admin, groupId, topic);
    if (count >= target || Date.now() >= deadline) {
      if (count === 0) throw new HarnessError(`${groupId} never committed anything`);
      return;
    }
    await sleep(100);
  }
}

/**
 * Messages per second written to `topic`, from the create timestamps of its first and last records: what a
 * pipeline produced, timed without joining its group or the poll that noticed it was done. (A backlog is
 * fetched a megabyte per partition at a time, so commits come in a few large steps: too coarse to time by.)
 * `startedAt` (epoch ms), when known, replaces the first record's timestamp: a pipeline that writes only once a
 * whole fetched chunk is routed does much of its work before its first record, which that would leave untimed.
 */
export async function writeRate(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  startedAt?: number,
): Promise<number> {
  const total = await recordCount(admin, topic);
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let seen = 0;
  const reader = kafka.consumer({ groupId: `bench-rate-${randomUUID()}` });
  await reader.connect();
  await reader.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void reader.run({
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) {
          const at = Number(message.timestamp);
          first = Math.min(first, at);
          last = Math.max(last, at);
        }
        seen += batch.messages.length;
        if (seen >= total) resolve();
      },
    });
  });
  await reader.disconnect();
  if (startedAt !== undefined) {
    if (last <= startedAt) throw new HarnessError(`${topic}: no record written after the work started`);
    return (seen / (last - startedAt)) * 1000;
  }
  if (last <= first) throw new HarnessError(`${topic}: too few records (${seen}) to time`);
  return ((seen - 1) / (last - first)) * 1000;
}
