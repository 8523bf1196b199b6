// Which of a pipeline's topics another pipeline holds. Kafka topics carry no owner (their configs take no
// arbitrary keys), but the operator sees every pipeline it serves, so a claim is decided among them: two
// pipelines on one Kafka that resolve to the same topic would both consume every request, and one's
// deletionPolicy would delete the other's live topic. Of two claimants, the one that created the topic (its
// status.topics.created says so) keeps it; otherwise the older pipeline does (then the smaller
// "namespace/name"), so both reconciles agree on who is refused whatever order they run in.
import { type ResolvedPipeline, resolvePipelineOrRefusal, type SentimentPipeline } from "../pipeline.ts";

export interface TopicClaim {
  topic: string;
  /** "namespace/name" of the pipeline that holds the topic. */
  claimant: string;
}

/**
 * Two pipelines are taken to share a Kafka when their bootstrap lists share a broker address. Addresses are
 * all the operator knows before it connects; two spellings of one cluster are not recognised.
 */
function sameKafka(a: ResolvedPipeline, b: ResolvedPipeline): boolean {
  const servers = new Set(a.kafka.bootstrapServers.map((server) => server.toLowerCase()));
  return b.kafka.bootstrapServers.some((server) => servers.has(server.toLowerCase()));
}

function roleNames(pipeline: ResolvedPipeline): string[] {
  const { requests, responses, deadLetter } = pipeline.topics;
  return [requests, responses, deadLetter];
}

function createdBy(object: SentimentPipeline, topic: string): boolean {
  return object.status?.topics?.created?.includes(topic) ?? false;
}

function keyOf(object: SentimentPipeline): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name ?? ""}`;
}

/** Whether `other` keeps `topic` rather than `self`. */
function holdsBefore(other: SentimentPipeline, self: SentimentPipeline, topic: string): boolean {
  const otherCreated = createdBy(other, topic);
  if (otherCreated !== createdBy(self, topic)) return otherCreated;
  const age = (object: SentimentPipeline) =>
    object.metadata.creationTimestamp === undefined
      ? Number.POSITIVE_INFINITY
      : new Date(object.metadata.creationTimestamp).getTime();
  if (age(other) !== age(self)) return age(other) < age(self);
  return keyOf(other) < keyOf(self);
}

/** The topics of `self` (resolved as `pipeline`) that another of `all` holds, each with who holds it. */
export function claimedTopics(
  self: SentimentPipeline,
  pipeline: ResolvedPipeline,
  all: readonly SentimentPipeline[],
): TopicClaim[] {
  const claims: TopicClaim[] = [];
  const mine = [...new Set(roleNames(pipeline))];
  for (const other of all) {
    if (keyOf(other) === keyOf(self)) continue;
    const theirs = resolvePipelineOrRefusal(other).pipeline;
    if (!sameKafka(pipeline, theirs)) continue;
    const shared = new Set(roleNames(theirs));
    for (const topic of mine) {
      if (shared.has(topic) && holdsBefore(other, self, topic))
        claims.push({ topic, claimant: keyOf(other) });
    }
  }
  return claims;
}

/** The TopicsReady message of a refused claim. */
export function describeClaims(claims: readonly TopicClaim[]): string {
  const each = claims.map(({ topic, claimant }) => `topic "${topic}" belongs to pipeline ${claimant}`);
  return (
    `${each.join("; ")} on the same Kafka: two pipelines on one topic would both consume every request. ` +
    "Name other topics in spec.topics; nothing was created or changed"
  );
}
