import { expect } from "chai";
import {
  ownerReference,
  selectorLabels,
  workerLabels,
  workerName,
  workerObjectMeta,
} from "../../../operator/src/render/labels.ts";
import { defaultSpec, pipelineOf } from "./render-fixtures.ts";

describe("render: labels, names, owner reference", () => {
  const pipeline = pipelineOf(defaultSpec);

  it("names the owned objects after the pipeline", () => {
    expect(workerName(pipeline)).to.equal("reviews-worker");
  });

  it("labels owned objects with the recommended labels and the pipeline", () => {
    expect(workerLabels(pipeline)).to.deep.equal({
      "app.kubernetes.io/name": "kubesentiment-worker",
      "app.kubernetes.io/instance": "reviews",
      "app.kubernetes.io/managed-by": "kubesentiment-operator",
      "app.kubernetes.io/component": "worker",
      "kubesentiment.io/pipeline": "reviews",
    });
  });

  it("selects by a subset of the labels that depends only on the pipeline's name", () => {
    const selector = selectorLabels(pipeline);
    expect(selector).to.deep.equal({
      "app.kubernetes.io/name": "kubesentiment-worker",
      "app.kubernetes.io/instance": "reviews",
    });
    expect(workerLabels(pipeline)).to.include(selector);
    // Everything but the name may change between generations; the selector must not.
    const changed = pipelineOf({ ...defaultSpec, worker: { image: "other:2" }, topics: { partitions: 16 } });
    expect(selectorLabels(changed)).to.deep.equal(selector);
  });

  it("makes the pipeline the controlling owner", () => {
    expect(ownerReference(pipeline)).to.deep.equal({
      apiVersion: "kubesentiment.io/v1alpha1",
      kind: "SentimentPipeline",
      name: "reviews",
      uid: "0b5e6c9a-1111-4222-8333-444455556666",
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it("puts name, namespace, labels and owner into the metadata of owned objects", () => {
    expect(workerObjectMeta(pipeline)).to.deep.equal({
      name: "reviews-worker",
      namespace: "shop",
      labels: workerLabels(pipeline),
      ownerReferences: [ownerReference(pipeline)],
    });
  });
});
