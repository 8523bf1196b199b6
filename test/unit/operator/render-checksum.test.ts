import { expect } from "chai";
import { sha256Of, stableJson } from "../../../operator/src/render/checksum.ts";

describe("render: stable JSON and its digest", () => {
  it("sorts object keys at every depth and keeps array order", () => {
    expect(stableJson({ b: [{ y: 1, x: 2 }, "s"], a: { d: null, c: true } })).to.equal(
      '{"a":{"c":true,"d":null},"b":[{"x":2,"y":1},"s"]}',
    );
  });

  it("drops undefined members, as the JSON sent to the API server does", () => {
    expect(stableJson({ a: 1, b: undefined })).to.equal(stableJson({ a: 1 }));
  });

  it("digests equal values alike and different values differently", () => {
    expect(sha256Of({ a: 1, b: 2 })).to.equal(sha256Of({ b: 2, a: 1 }));
    expect(sha256Of({ a: 1, b: 2 })).not.to.equal(sha256Of({ a: 1, b: 3 }));
    expect(sha256Of({})).to.match(/^[0-9a-f]{64}$/);
  });
});
