// What every command runs with: the session, the output format, where to print, and a signal that aborts when
// the user interrupts (Ctrl-C), so a following command ends cleanly.
import type { OutputFormat } from "./commands.ts";
import type { Session } from "./session.ts";

export interface CommandContext {
  session: Session;
  output: OutputFormat;
  /** Standard output: the command's result. */
  print(text: string): void;
  /** Standard error: progress, for people; never part of the result. */
  note(text: string): void;
  interrupted: AbortSignal;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
