// Resolves the Kafka broker jars with Maven into a cache outside git, once per pom: a stamp holding the pom's
// hash marks a complete copy, so later calls (every `up`, every test run) cost one file read.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireCommand, run } from "./commands.ts";
import { cacheDir } from "./dirs.ts";
import { kafkaAssetsDir, kafkaVersionOf } from "./kafka-config.ts";

export interface KafkaLibs {
  version: string;
  /** Directory of jars; the JVM classpath is `<dir>/*`. */
  dir: string;
}

const pomFile = join(kafkaAssetsDir, "pom.xml");
const stampName = ".complete";

/** Where the jars for the pom's Kafka version live (or will), without fetching anything. */
export function kafkaLibs(): KafkaLibs & { pom: string } {
  const pom = readFileSync(pomFile, "utf8");
  const version = kafkaVersionOf(pom);
  return { version, dir: join(cacheDir("kafka"), version, "libs"), pom };
}

/** Fetches the jars unless a complete copy for this exact pom is already there. */
export function ensureKafkaLibs(log: (line: string) => void = () => {}): KafkaLibs {
  const { version, dir, pom } = kafkaLibs();
  const digest = createHash("sha256").update(pom).digest("hex");
  if (readStamp(dir) === digest) return { version, dir };

  const mvn = requireCommand(
    "mvn",
    "install Apache Maven (it resolves the Kafka jars), e.g. apt-get install maven",
  );
  log(`fetching Apache Kafka ${version} jars with Maven into ${dir}`);
  // Copy into a private directory and rename it into place, so an interrupted or concurrent fetch never leaves
  // a half-filled directory that looks complete.
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    run(mvn, ["-q", "-B", "-f", pomFile, "dependency:copy-dependencies", `-DoutputDirectory=${staging}`]);
    writeFileSync(join(staging, stampName), `${digest}\n`);
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(staging, dir);
    } catch (error) {
      // A concurrent fetch of the same pom got there first; its copy is as good as ours.
      if (readStamp(dir) !== digest) throw error;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { version, dir };
}

function readStamp(dir: string): string | undefined {
  const stamp = join(dir, stampName);
  return existsSync(stamp) ? readFileSync(stamp, "utf8").trim() : undefined;
}
