// How the harness fails in front of a person: a HarnessError is a problem with this machine or its set-up (a
// missing tool, a taken port, a process that died) and is printed as one line saying what to do, never as a
// stack trace; runCli is the entry point of every hack/ script that does so.

/** A failure of the harness itself: printed as one clear line, never as a stack trace. */
export class HarnessError extends Error {
  override name = "HarnessError";
}

/** A flag's or environment variable's positive whole number, the fallback when unset; anything else names it. */
export function positiveWhole(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  if (!/^[1-9]\d*$/.test(value))
    throw new HarnessError(`${name} takes a positive whole number, got '${value}'`);
  return Number(value);
}

/** Entry point wrapper for hack/ scripts: a HarnessError prints its message and exits 1, without a stack trace. */
export function runCli(main: (args: string[]) => Promise<void>): void {
  main(process.argv.slice(2)).catch((error: unknown) => {
    if (error instanceof HarnessError) {
      console.error(`error: ${error.message}`);
    } else {
      console.error(error);
    }
    process.exit(1);
  });
}
