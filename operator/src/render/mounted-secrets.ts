// The Secrets a worker pod mounts as files. Without one of them, or a key of it, the kubelet never starts the pod
// and says why only in the pod's Events (FailedMount): the pod waits in ContainerCreating, which looks like any
// pod on its way up. The operator reads these when workers do not come up (controller/reconcile.ts).
import type { SecretUse } from "../kube/secret-problem.ts";
import type { ResolvedPipeline } from "../pipeline.ts";
import { kafkaTlsSecretMounts } from "./worker-env.ts";

export function mountedSecrets(pipeline: ResolvedPipeline): SecretUse[] {
  const { namespace } = pipeline;
  const source = pipeline.model.source;
  return [
    ...kafkaTlsSecretMounts(pipeline).map(({ field, ref, keys }) => ({
      field,
      namespace,
      name: ref.name,
      keys,
    })),
    ...(source.kind === "url" && source.caSecretRef !== undefined
      ? [
          {
            field: "spec.model.source.url.caSecretRef",
            namespace,
            name: source.caSecretRef.name,
            keys: [source.caSecretRef.key],
          },
        ]
      : []),
  ];
}
