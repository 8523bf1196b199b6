// Where the SST-2 data and the default model live, and a reader for GLUE's TSV, shared by eval and tests.
import { readFile } from "node:fs/promises";
import { join } from "node:path";

export interface Sst2Row {
  readonly text: string;
  readonly label: 0 | 1;
}

/** `$SST2_DIR`, else shared/data/sst2 beside the clone (where CI puts it). */
export function sst2Dir(repoRoot: string): string {
  return process.env.SST2_DIR ?? join(repoRoot, "..", "shared", "data", "sst2");
}

export function defaultModelDir(repoRoot: string): string {
  return join(repoRoot, "worker", "model");
}

/** Parses a GLUE SST-2 TSV: a `sentence<TAB>label` header, then one row per line. */
export async function readSst2(file: string): Promise<Sst2Row[]> {
  const lines = (await readFile(file, "utf8")).split("\n");
  if (lines[0]?.trim() !== "sentence\tlabel")
    throw new Error(`${file}: expected header "sentence<TAB>label"`);
  return lines.slice(1).flatMap((line, i) => {
    if (line.trim() === "") return [];
    const tab = line.lastIndexOf("\t");
    const label = line.slice(tab + 1).trim();
    if (tab < 0 || (label !== "0" && label !== "1"))
      throw new Error(`${file}:${i + 2}: expected "text<TAB>0|1"`);
    return [{ text: line.slice(0, tab).trim(), label: label === "1" ? 1 : 0 }];
  });
}
