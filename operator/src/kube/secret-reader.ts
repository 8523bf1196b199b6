// A Secret's data through the API, for the Kafka credentials a pipeline names (kafka/credentials.ts): the
// operator reads them with its service account, the kubectl plugin with the user's kubeconfig.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { SecretReader } from "../kafka/credentials.ts";
import { hasApiStatus } from "./api-status.ts";

/** Reads a Secret's data, decoded; undefined when it does not exist. */
export function secretReader(core: Pick<CoreV1Api, "readNamespacedSecret">): SecretReader {
  return async (namespace, name) => {
    try {
      const secret = await core.readNamespacedSecret({ name, namespace });
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, "base64")]),
      );
    } catch (error) {
      if (hasApiStatus(error, 404)) return undefined;
      throw error;
    }
  };
}
