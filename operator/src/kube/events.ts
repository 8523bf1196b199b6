// Events on a pipeline (or a replay), as `kubectl describe` shows them. A level-triggered reconcile meets the same failure
// on every pass, so a repeat of the same reason and message bumps the count of the Event already written
// instead of writing a new one (what client-go's recorder does), and the API server is not flooded.
import type { CoreV1Api, CoreV1Event, KubernetesObject } from "@kubernetes/client-node";
import { hasApiStatus } from "./api-status.ts";

const reportingComponent = "kubesentiment-operator";

export type EventType = "Normal" | "Warning";

export class EventRecorder {
  readonly #written = new Map<string, { name: string; count: number }>();

  constructor(
    private readonly api: CoreV1Api,
    private readonly instance: string,
  ) {}

  async record(
    object: KubernetesObject & { apiVersion: string; kind: string },
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const { name = "", namespace = "default", uid = "" } = object.metadata ?? {};
    const key = `${uid}\u0000${type}\u0000${reason}\u0000${message}`;
    const now = new Date();
    const previous = this.#written.get(key);
    if (previous !== undefined) {
      const count = previous.count + 1;
      try {
        await this.api.patchNamespacedEvent({
          name: previous.name,
          namespace,
          body: [
            { op: "replace", path: "/count", value: count },
            { op: "replace", path: "/lastTimestamp", value: now.toISOString() },
          ],
        });
        this.#written.set(key, { name: previous.name, count });
        return;
      } catch (error) {
        // Events expire (one hour by default): write a new one.
        if (!hasApiStatus(error, 404)) throw error;
      }
    }
    const event: CoreV1Event = {
      metadata: { generateName: `${name}.`, namespace },
      involvedObject: {
        apiVersion: object.apiVersion,
        kind: object.kind,
        name,
        namespace,
        uid,
      },
      type,
      reason,
      message: message.slice(0, 1024),
      source: { component: reportingComponent },
      reportingComponent,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    const created = await this.api.createNamespacedEvent({ namespace, body: event });
    this.#written.set(key, { name: created.metadata?.name ?? "", count: 1 });
  }

  /** Drops what is remembered about a deleted object. */
  forget(uid: string): void {
    for (const key of this.#written.keys()) if (key.startsWith(`${uid}\u0000`)) this.#written.delete(key);
  }
}
