// Conditions as Kubernetes conventions have them: one entry per type, lastTransitionTime moved only when the
// status changes, observedGeneration on each, a CamelCase reason and a sentence a person can act on.
import type { Condition, ConditionType } from "../pipeline.ts";

export type ConditionInput = Omit<Condition, "lastTransitionTime" | "observedGeneration">;

/** `existing` with each of `next` set; untouched types are kept; order follows `next`, then the rest. */
export function mergeConditions(
  existing: readonly Condition[],
  next: readonly ConditionInput[],
  generation: number,
  now: Date,
): Condition[] {
  const previous = new Map(existing.map((condition) => [condition.type, condition]));
  const merged: Condition[] = next.map((condition) => {
    const before = previous.get(condition.type);
    const lastTransitionTime =
      before !== undefined && before.status === condition.status
        ? before.lastTransitionTime
        : now.toISOString();
    return { ...condition, observedGeneration: generation, lastTransitionTime };
  });
  const set = new Set<ConditionType>(next.map((condition) => condition.type));
  return [...merged, ...existing.filter((condition) => !set.has(condition.type))];
}
