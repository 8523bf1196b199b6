// An admin client for one pipeline's Kafka, with the credentials its spec's Secrets hold, for one use and then
// closed (see admin.ts): what every Kafka call of a reconcile goes through.
import type { ResolvedPipeline } from "../pipeline.ts";
import { TopicAdmin } from "./admin.ts";
import type { KafkaLogEntry } from "./client.ts";
import type { SecretReader } from "./credentials.ts";
import { pipelineConnection } from "./pipeline-connection.ts";

/** kafkajs's own errors and warnings, with the pipeline ("namespace/name") whose Kafka they come from. */
export type KafkaLog = (entry: KafkaLogEntry, pipeline: string) => void;

/** Runs `use` with an admin client for the pipeline's Kafka, credentials and all, and closes it. */
export async function withPipelineAdmin<T>(
  pipeline: ResolvedPipeline,
  readSecret: SecretReader,
  onLog: KafkaLog | undefined,
  use: (admin: TopicAdmin) => Promise<T>,
): Promise<T> {
  const connection = await pipelineConnection(pipeline, readSecret);
  const key = `${pipeline.namespace}/${pipeline.name}`;
  const admin = new TopicAdmin({
    ...connection,
    ...(onLog === undefined ? {} : { onLog: (entry: KafkaLogEntry) => onLog(entry, key) }),
  });
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}
