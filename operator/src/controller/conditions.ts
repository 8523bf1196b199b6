// Conditions as Kubernetes conventions have them: one entry per type, lastTransitionTime moved only when the
// status changes, observedGeneration on each, a CamelCase reason and a sentence a person can act on. Any of the
// operator's kinds: each has its own condition types.
import type { Condition } from "../pipeline.ts";

interface AnyCondition {
  type: string;
  status: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export type ConditionInput<C extends AnyCondition = Condition> = Omit<
  C,
  "lastTransitionTime" | "observedGeneration"
>;

/** `existing` with each of `next` set; untouched types are kept; order follows `next`, then the rest. */
export function mergeConditions<C extends AnyCondition = Condition>(
  existing: readonly NoInfer<C>[],
  next: readonly ConditionInput<C>[],
  generation: number,
  now: Date,
): C[] {
  const previous = new Map(existing.map((condition) => [condition.type, condition]));
  const merged = next.map((condition) => {
    const before = previous.get(condition.type);
    const lastTransitionTime =
      before !== undefined && before.status === condition.status
        ? before.lastTransitionTime
        : now.toISOString();
    return { ...condition, observedGeneration: generation, lastTransitionTime } as C;
  });
  const set = new Set<string>(next.map((condition) => condition.type));
  return [...merged, ...existing.filter((condition) => !set.has(condition.type))];
}
