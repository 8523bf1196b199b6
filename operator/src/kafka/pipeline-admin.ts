// An admin client for one pipeline's Kafka, with the credentials its spec's Secrets hold, on the connection the
// pool keeps for that Kafka and those credentials (see admin-pool.ts): what every Kafka call of a reconcile, a
// replay and a metrics read goes through.
import type { ResolvedPipeline } from "../pipeline.ts";
import type { TopicAdmin } from "./admin.ts";
import type { AdminPool } from "./admin-pool.ts";
import type { SecretReader } from "./credentials.ts";
import { pipelineConnection } from "./pipeline-connection.ts";

/** Runs `use` with an admin client for the pipeline's Kafka, credentials and all, and then ends that use. */
export async function withPipelineAdmin<T>(
  admins: AdminPool,
  pipeline: ResolvedPipeline,
  readSecret: SecretReader,
  use: (admin: TopicAdmin) => Promise<T>,
): Promise<T> {
  const admin = admins.lease(await pipelineConnection(pipeline, readSecret));
  try {
    return await use(admin);
  } finally {
    await admin.close();
  }
}
