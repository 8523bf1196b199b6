import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { expect } from "chai";
import { Partitioners, type PartitionMetadata } from "kafkajs";
import { keyPartition, murmur2 } from "../../../worker/src/output/key-partition.ts";

/** kafkajs's own murmur2 (64-bit Long arithmetic), the reference the 32-bit one must equal. */
const kafkajsMurmur2 = createRequire(import.meta.url)(
  "kafkajs/src/producer/partitioners/default/murmur2.js",
) as (key: Buffer | string) => number;

const partitionMetadata = (partitions: number): PartitionMetadata[] =>
  Array.from({ length: partitions }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));

/** `length` bytes that are the same on every run, different for each `n`. */
const bytes = (n: number, length: number) =>
  Buffer.concat(
    Array.from({ length: Math.ceil(length / 32) }, (_, block) =>
      createHash("sha256").update(`${n}/${length}/${block}`).digest(),
    ),
  ).subarray(0, length);

/** Keys of every length 0-80 (every tail case) in varied bytes, Unicode text, and ids as requests carry them. */
function keys(): (Buffer | string)[] {
  const found: (Buffer | string)[] = [];
  for (let length = 0; length <= 80; length++) {
    for (let n = 0; n < 10; n++) found.push(bytes(n, length));
  }
  const alphabet = ["a", "Z", "9", "-", "é", "ß", "中", "😀", "\u0000", "\uFFFD"];
  for (let n = 0; n < 500; n++) {
    const picks = bytes(n, n % 40);
    found.push(Array.from(picks, (pick) => alphabet[pick % alphabet.length]).join(""));
  }
  for (let n = 0; n < 500; n++) found.push(`b-${n}`, bytes(n, 16).toString("hex"));
  return found;
}

describe("key partition (murmur2 in 32-bit arithmetic)", () => {
  it("hashes every key as kafkajs's murmur2 does: all lengths, random bytes, Unicode text, request ids", () => {
    const differing = keys().filter(
      (key) => murmur2(typeof key === "string" ? Buffer.from(key) : key) !== kafkajsMurmur2(key),
    );
    expect(differing).to.deep.equal([]);
  });

  it("gives each keyed message the partition kafkajs's default partitioner gives it", () => {
    for (const partitions of [1, 8, 100]) {
      const choose = Partitioners.DefaultPartitioner();
      const metadata = partitionMetadata(partitions);
      const differing = keys().filter(
        (key) =>
          keyPartition(key, partitions) !==
          choose({ topic: "t", partitionMetadata: metadata, message: { key, value: "v" } }),
      );
      expect(differing, `${partitions} partitions`).to.deep.equal([]);
    }
  });

  it("matches Kafka's published murmur2 values", () => {
    // From the Java client's UtilsTest.testMurmur2.
    const cases: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [key, hash] of cases) expect(murmur2(Buffer.from(key)), key).to.equal(hash);
  });
});
