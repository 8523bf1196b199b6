// Conditions as Kubernetes conventions have them: one entry per type, lastTransitionTime moved only when the
// status changes, observedGeneration on each, a CamelCase reason and a sentence a person can act on.
import type { Condition } from "../pipeline.ts";

/** A condition of any kind's own types (a pipeline's by default). */
export type ConditionOf<T extends string> = Omit<Condition, "type"> & { type: T };

export type ConditionInput<T extends string = Condition["type"]> = Omit<
  ConditionOf<T>,
  "lastTransitionTime" | "observedGeneration"
>;

/** `existing` with each of `next` set; untouched types are kept; order follows `next`, then the rest. */
export function mergeConditions<T extends string = Condition["type"]>(
  existing: readonly ConditionOf<T>[],
  next: readonly ConditionInput<T>[],
  generation: number,
  now: Date,
): ConditionOf<T>[] {
  const previous = new Map(existing.map((condition) => [condition.type, condition]));
  const merged: ConditionOf<T>[] = next.map((condition) => {
    const before = previous.get(condition.type);
    const lastTransitionTime =
      before !== undefined && before.status === condition.status
        ? before.lastTransitionTime
        : now.toISOString();
    return { ...condition, observedGeneration: generation, lastTransitionTime };
  });
  const set = new Set<T>(next.map((condition) => condition.type));
  return [...merged, ...existing.filter((condition) => !set.has(condition.type))];
}
