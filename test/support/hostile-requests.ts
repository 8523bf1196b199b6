// fast-check arbitraries of request records as anyone might produce them: valid requests, invalid ones and
// hostile ones (JSON nested thousands deep, fields near and past the size limits, lone surrogates and other odd
// Unicode, duplicate and odd ids, odd deadlines, `__proto__` keys, numbers JSON cannot round-trip, null and empty
// keys and values, headers). Each is meant for an explicit partition, so its offset is known once produced.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { dateTimes } from "./date-times.ts";

export interface RequestRecord {
  partition: number;
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
}

/** Any UTF-16 code unit, lone surrogates included, and a few characters known to trip code up. */
const oddUnit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  fc.constantFrom("a", "é", "😀", "\u0000", "\ud800", "\udfff", "\u2028", "\ufeff", '"', "\\"),
);
const oddString = (maxLength: number) => fc.string({ unit: oddUnit, maxLength });

/** Bytes that compress poorly (as user data does), `length` characters of them, the same for the same seed. */
function incompressible(seed: number, length: number): string {
  const chunks: string[] = [];
  let block = Buffer.from(String(seed));
  for (let size = 0; size < length; size += 44) {
    block = createHash("sha256").update(block).digest();
    chunks.push(block.toString("base64"));
  }
  return chunks.join("").slice(0, length);
}

const id = fc.oneof(
  fc.constantFrom("dup", "dup", "x"),
  fc.string({ minLength: 1, maxLength: 24 }),
  oddString(140),
);
const text = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("a warm and lovely film", "a dreary, lifeless slog", "fine") },
  { weight: 2, arbitrary: oddString(300) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "\n\t") },
);

const deadline = fc.oneof(
  dateTimes.map(({ text: dateTime }) => dateTime),
  fc.constantFrom("23:59:60", "not a date", "2030-02-30T00:00:00Z", ""),
);

const metadata = fc.dictionary(oddString(12), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });

/** A request object, valid or not, as JSON (JSON.stringify escapes lone surrogates, so the bytes are UTF-8). */
const requestJson = fc
  .record({ id, text, metadata, deadline, extra: fc.constant(1) }, { requiredKeys: ["text"] })
  .map((request) => JSON.stringify(request));

/** Hostile JSON as text: what JSON.parse takes but JSON.stringify, ajv or a prototype might not. */
const hostileJson = fc.oneof(
  fc
    .integer({ min: 1_000, max: 25_000 })
    .map(
      (depth) =>
        `{"id":"deep-${depth}","text":"fine","metadata":{"a":${"[".repeat(depth)}${"]".repeat(depth)}}}`,
    ),
  fc.constantFrom(
    '{"id":"proto","text":"fine","metadata":{"__proto__":{"polluted":true},"constructor":{"prototype":1}}}',
    '{"id":"proto-top","text":"fine","__proto__":{"polluted":true}}',
    '{"id":"numbers","text":"fine","metadata":{"huge":1e400,"tiny":-1e-400,"neg":-0,"big":12345678901234567890}}',
    '{"id":"dup-keys","id":"second","text":"fine","text":"twice"}',
    '{"id":"escaped","text":"fine \\ud800 \\udfff","metadata":{"\\u0000":"\\ud83d"}}',
  ),
);

/** Metadata of `size` incompressible characters: past the responses' limit, the dead letters' or the worker's. */
const hugeJson = fc
  .record({ seed: fc.nat(), size: fc.integer({ min: 1_000, max: 80_000 }) })
  .map(({ seed, size }) =>
    JSON.stringify({ id: `huge-${size}`, text: "fine", metadata: { pad: incompressible(seed, size) } }),
  );

const value: fc.Arbitrary<string | Buffer | null> = fc.oneof(
  { weight: 40, arbitrary: requestJson },
  { weight: 6, arbitrary: hostileJson },
  { weight: 2, arbitrary: hugeJson },
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)) },
  { weight: 8, arbitrary: fc.jsonValue().map((json) => JSON.stringify(json) ?? "null") },
  { weight: 4, arbitrary: fc.constantFrom<string | Buffer | null>(null, "", Buffer.alloc(0), "{}", "[]") },
);

const key: fc.Arbitrary<string | Buffer | null> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom(null, "") },
  { weight: 6, arbitrary: id },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes)) },
);

const headers = fc.option(
  fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), oddString(30), { maxKeys: 4 }),
  { nil: undefined },
);

/** A request record of any kind, for one of `partitions` partitions. */
export function requestRecord(partitions: number): fc.Arbitrary<RequestRecord> {
  return fc
    .record({ partition: fc.integer({ min: 0, max: partitions - 1 }), key, value, headers })
    .map(({ headers: recordHeaders, ...record }) =>
      recordHeaders === undefined ? record : { ...record, headers: recordHeaders },
    );
}
