// Where the worker finds its model, per spec.model.source: what the pod needs for it (volumes, mounts, an init
// container) and the MODEL_DIR that points the worker there. The built-in model needs nothing: the worker's
// default MODEL_DIR is the model baked into its image.
import type { V1Container, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { fetchModelScript } from "../../../common/src/worker-env.ts";
import type { CaSecretRef, ModelSource } from "../pipeline.ts";
import { secretVolume } from "./secret-volume.ts";

const modelMountPath = "/models";
const modelVolume = "model";

/** Where the fetcher reads the CA of spec.model.source.url.caSecretRef; the worker container never sees it. */
export const modelCaMountPath = "/etc/kubesentiment/model/ca";
const modelCaVolume = "model-ca";

/**
 * The fetcher's side of a private CA: the Secret's one key mounted read-only, and NODE_EXTRA_CA_CERTS naming
 * it, which Node reads at start and adds to its public roots for every TLS connection, fetch's included. The
 * fetcher itself refuses to start when that file cannot be read (Node would only warn).
 */
function modelCaParts(ref: Required<CaSecretRef> | undefined): {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  env: V1EnvVar[];
} {
  if (ref === undefined) return { volumes: [], mounts: [], env: [] };
  return {
    volumes: [secretVolume(modelCaVolume, ref.name, [ref.key])],
    mounts: [{ name: modelCaVolume, mountPath: modelCaMountPath, readOnly: true }],
    env: [{ name: "NODE_EXTRA_CA_CERTS", value: `${modelCaMountPath}/${ref.key}` }],
  };
}

/** MODEL_DIR for the worker; undefined leaves the worker's default, the image's built-in model. */
export function modelDir(source: ModelSource): string | undefined {
  return source.kind === "builtin" ? undefined : modelMountPath;
}

export interface ModelPodParts {
  volumes: V1Volume[];
  /** Mounts of the worker container: always read-only, the worker never writes its model. */
  workerMounts: V1VolumeMount[];
  initContainers: V1Container[];
}

/**
 * `container` is the worker container's image, resources, security context and termination message policy: the
 * fetcher runs the same image (no second image to pull, pin or scan) under the same restrictions, and its
 * failure reaches the pipeline's status the same way.
 */
export function modelPodParts(
  source: ModelSource,
  container: Pick<V1Container, "image" | "resources" | "securityContext" | "terminationMessagePolicy">,
): ModelPodParts {
  switch (source.kind) {
    case "builtin":
      return { volumes: [], workerMounts: [], initContainers: [] };
    case "volume":
      return {
        volumes: [
          { name: modelVolume, persistentVolumeClaim: { claimName: source.claimName, readOnly: true } },
        ],
        workerMounts: [
          {
            name: modelVolume,
            mountPath: modelMountPath,
            readOnly: true,
            ...(source.subPath === undefined ? {} : { subPath: source.subPath }),
          },
        ],
        initContainers: [],
      };
    case "url": {
      const ca = modelCaParts(source.caSecretRef);
      return {
        // Per pod, filled before the worker starts; the archive's sha256 pins what every pod gets.
        volumes: [{ name: modelVolume, emptyDir: {} }, ...ca.volumes],
        workerMounts: [{ name: modelVolume, mountPath: modelMountPath, readOnly: true }],
        initContainers: [
          {
            ...container,
            name: "fetch-model",
            // Explicit: the image's entrypoint starts the worker.
            command: ["node", "--enable-source-maps", fetchModelScript],
            args: [source.url, source.sha256, modelMountPath],
            ...(ca.env.length > 0 ? { env: ca.env } : {}),
            volumeMounts: [{ name: modelVolume, mountPath: modelMountPath }, ...ca.mounts],
          },
        ],
      };
    }
  }
}
