// An admin client for one pipeline's Kafka, with the credentials its spec's Secrets hold, for one use and then
// closed (see admin.ts): what every Kafka call of a reconcile goes through.
import type { ResolvedPipeline } from "../pipeline.ts";
import { type KafkaLogEntry, TopicAdmin } from "./admin.ts";
import { resolveKafkaCredentials, type SecretReader } from "./credentials.ts";
import { KafkaAdminError } from "./errors.ts";

/** kafkajs's own errors and warnings, with the pipeline ("namespace/name") whose Kafka they come from. */
export type KafkaLog = (entry: KafkaLogEntry, pipeline: string) => void;

/** Runs `use` with an admin client for the pipeline's Kafka, credentials and all, and closes it. */
export async function withPipelineAdmin<T>(
  pipeline: ResolvedPipeline,
  readSecret: SecretReader,
  onLog: KafkaLog | undefined,
  use: (admin: TopicAdmin) => Promise<T>,
): Promise<T> {
  const resolved = await resolveKafkaCredentials(pipeline, readSecret);
  // Not retriable: reading the same Secrets again gives the same answer until one of them changes.
  if (!resolved.ok) throw new KafkaAdminError(resolved.reason, resolved.message, false);
  const key = `${pipeline.namespace}/${pipeline.name}`;
  const admin = new TopicAdmin({
    bootstrapServers: pipeline.kafka.bootstrapServers,
    ...resolved.credentials,
    ...(onLog === undefined ? {} : { onLog: (entry: KafkaLogEntry) => onLog(entry, key) }),
  });
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}
