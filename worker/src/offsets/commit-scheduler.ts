// When the worker commits offsets (what may be committed is commit-tracker.ts's): acknowledgements close together
// share one commit request, one request is in flight at a time, and a drain commits what is due at once.
import type winston from "winston";
import type { Schedule } from "../timers.ts";
import type { CommitTracker, OffsetToCommit } from "./commit-tracker.ts";

/**
 * Each commit is a write to Kafka's offsets topic on the broker that also serves the requests. Committing every
 * acknowledgement at once cost more broker time than the responses did; a crash repeats at most this much
 * work, and a graceful stop commits everything first.
 */
const commitIntervalMs = 100;

export interface CommitSchedulerDependencies {
  tracker: Pick<CommitTracker, "due" | "committed">;
  commitOffsets: (offsets: OffsetToCommit[]) => Promise<void>;
  logger: Pick<winston.Logger, "debug" | "warn">;
  schedule: Schedule;
}

export class CommitScheduler {
  readonly #deps: CommitSchedulerDependencies;
  #cancelTimer: (() => void) | undefined;
  #committing: Promise<void> | undefined;
  #commitAgain = false;

  constructor(deps: CommitSchedulerDependencies) {
    this.#deps = deps;
  }

  /** After an acknowledgement: those of the next commitIntervalMs share one commit request. */
  soon(): void {
    this.#cancelTimer ??= this.#deps.schedule(() => {
      this.#cancelTimer = undefined;
      void this.#commit();
    }, commitIntervalMs);
  }

  /** Commits what is due now rather than when the timer fires (a drain); resolves when nothing due is left. */
  flush(): Promise<void> {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    return this.#commit();
  }

  /**
   * Commits every acknowledged prefix not yet committed, one commit request at a time: acknowledgements that
   * arrive while one is in flight go out together in the next. Resolves when nothing due is left.
   */
  #commit(): Promise<void> {
    this.#commitAgain = true;
    this.#committing ??= this.#commitWhileDue().finally(() => {
      this.#committing = undefined;
    });
    return this.#committing;
  }

  async #commitWhileDue(): Promise<void> {
    const { tracker, commitOffsets, logger } = this.#deps;
    while (this.#commitAgain) {
      this.#commitAgain = false;
      const offsets = tracker.due();
      if (offsets.length === 0) continue;
      try {
        await commitOffsets(offsets);
        tracker.committed(offsets);
        logger.debug("committed", { offsets });
      } catch (error) {
        // Kafka keeps the older offsets, so at worst these requests are answered twice; the next
        // acknowledgement or the drain tries again.
        logger.warn("offset commit failed", { error: (error as Error).message, offsets });
      }
    }
  }
}
