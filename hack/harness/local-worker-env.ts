// The environment of a worker run locally on three topics (tests and the bench): the cluster, its own group,
// no fixed HTTP port, quiet logs. The caller's MODEL_* and BATCH_* variables pass through, so a run can try
// another model (a DistilBERT export, say) or other batching without code changes.

export interface WorkerTopics {
  requests: string;
  responses: string;
  deadLetter: string;
}

/** The consumer group of a locally run worker unless its caller names another. */
export function defaultWorkerGroupId(topics: WorkerTopics): string {
  return `group-${topics.requests}`;
}

export function localWorkerEnv(
  bootstrapServers: readonly string[],
  topics: WorkerTopics,
  groupId = defaultWorkerGroupId(topics),
): Record<string, string> {
  const passed = Object.entries(process.env).filter(
    (entry): entry is [string, string] => /^(MODEL|BATCH)_/.test(entry[0]) && entry[1] !== undefined,
  );
  return {
    KAFKA_BOOTSTRAP_SERVERS: bootstrapServers.join(","),
    KAFKA_GROUP_ID: groupId,
    TOPIC_REQUESTS: topics.requests,
    TOPIC_RESPONSES: topics.responses,
    TOPIC_DEAD_LETTER: topics.deadLetter,
    HTTP_PORT: "0",
    LOG_LEVEL: "error",
    ...Object.fromEntries(passed),
  };
}
