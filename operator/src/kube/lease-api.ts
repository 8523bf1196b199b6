// The three Lease calls leader election makes, each bounded by an AbortSignal, so a call the API server (or the
// network) never answers ends when the election says so instead of holding the elector past its deadline.
import {
  type ConfigurationOptions,
  type CoordinationV1Api,
  Observable,
  type V1Lease,
} from "@kubernetes/client-node";
import { hasApiStatus } from "./api-status.ts";

export interface LeaseApi {
  /** The Lease, or undefined when there is none. */
  read(signal: AbortSignal): Promise<V1Lease | undefined>;
  /** Creates the Lease; false when one exists already (another candidate created it first). */
  create(lease: V1Lease, signal: AbortSignal): Promise<boolean>;
  /** Replaces the Lease as read (its resourceVersion); false when it was written since. */
  replace(lease: V1Lease, signal: AbortSignal): Promise<boolean>;
}

/** Per-request options that make the client abort the request when `signal` does. */
function abortedBy(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (request) => {
          request.setSignal(signal);
          return new Observable(Promise.resolve(request));
        },
        post: (response) => new Observable(Promise.resolve(response)),
      },
    ],
    middlewareMergeStrategy: "append",
  };
}

/** True when `write` succeeded, false when the API server refused it with 409 Conflict. */
async function unlessConflict(write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (error) {
    if (hasApiStatus(error, 409)) return false;
    throw error;
  }
}

export function kubeLeaseApi(api: CoordinationV1Api, namespace: string, name: string): LeaseApi {
  return {
    read: async (signal) => {
      try {
        return await api.readNamespacedLease({ name, namespace }, abortedBy(signal));
      } catch (error) {
        if (hasApiStatus(error, 404)) return undefined;
        throw error;
      }
    },
    create: (lease, signal) =>
      unlessConflict(() =>
        api.createNamespacedLease(
          { namespace, body: { ...lease, metadata: { ...lease.metadata, name, namespace } } },
          abortedBy(signal),
        ),
      ),
    replace: (lease, signal) =>
      unlessConflict(() => api.replaceNamespacedLease({ name, namespace, body: lease }, abortedBy(signal))),
  };
}
