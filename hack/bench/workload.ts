// The bench's workload, the same for every scenario: its topics and the requests it produces.
import { type Kafka, Partitioners } from "kafkajs";
import { createTopic } from "../harness/kafka-client.ts";

export const partitions = 8;

export const sampleTexts = [
  "an absolute delight from start to finish",
  "a tedious, joyless mess",
  "the performances are wonderful and the script is sharp and funny",
  "i wanted my two hours back before the first act was over",
  "a moving, beautifully shot film that stays with you",
  "dull, predictable and far too long",
];

export function request(index: number): string {
  return JSON.stringify({ id: `b-${index}`, text: sampleTexts[index % sampleTexts.length] });
}

export async function createTopics(servers: string[], names: string[]): Promise<void> {
  for (const topic of names) await createTopic(servers, topic, partitions, 1);
}

export async function produceAll(kafka: Kafka, topic: string, count: number): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const chunk = 2_000;
  for (let start = 0; start < count; start += chunk) {
    const size = Math.min(chunk, count - start);
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: size }, (_, i) => ({
        key: `b-${start + i}`,
        value: request(start + i),
      })),
    });
  }
  await producer.disconnect();
}
