// The SentimentRedrive resource as the operator sees it: the stored object's shape, and the redrive with every
// default resolved and every derived name decided. crds/sentimentredrives.kubesentiment.io.yaml holds the schema;
// its defaults are applied again here, so an object read from a fixture resolves the same.
import type { V1ObjectMeta } from "@kubernetes/client-node";
import type { ConditionOf } from "../controller/conditions.ts";

export const redrivePlural = "sentimentredrives";
export const redriveKind = "SentimentRedrive";

export type RedrivePhase = "Pending" | "Running" | "Done" | "Failed";

export interface RedriveSpec {
  pipeline: string;
  codes?: string[];
  since?: string;
  until?: string;
  limit?: number;
  ratePerSecond?: number;
  maxRedrives?: number;
}

/** Offsets as decimal strings, as the dead letter writes them (offsets exceed 2^53). */
export interface RedrivePartition {
  partition: number;
  startOffset: string;
  endOffset: string;
  nextOffset: string;
}

export type RedriveConditionType = "Complete" | "Failed";
export type RedriveCondition = ConditionOf<RedriveConditionType>;

export interface RedriveStatus {
  observedGeneration?: number;
  phase?: RedrivePhase;
  conditions?: RedriveCondition[];
  partitions?: RedrivePartition[];
  sent?: number;
  skipped?: number;
  skippedAtBound?: number;
  startTime?: string;
  completionTime?: string;
}

export interface SentimentRedrive {
  apiVersion: string;
  kind: string;
  metadata: V1ObjectMeta;
  spec: RedriveSpec;
  status?: RedriveStatus;
}

/**
 * 50 a second: a small share of what one worker answers with the built-in model (`npm run bench` measures it),
 * so the live requests beside a redrive keep their latency, while a redrive of 10,000 dead letters still takes
 * under four minutes. Raise it for a pipeline with room to spare.
 */
export const defaultRatePerSecond = 50;
/** Three tries after the first failure: enough for a request that met a passing outage, few enough to stop a loop. */
export const defaultMaxRedrives = 3;

export interface ResolvedRedrive {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  pipeline: string;
  /** Undefined: every code. */
  codes: ReadonlySet<string> | undefined;
  /** Epoch ms bounds on the dead letter's Kafka timestamp: since inclusive, until exclusive. */
  sinceMs: number | undefined;
  untilMs: number | undefined;
  limit: number | undefined;
  ratePerSecond: number;
  maxRedrives: number;
  /**
   * The consumer group whose committed offsets are this redrive's progress, and the transactional id that
   * commits them with the records sent. Both stable for the life of the object, and unique to it (the uid), so a
   * restarted operator resumes it and fences its predecessor, while a new redrive of the same name starts afresh.
   */
  consumerGroup: string;
  transactionalId: string;
}

export function resolveRedrive(redrive: SentimentRedrive): ResolvedRedrive {
  const { metadata, spec } = redrive;
  const name = metadata.name ?? "";
  const namespace = metadata.namespace ?? "default";
  const uid = metadata.uid ?? "";
  const id = `kubesentiment-redrive.${namespace}.${name}.${uid}`;
  return {
    name,
    namespace,
    uid,
    generation: metadata.generation ?? 0,
    pipeline: spec.pipeline,
    codes: spec.codes === undefined ? undefined : new Set(spec.codes),
    sinceMs: spec.since === undefined ? undefined : Date.parse(spec.since),
    untilMs: spec.until === undefined ? undefined : Date.parse(spec.until),
    limit: spec.limit,
    ratePerSecond: spec.ratePerSecond ?? defaultRatePerSecond,
    maxRedrives: spec.maxRedrives ?? defaultMaxRedrives,
    consumerGroup: id,
    transactionalId: id,
  };
}

/** Done and Failed are final: nothing more is sent. */
export function isFinished(redrive: SentimentRedrive): boolean {
  return redrive.status?.phase === "Done" || redrive.status?.phase === "Failed";
}
