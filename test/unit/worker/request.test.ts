import { expect } from "chai";
import fc from "fast-check";
import {
  deadlineMs,
  decodeRequest,
  isExpired,
  type RequestLimits,
} from "../../../worker/src/contract/request.ts";
import { dateTimes } from "../../support/date-times.ts";

const limits: RequestLimits = { maxMessageBytes: 1024, maxTextLength: 20 };
const bytes = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value));

function rejectionOf(value: Uint8Array | null) {
  const decoded = decodeRequest(value, limits);
  if (decoded.ok) throw new Error(`expected a rejection, got ${JSON.stringify(decoded.request)}`);
  return decoded.rejection;
}

describe("decodeRequest", () => {
  it("accepts a full request and keeps metadata and deadline", () => {
    const request = {
      id: "a-1",
      text: "great film",
      metadata: { user: 7 },
      deadline: "2030-01-01T00:00:00Z",
    };
    expect(decodeRequest(bytes(request), limits)).to.deep.equal({ ok: true, request });
  });

  const cases: [string, Uint8Array | null, string, RegExp, string?][] = [
    ["no value (tombstone)", null, "INVALID_JSON", /no value/],
    [
      "an oversized value",
      bytes({ id: "x", text: "a".repeat(2000) }),
      "MESSAGE_TOO_LARGE",
      /\d+ bytes; the limit is 1024/,
    ],
    ["invalid UTF-8", Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), "INVALID_ENCODING", /not valid UTF-8/],
    ["invalid JSON", bytes("{id: 1"), "INVALID_JSON", /not JSON/],
    ["a JSON array", bytes([1, 2]), "SCHEMA_VIOLATION", /the request must be an object, not an array/],
    ["a JSON string", bytes('"hello"'), "SCHEMA_VIOLATION", /the request must be an object, not a string/],
    ["a missing id", bytes({ text: "ok" }), "SCHEMA_VIOLATION", /field 'id' is required/],
    ["a missing text", bytes({ id: "m" }), "SCHEMA_VIOLATION", /field 'text' is required/, "m"],
    [
      "a numeric text",
      bytes({ id: "n", text: 5 }),
      "SCHEMA_VIOLATION",
      /field 'text' must be a string, not a number/,
      "n",
    ],
    [
      "an empty text",
      bytes({ id: "e", text: "" }),
      "SCHEMA_VIOLATION",
      /field 'text' must not be empty/,
      "e",
    ],
    [
      "a blank text",
      bytes({ id: "b", text: "  \n" }),
      "SCHEMA_VIOLATION",
      /'text' must contain a non-whitespace/,
      "b",
    ],
    ["an empty id", bytes({ id: "", text: "x" }), "SCHEMA_VIOLATION", /field 'id' must not be empty/],
    [
      "an unknown field",
      bytes({ id: "u", text: "x", metdata: {} }),
      "SCHEMA_VIOLATION",
      /'metdata' is not allowed/,
      "u",
    ],
    [
      "metadata not an object",
      bytes({ id: "o", text: "x", metadata: [] }),
      "SCHEMA_VIOLATION",
      /'metadata' must be an object, not an array/,
      "o",
    ],
    [
      "a bad deadline",
      bytes({ id: "d", text: "x", deadline: "tomorrow" }),
      "SCHEMA_VIOLATION",
      /'deadline' must be an RFC 3339/,
      "d",
    ],
    [
      "a too-long text",
      bytes({ id: "l", text: "a".repeat(21) }),
      "TEXT_TOO_LONG",
      /21 characters; the limit is 20/,
      "l",
    ],
  ];
  for (const [name, value, code, message, id] of cases) {
    it(`refuses ${name} with ${code}`, () => {
      const rejection = rejectionOf(value);
      expect(rejection.code).to.equal(code);
      expect(rejection.message).to.match(message);
      expect(rejection.id).to.equal(id);
    });
  }

  it("counts text length in code points, not UTF-16 units", () => {
    const twentyEmoji = "😀".repeat(20);
    expect(decodeRequest(bytes({ id: "e", text: twentyEmoji }), limits).ok).to.equal(true);
    expect(rejectionOf(bytes({ id: "e", text: `${twentyEmoji}😀` })).code).to.equal("TEXT_TOO_LONG");
  });
});

describe("isExpired", () => {
  const now = Date.parse("2026-06-01T12:00:00Z");
  it("is false without a deadline or before it, true at or after it", () => {
    expect(isExpired({ id: "a", text: "t" }, now)).to.equal(false);
    expect(isExpired({ id: "a", text: "t", deadline: "2026-06-01T12:00:01Z" }, now)).to.equal(false);
    expect(isExpired({ id: "a", text: "t", deadline: "2026-06-01T12:00:00Z" }, now)).to.equal(true);
    expect(isExpired({ id: "a", text: "t", deadline: "2026-06-01T13:00:00+02:00" }, now)).to.equal(true);
  });
});

describe("deadlineMs", () => {
  it("gives the instant of every date-time the request schema accepts: leap seconds, offsets, either case", () => {
    let accepted = 0;
    fc.assert(
      fc.property(dateTimes, ({ text, expected }) => {
        if (!decodeRequest(bytes({ id: "d", text: "t", deadline: text }), limits).ok) return;
        accepted++;
        const ms = deadlineMs(text);
        expect(Number.isFinite(ms), text).to.equal(true);
        expect(Math.abs(ms - expected), `${text}: ${ms} vs ${expected}`).to.be.at.most(1);
      }),
      { seed: 3339, numRuns: 2_000 },
    );
    expect(accepted).to.be.greaterThan(1_000, "most generated date-times are valid");
  });

  it("expires a deadline written as a leap second once that second is over", () => {
    const request = { id: "a", text: "t", deadline: "2016-12-31T23:59:60Z" };
    expect(Date.parse(request.deadline)).to.be.NaN;
    expect(isExpired(request, Date.parse("2017-01-01T00:00:01Z"))).to.equal(true);
    expect(isExpired(request, Date.parse("2016-12-31T23:59:59Z"))).to.equal(false);
    expect(deadlineMs("2017-01-01T08:59:60.5+09:00")).to.equal(Date.parse("2017-01-01T00:00:00.500Z"));
  });
});
