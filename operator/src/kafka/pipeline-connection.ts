// Where a pipeline's Kafka is and how to log in to it, its Secrets read: what the reconcile's admin client and
// the kubectl plugin's clients both connect with.
import type { ResolvedPipeline } from "../pipeline.ts";
import type { KafkaConnection } from "./client.ts";
import { type KafkaIdentity, resolveKafkaCredentials, type SecretReader } from "./credentials.ts";
import { KafkaAdminError } from "./errors.ts";

/**
 * The connection as the operator (default) or as the workers. Throws a KafkaAdminError naming the field, Secret
 * and key when a Secret or key the spec names is missing.
 */
export async function pipelineConnection(
  pipeline: ResolvedPipeline,
  readSecret: SecretReader,
  identity: KafkaIdentity = "operator",
): Promise<KafkaConnection> {
  const resolved = await resolveKafkaCredentials(pipeline, readSecret, identity);
  // Not retriable: reading the same Secrets again gives the same answer until one of them changes.
  if (!resolved.ok) throw new KafkaAdminError(resolved.reason, resolved.message, false);
  return { bootstrapServers: pipeline.kafka.bootstrapServers, ...resolved.credentials };
}
