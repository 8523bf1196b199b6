import { expect } from "chai";
import {
  formatRedrivenFrom,
  parseRedriveHeaders,
  redriveCountHeader,
  redrivenFromHeader,
} from "../../common/src/redrive-headers.ts";

describe("redrive headers", () => {
  const headers = (count: string | Buffer, from: string | Buffer) => ({
    [redriveCountHeader]: count,
    [redrivenFromHeader]: from,
  });

  it("parses what the redrive writes, as text or bytes", () => {
    const from = { topic: "team-a.reviews-dlq", partition: 7, offset: "9007199254740993" };
    const expected = { count: 3, from };
    expect(parseRedriveHeaders(headers("3", formatRedrivenFrom(from)))).to.deep.equal(expected);
    expect(
      parseRedriveHeaders(headers(Buffer.from("3"), Buffer.from(formatRedrivenFrom(from)))),
    ).to.deep.equal(expected);
  });

  it("takes the last of a repeated header", () => {
    expect(
      parseRedriveHeaders({ [redriveCountHeader]: ["1", "2"], [redrivenFromHeader]: "d/0/5" }),
    ).to.deep.equal({ count: 2, from: { topic: "d", partition: 0, offset: "5" } });
  });

  it("ignores headers that are missing or not what a redrive writes", () => {
    expect(parseRedriveHeaders(undefined)).to.equal(undefined);
    expect(parseRedriveHeaders({ [redriveCountHeader]: "1" })).to.equal(undefined);
    expect(parseRedriveHeaders({ [redrivenFromHeader]: "d/0/5" })).to.equal(undefined);
    for (const [count, from] of [
      ["0", "d/0/5"],
      ["-1", "d/0/5"],
      ["01", "d/0/5"],
      ["1.5", "d/0/5"],
      ["1001", "d/0/5"],
      ["1", "d/0"],
      ["1", "d/0/5/6"],
      ["1", "d e/0/5"],
      ["1", "d/x/5"],
      ["1", "d/0/-5"],
      ["1", "d/2147483648/5"],
      ["1", "/0/5"],
    ] as const) {
      expect(parseRedriveHeaders(headers(count, from)), `${count} ${from}`).to.equal(undefined);
    }
  });
});
