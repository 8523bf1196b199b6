// Answers the HPA's question "what is this pipeline's lag?" for the metrics API: find the pipeline the label
// selector names in the cache, read its group's offsets, and give the capped metric
// (autoscaling/lag-metric.ts). A pipeline that does not exist is 404; Kafka that cannot be read is 503 with the
// reason, so the HPA keeps the current scale rather than acting on a guess.
import type { ObjectCache } from "@kubernetes/client-node";
import { lagMetric, namespaceLabel } from "../autoscaling/lag-metric.ts";
import type { ConsumerLag } from "../kafka/lag.ts";
import { type ResolvedPipeline, resolvePipeline, type SentimentPipeline } from "../pipeline.ts";
import { pipelineLabel } from "../render/labels.ts";
import type { LagAnswer } from "./server.ts";

/** Reads a pipeline's consumer lag from Kafka; throws, saying why, when it cannot. */
export type ReadLag = (pipeline: ResolvedPipeline) => Promise<ConsumerLag>;

export function lagAnswerer(pipelines: Pick<ObjectCache<SentimentPipeline>, "get">, readLag: ReadLag) {
  return async (namespace: string, labels: Record<string, string>): Promise<LagAnswer> => {
    const name = labels[pipelineLabel];
    if (name === undefined) {
      return {
        ok: false,
        code: 400,
        message: `the label selector must name the pipeline: ${pipelineLabel}=<name>`,
      };
    }
    const labelledNamespace = labels[namespaceLabel];
    if (labelledNamespace !== undefined && labelledNamespace !== namespace) {
      return {
        ok: false,
        code: 400,
        message: `the label selector names namespace ${labelledNamespace} but the request is for namespace ${namespace}`,
      };
    }
    const object = pipelines.get(name, namespace);
    if (object === undefined)
      return { ok: false, code: 404, message: `no SentimentPipeline ${namespace}/${name}` };
    try {
      // Inside: a spec the operator refuses (InvalidPipelineError) has no lag to read either.
      const pipeline = resolvePipeline(object);
      const lag = await readLag(pipeline);
      return {
        ok: true,
        value: lagMetric(lag, pipeline.autoscaling.lagThreshold).value,
        labels: { [pipelineLabel]: name, [namespaceLabel]: namespace },
      };
    } catch (error) {
      return {
        ok: false,
        code: 503,
        message: `cannot read the consumer lag of ${namespace}/${name}: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  };
}
