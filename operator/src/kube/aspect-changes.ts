// Which of a watch's changes concern its listener: an object's arrival, its deletion, or a change of the aspect
// of it the listener acts on; a change elsewhere in it (a replay's progress counts, KEDA's lastActiveTime) does
// not, so it queues no work.
import { isDeepStrictEqual } from "node:util";
import type { KubernetesObject } from "@kubernetes/client-node";

export class AspectChanges<T extends KubernetesObject> {
  readonly #seen = new Map<string, unknown>();

  constructor(private readonly aspect: (object: T) => unknown) {}

  /** Whether `object` arrived, went (`present` false) or shows another aspect than last seen. */
  changed(object: T, present: boolean): boolean {
    const key = `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;
    if (!present) {
      this.#seen.delete(key);
      return true;
    }
    const aspect = this.aspect(object);
    if (this.#seen.has(key) && isDeepStrictEqual(this.#seen.get(key), aspect)) return false;
    this.#seen.set(key, aspect);
    return true;
  }
}
