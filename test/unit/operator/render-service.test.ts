import { expect } from "chai";
import { selectorLabels, workerObjectMeta } from "../../../operator/src/render/labels.ts";
import { renderWorkerService } from "../../../operator/src/render/service.ts";
import { customSpec, defaultSpec, pipelineOf } from "./render-fixtures.ts";

describe("render: worker Service", () => {
  it("exposes the workers' http port (metrics) on a ClusterIP named after the pipeline", () => {
    for (const spec of [defaultSpec, customSpec]) {
      const pipeline = pipelineOf(spec);
      expect(renderWorkerService(pipeline)).to.deep.equal({
        apiVersion: "v1",
        kind: "Service",
        metadata: workerObjectMeta(pipeline),
        spec: {
          type: "ClusterIP",
          selector: selectorLabels(pipeline),
          ports: [{ name: "http", port: 8080, targetPort: "http", protocol: "TCP", appProtocol: "http" }],
          publishNotReadyAddresses: true,
        },
      });
    }
  });
});
