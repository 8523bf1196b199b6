// Scale to zero and back, which an HPA cannot do (its minReplicas is at least 1, and it stops acting on a
// target at 0 replicas). With spec.autoscaling.minReplicas 0, the operator sets the Deployment's scale itself:
// to 0 once the lag has been 0 for the cooldown, and back to 1 as soon as the lag passes the activation
// threshold; between those, the HPA scales as usual. Pure: the reconcile supplies the lag, the current
// replicas and when the pipeline was last active (kept in status, so a restarted operator remembers).

export interface ScaleToZeroInput {
  minReplicas: number;
  activationLagThreshold: number;
  cooldownMs: number;
  /** The Deployment's spec.replicas. */
  replicas: number;
  /** Total consumer lag; undefined when it could not be read. */
  lag: number | undefined;
  /** Last time the lag was above 0 (ms since the epoch); undefined if never seen. */
  lastActiveAt: number | undefined;
  now: number;
}

export interface ScaleToZeroDecision {
  /** The replicas to set, when the operator must act; undefined leaves the scale to the HPA. */
  replicas: number | undefined;
  reason: string;
  lastActiveAt: number | undefined;
}

export function decideScaleToZero(input: ScaleToZeroInput): ScaleToZeroDecision {
  const { minReplicas, activationLagThreshold, cooldownMs, replicas, lag, now } = input;
  const lastActiveAt = lag !== undefined && lag > 0 ? now : (input.lastActiveAt ?? now);
  const leave = (reason: string): ScaleToZeroDecision => ({ replicas: undefined, reason, lastActiveAt });
  if (minReplicas > 0) {
    // Scale to zero was switched off while at zero: hand the Deployment back to the HPA.
    return replicas === 0
      ? { replicas: minReplicas, reason: "scale to zero is disabled (minReplicas > 0)", lastActiveAt }
      : leave("scale to zero is disabled");
  }
  // Never act on a lag that could not be read: an error must not scale to zero, nor wake everything.
  if (lag === undefined) return leave("consumer lag unknown");
  if (replicas === 0) {
    return lag > activationLagThreshold
      ? {
          replicas: 1,
          reason: `lag ${lag} is above the activation threshold ${activationLagThreshold}`,
          lastActiveAt,
        }
      : leave(`idle: lag ${lag} is not above the activation threshold ${activationLagThreshold}`);
  }
  if (lag === 0 && now - lastActiveAt >= cooldownMs) {
    return { replicas: 0, reason: `no lag for ${Math.round(cooldownMs / 1000)} s`, lastActiveAt };
  }
  return leave("active");
}
