import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadYaml } from "@kubernetes/client-node";
import { expect } from "chai";
import { repoRoot } from "../../../hack/harness/dirs.ts";
import { resolveRedrive, type SentimentRedrive } from "../../../operator/src/redrive/redrive.ts";
import {
  type DeadLetterRecord,
  decide,
  decodeCounts,
  encodeCounts,
  noCounts,
  planChunks,
} from "../../../operator/src/redrive/selection.ts";
import deadLetterSchema from "../../../worker/src/contract/schemas/dead-letter.schema.json" with {
  type: "json",
};

const redrive = (spec: Partial<SentimentRedrive["spec"]> = {}) =>
  resolveRedrive({
    apiVersion: "kubesentiment.io/v1alpha1",
    kind: "SentimentRedrive",
    metadata: { name: "r", namespace: "ns", uid: "u-1" },
    spec: { pipeline: "p", ...spec },
  });

const t0 = Date.parse("2026-12-03T10:00:00Z");

function letter(offset: number, fields: Record<string, unknown> = {}, timestampMs = t0): DeadLetterRecord {
  const value = {
    code: "INFERENCE_FAILED",
    message: "m",
    attempts: 1,
    source: { topic: "req", partition: 0, offset: "4" },
    key: { encoding: "utf8", data: `k-${offset}` },
    value: { encoding: "utf8", data: `{"id":"k-${offset}","text":"fine"}` },
    failedAt: "2026-12-03T10:00:00Z",
    ...fields,
  };
  return {
    topic: "dlq",
    partition: 1,
    offset: String(offset),
    timestampMs,
    value: Buffer.from(JSON.stringify(value)),
  };
}

describe("redrive selection", () => {
  it("sends the original key and bytes, text or base64, with the redrive headers", () => {
    const decision = decide(
      letter(7, {
        key: null,
        value: { encoding: "base64", data: Buffer.from([0xff, 0]).toString("base64") },
      }),
      redrive(),
    );
    expect(decision).to.deep.equal({
      kind: "send",
      key: null,
      value: Buffer.from([0xff, 0]),
      headers: { "kubesentiment-redrive-count": "1", "kubesentiment-redriven-from": "dlq/1/7" },
    });
    const text = decide(letter(8), redrive());
    expect(text.kind === "send" && text.key?.toString()).to.equal("k-8");
  });

  it("counts one more redrive than the dead letter's, and skips it at maxRedrives", () => {
    const again = letter(3, { redrive: { count: 2, from: { topic: "dlq", partition: 0, offset: "1" } } });
    const sent = decide(again, redrive({ maxRedrives: 3 }));
    expect(sent.kind === "send" && sent.headers["kubesentiment-redrive-count"]).to.equal("3");
    expect(decide(again, redrive({ maxRedrives: 2 }))).to.deep.equal({ kind: "skip", reason: "atBound" });
    expect(decide(letter(3), redrive({ maxRedrives: 1 })).kind).to.equal("send");
  });

  it("filters by code and by the dead letter's timestamp: since inclusive, until exclusive", () => {
    const byCode = redrive({ codes: ["INVALID_JSON"] });
    expect(decide(letter(1), byCode)).to.deep.equal({ kind: "skip", reason: "filtered" });
    expect(decide(letter(1, { code: "INVALID_JSON" }), byCode).kind).to.equal("send");
    const window = redrive({ since: "2026-12-03T10:00:00Z", until: "2026-12-03T10:00:01Z" });
    expect(decide(letter(1, {}, t0 - 1), window).kind).to.equal("skip");
    expect(decide(letter(1, {}, t0), window).kind).to.equal("send");
    expect(decide(letter(1, {}, t0 + 999), window).kind).to.equal("send");
    expect(decide(letter(1, {}, t0 + 1000), window).kind).to.equal("skip");
  });

  it("skips as unreadable what it cannot send back: a minimal dead letter, or not a dead letter at all", () => {
    const unreadable = { kind: "skip", reason: "unreadable" };
    expect(decide(letter(1, { key: null, value: null, originalOmitted: true }), redrive())).to.deep.equal(
      unreadable,
    );
    for (const value of [
      null,
      Buffer.from("{oops"),
      Buffer.from("[]"),
      Buffer.from('{"code":"X","key":1}'),
    ]) {
      expect(decide({ ...letter(1), value }, redrive())).to.deep.equal(unreadable);
    }
    expect(decide(letter(1, { redrive: { count: 0 } }), redrive())).to.deep.equal(unreadable);
  });

  it("plans chunks of at most chunkSize sends; skips ride along; each commits the next offset and counts", () => {
    const letters = [letter(10), letter(11, { code: "INVALID_JSON" }), letter(12), letter(13), letter(14)];
    const chunks = planChunks(letters, redrive({ codes: ["INFERENCE_FAILED"] }), noCounts, 0, 2);
    expect(
      chunks.map(({ sends, nextOffset, counts, limitReached }) => [
        sends.length,
        nextOffset,
        counts,
        limitReached,
      ]),
    ).to.deep.equal([
      [2, "13", { sent: 2, skipped: 1, skippedAtBound: 0 }, false],
      [2, "15", { sent: 4, skipped: 1, skippedAtBound: 0 }, false],
    ]);
  });

  it("stops at the limit, counting what every partition sent before", () => {
    const letters = [letter(0), letter(1), letter(2)];
    const chunks = planChunks(
      letters,
      redrive({ limit: 5 }),
      { sent: 1, skipped: 0, skippedAtBound: 0 },
      3,
      10,
    );
    expect(chunks).to.have.length(1);
    expect(chunks[0]).to.deep.include({ nextOffset: "2", limitReached: true });
    expect(chunks[0]?.counts.sent).to.equal(3);
    const none = planChunks(letters, redrive({ limit: 5 }), noCounts, 5, 10);
    expect(none).to.deep.equal([{ sends: [], counts: noCounts, nextOffset: "0", limitReached: true }]);
  });

  it("keeps the counts in the committed offset's metadata, and refuses metadata that is not its own", () => {
    const counts = { sent: 3, skipped: 2, skippedAtBound: 1 };
    expect(decodeCounts(encodeCounts(counts))).to.deep.equal(counts);
    expect(decodeCounts(null)).to.deep.equal(noCounts);
    expect(decodeCounts("")).to.deep.equal(noCounts);
    expect(() => decodeCounts('{"a":1}')).to.throw(/is not its counts/);
  });

  it("resolves defaults, and a group and transactional id unique to the object", () => {
    const resolved = redrive();
    expect(resolved).to.include({ ratePerSecond: 50, maxRedrives: 3, limit: undefined });
    expect(resolved.consumerGroup).to.equal("kubesentiment-redrive.ns.r.u-1");
    expect(resolved.transactionalId).to.equal(resolved.consumerGroup);
  });

  it("accepts in spec.codes exactly the dead-letter schema's codes", () => {
    const crd = loadYaml(
      readFileSync(join(repoRoot, "crds", "sentimentredrives.kubesentiment.io.yaml"), "utf8"),
    ) as {
      spec: {
        versions: {
          schema: {
            openAPIV3Schema: {
              properties: { spec: { properties: { codes: { items: { enum: string[] } } } } };
            };
          };
        }[];
      };
    };
    const codes = crd.spec.versions[0]?.schema.openAPIV3Schema.properties.spec.properties.codes.items.enum;
    expect([...(codes ?? [])].sort()).to.deep.equal([...deadLetterSchema.properties.code.enum].sort());
  });
});
