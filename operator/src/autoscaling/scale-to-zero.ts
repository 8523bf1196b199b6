// Scale to zero and back, which an HPA cannot do (its minReplicas is at least 1, and it stops acting on a
// target at 0 replicas). With spec.autoscaling.minReplicas 0, the operator sets the Deployment's scale itself:
// to 0 once the pipeline has been idle for the cooldown, and back to 1 as soon as the lag passes the activation
// threshold; between those, the HPA scales as usual. A paused pipeline is held at 0 by the same means: the HPA
// stands aside while its target is at 0, and no lag wakes it until the pause ends.
//
// Idle means no new request over the whole cooldown, not lag 0 at a sample: a steady trickle, each request
// consumed within a moment, shows lag 0 at nearly every sample, and judging by that alone flaps the pipeline
// between 0 and 1 replicas, with a cold start for every request. So each sample is folded into an Activity: the
// pipeline was active at a sample whose lag is above 0 or whose log end offset moved since the sample before
// (a request arrived in between, however fast it was consumed). Pure: the reconcile supplies the samples and
// keeps the Activity in status, so a restarted operator, or a new leader, goes on from where it was.

/** One reading of the requests topic. */
export interface ActivitySample {
  /** Total consumer lag. */
  lag: number;
  /** Sum of the partitions' log end offsets: it moves whenever a request is written. */
  logEndOffset: number;
}

/** What the samples so far say, kept in status between reconciles. */
export interface Activity {
  /** The last sample at which the pipeline was active (ms since the epoch). */
  lastActiveAt: number;
  /** The log end offset of the last sample. */
  logEndOffset: number;
}

/**
 * Folds one sample into the activity: active now when the lag is above 0 or the log end offset moved. Without a
 * previous activity (a new pipeline, or a status from before the log end offset was kept) there is nothing to
 * compare with, so the cooldown starts now. An unread sample changes nothing.
 */
export function observeActivity(
  previous: Activity | undefined,
  sample: ActivitySample | undefined,
  now: number,
): Activity | undefined {
  if (sample === undefined) return previous;
  const active = previous === undefined || sample.lag > 0 || sample.logEndOffset !== previous.logEndOffset;
  return { lastActiveAt: active ? now : previous.lastActiveAt, logEndOffset: sample.logEndOffset };
}

export interface ScaleToZeroInput {
  /** Paused (by spec or held): 0 replicas, whatever the lag. */
  paused: boolean;
  /** 0 turns scale to zero on; otherwise the HPA's floor, the scale a Deployment left at 0 is handed back at. */
  minReplicas: number;
  activationLagThreshold: number;
  cooldownMs: number;
  /** The Deployment's spec.replicas. */
  replicas: number;
  /** Total consumer lag; undefined when it could not be read. */
  lag: number | undefined;
  /** The activity with this reconcile's sample already folded in (observeActivity). */
  activity: Activity | undefined;
  now: number;
}

export interface ScaleToZeroDecision {
  /** The replicas to set, when the operator must act; undefined leaves the scale to the HPA. */
  replicas: number | undefined;
  reason: string;
}

export function decideScaleToZero(input: ScaleToZeroInput): ScaleToZeroDecision {
  const { paused, minReplicas, activationLagThreshold, cooldownMs, replicas, lag, activity, now } = input;
  const leave = (reason: string): ScaleToZeroDecision => ({ replicas: undefined, reason });
  // Before the lag is looked at: a pause holds whether or not Kafka can be read.
  if (paused) return replicas === 0 ? leave("paused") : { replicas: 0, reason: "the pipeline is paused" };
  if (minReplicas > 0) {
    // Resumed, or scale to zero switched off, while at zero: hand the Deployment back to the HPA.
    return replicas === 0
      ? {
          replicas: minReplicas,
          reason: `nothing holds the workers at 0 (not paused, minReplicas ${minReplicas}): the HPA scales them again`,
        }
      : leave("scale to zero is disabled");
  }
  // Never act on a lag that could not be read: an error must not scale to zero, nor wake everything.
  if (lag === undefined || activity === undefined) return leave("consumer lag unknown");
  if (replicas === 0) {
    return lag > activationLagThreshold
      ? { replicas: 1, reason: `lag ${lag} is above the activation threshold ${activationLagThreshold}` }
      : leave(`idle: lag ${lag} is not above the activation threshold ${activationLagThreshold}`);
  }
  if (lag === 0 && now - activity.lastActiveAt >= cooldownMs) {
    return { replicas: 0, reason: `no new requests and no lag for ${Math.round(cooldownMs / 1000)} s` };
  }
  return leave("active");
}
