// One coalesced write split into produce requests the broker accepts: a single request over its
// message.max.bytes would be refused whole.
import type { OutgoingRecord } from "../contract/records.ts";

export interface TopicMessages {
  topic: string;
  messages: OutgoingRecord[];
}

/**
 * Groups records by topic into produce requests of at most `maxBytes` of values each (a larger record goes
 * alone). kafkajs sends a partition's records as one batch, and a batch over the broker's message.max.bytes is
 * refused whole, so a large fetch must not become one request.
 */
export function produceRequests(
  records: { topic: string; record: OutgoingRecord }[],
  maxBytes: number,
): TopicMessages[][] {
  const requests: TopicMessages[][] = [];
  let current = new Map<string, OutgoingRecord[]>();
  let bytes = 0;
  const flush = () => {
    if (current.size > 0) requests.push([...current].map(([topic, messages]) => ({ topic, messages })));
    current = new Map();
    bytes = 0;
  };
  for (const { topic, record } of records) {
    const size = Buffer.byteLength(record.value);
    if (bytes > 0 && bytes + size > maxBytes) flush();
    const messages = current.get(topic);
    if (messages === undefined) current.set(topic, [record]);
    else messages.push(record);
    bytes += size;
  }
  flush();
  return requests;
}
