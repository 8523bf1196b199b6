// The pipeline's AutoscalingActive condition when KEDA scales its workers: what applying the ScaledObject came
// to, and KEDA's own Ready, Active and Paused conditions on it, each named by KEDA's reason so a person can look
// them up in KEDA's documentation and logs.
import type { ScaledObject } from "../render/scaled-object.ts";
import type { ConditionInput } from "./conditions.ts";

/** What applying the KEDA objects came to in this reconcile. */
export type KedaOutcome =
  | { state: "applied"; scaledObject: ScaledObject }
  /** Nothing was applied: KEDA is not installed, or the operator may not use it. */
  | { state: "unavailable"; reason: string; message: string };

const type = "AutoscalingActive";

function described(condition: { reason?: string; message?: string }): string {
  const reason = condition.reason ?? "no reason given";
  return condition.message ? `${reason}: ${condition.message}` : reason;
}

/** `note` ends the message when autoscaling works (the partition cap, from status.ts). */
export function kedaAutoscalingCondition(outcome: KedaOutcome | undefined, note: string): ConditionInput {
  if (outcome === undefined) {
    return {
      type,
      status: "False",
      reason: "ScaledObjectMissing",
      message: "the KEDA ScaledObject is not applied yet: the worker Deployment comes first",
    };
  }
  if (outcome.state === "unavailable") return { type, status: "False", ...outcome };
  const name = outcome.scaledObject.metadata.name ?? "";
  const conditions = outcome.scaledObject.status?.conditions ?? [];
  const find = (kind: string) => conditions.find((condition) => condition.type === kind);
  const ready = find("Ready");
  const active = find("Active");
  const paused = find("Paused");
  if (ready === undefined || ready.status === "Unknown") {
    return {
      type,
      status: "Unknown",
      reason: "AwaitingKeda",
      message: `KEDA has not reported ScaledObject ${name} Ready yet${ready ? ` (${described(ready)})` : ""}`,
    };
  }
  if (ready.status === "False") {
    return {
      type,
      status: "False",
      reason: ready.reason || "ScaledObjectNotReady",
      message: `KEDA reports ScaledObject ${name} not Ready: ${described(ready)}`,
    };
  }
  if (paused?.status === "True") {
    return {
      type,
      status: "False",
      reason: paused.reason || "ScaledObjectPaused",
      message: `KEDA holds ScaledObject ${name} paused: ${described(paused)}`,
    };
  }
  // Ready: KEDA scales the workers. Active says whether the lag is above the activation threshold now.
  const activity =
    active === undefined ? "Active not reported yet" : `Active ${active.status} (${described(active)})`;
  return {
    type,
    status: "True",
    reason: active?.reason || ready.reason || "ScaledObjectReady",
    message: `KEDA scales the workers through ScaledObject ${name}: Ready (${described(ready)}); ${activity}${note}`,
  };
}
