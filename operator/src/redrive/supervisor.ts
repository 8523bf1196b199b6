// Which redrives have a runner: on the leader, exactly the active ones (not Done, not Failed, not being deleted),
// one runner each. sync() is level-triggered (called on every change the watch sees, and when leadership is
// won); stopAll() ends them when leadership is lost or the operator stops.
import { isFinished, type SentimentRedrive } from "./redrive.ts";

export interface Runner {
  /** Settles when the runner has nothing more to do (its redrive finished). */
  finished: Promise<void>;
  stop(): Promise<void>;
}

export class RedriveSupervisor {
  readonly #runners = new Map<string, Runner>();
  /** Redrives whose runner finished: not started again while the watch still shows them active. */
  readonly #finished = new Set<string>();
  #active = false;

  constructor(
    private readonly list: () => readonly SentimentRedrive[],
    private readonly startRunner: (redrive: SentimentRedrive) => Runner,
  ) {}

  /** Starts runners (now, and on every later sync) until stopAll(). */
  start(): void {
    this.#active = true;
    this.sync();
  }

  sync(): void {
    if (!this.#active) return;
    const wanted = new Map<string, SentimentRedrive>();
    for (const redrive of this.list()) {
      const uid = redrive.metadata.uid;
      if (uid === undefined || isFinished(redrive) || redrive.metadata.deletionTimestamp !== undefined)
        continue;
      wanted.set(uid, redrive);
    }
    for (const uid of this.#finished) if (!wanted.has(uid)) this.#finished.delete(uid);
    for (const [uid, runner] of this.#runners) {
      if (wanted.has(uid)) continue;
      this.#runners.delete(uid);
      void runner.stop();
    }
    for (const [uid, redrive] of wanted) {
      if (this.#runners.has(uid) || this.#finished.has(uid)) continue;
      const runner = this.startRunner(redrive);
      this.#runners.set(uid, runner);
      void runner.finished.then(() => {
        if (this.#runners.get(uid) !== runner) return;
        this.#runners.delete(uid);
        this.#finished.add(uid);
      });
    }
  }

  /** The uids of the redrives that have a runner now. */
  get running(): string[] {
    return [...this.#runners.keys()];
  }

  async stopAll(): Promise<void> {
    this.#active = false;
    const runners = [...this.#runners.values()];
    this.#runners.clear();
    this.#finished.clear();
    await Promise.all(runners.map((runner) => runner.stop()));
  }
}
