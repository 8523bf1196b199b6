import { readFileSync } from "node:fs";
import { loadYaml } from "@kubernetes/client-node";
import { expect } from "chai";
import { type WorkerIntegerVariable, workerIntegerSettings } from "../../common/src/worker-env.ts";

interface SchemaNode {
  minimum?: number;
  maximum?: number;
  properties?: Record<string, SchemaNode>;
}

const crd = loadYaml(
  readFileSync(new URL("../../crds/sentimentpipelines.kubesentiment.io.yaml", import.meta.url), "utf8"),
) as {
  spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
};

function specField(path: string): SchemaNode {
  const [version] = crd.spec.versions;
  if (version === undefined) throw new Error("the CRD has no version");
  return path.split(".").reduce<SchemaNode>((node, name) => {
    const child = node.properties?.[name];
    if (child === undefined) throw new Error(`the CRD has no field ${path}`);
    return child;
  }, version.schema.openAPIV3Schema);
}

/** The spec fields the operator renders into the worker's numeric variables (render/worker-env.ts). */
const renderedFrom: Record<string, WorkerIntegerVariable> = {
  "spec.model.maxSequenceLength": "MODEL_MAX_SEQUENCE_LENGTH",
  "spec.model.threads": "MODEL_THREADS",
  "spec.model.intraOpThreads": "MODEL_INTRA_OP_THREADS",
  "spec.worker.batch.maxSize": "BATCH_MAX_SIZE",
  "spec.worker.batch.maxWaitMs": "BATCH_MAX_WAIT_MS",
  "spec.worker.retry.maxAttempts": "RETRY_MAX_ATTEMPTS",
  "spec.worker.retry.initialBackoffMs": "RETRY_INITIAL_BACKOFF_MS",
  "spec.worker.retry.maxBackoffMs": "RETRY_MAX_BACKOFF_MS",
  "spec.worker.circuitBreaker.failureThreshold": "BREAKER_FAILURE_THRESHOLD",
  "spec.worker.circuitBreaker.resetTimeoutMs": "BREAKER_RESET_TIMEOUT_MS",
};

describe("worker configuration contract", () => {
  // A value the API server admits but the worker refuses would crash-loop every pod of the pipeline.
  for (const [path, variable] of Object.entries(renderedFrom)) {
    it(`admits for ${path} only values ${variable} accepts`, () => {
      const field = specField(path);
      const accepted = workerIntegerSettings[variable];
      expect(field.minimum, `${path} minimum`).to.be.a("number").and.at.least(accepted.min);
      expect(field.maximum, `${path} maximum`).to.be.a("number").and.at.most(accepted.max);
    });
  }
});
