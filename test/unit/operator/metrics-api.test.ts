import { expect } from "chai";
import { parseEqualitySelector } from "../../../operator/src/metrics-api/label-selector.ts";
import { authenticate, requestHeaderConfig } from "../../../operator/src/metrics-api/request-header.ts";

const config = requestHeaderConfig({
  "requestheader-client-ca-file": "-----BEGIN CERTIFICATE-----",
  "requestheader-allowed-names": '["front-proxy-client"]',
  "requestheader-username-headers": '["X-Remote-User"]',
  "requestheader-group-headers": '["X-Remote-Group"]',
});

describe("operator metrics API: request-header authentication", () => {
  it("believes the aggregator's certificate and takes the user and every group from the headers", () => {
    const result = authenticate(config, true, "front-proxy-client", {
      "x-remote-user": ["admin"],
      "x-remote-group": ["system:masters", "system:authenticated"],
    });
    expect(result).to.deep.equal({
      ok: true,
      user: { name: "admin", groups: ["system:masters", "system:authenticated"] },
    });
  });

  it("refuses a client without a certificate from the request-header CA, or with another name", () => {
    expect(authenticate(config, false, undefined, { "x-remote-user": ["admin"] })).to.deep.include({
      ok: false,
    });
    expect(authenticate(config, true, "someone-else", { "x-remote-user": ["admin"] })).to.deep.equal({
      ok: false,
      reason: "client certificate name someone-else is not an allowed request-header name",
    });
  });

  it("refuses a proxied request that names no user", () => {
    expect(authenticate(config, true, "front-proxy-client", {})).to.deep.equal({
      ok: false,
      reason: "no user named in the request headers",
    });
  });

  it("says when the API server has no request-header CA", () => {
    expect(() => requestHeaderConfig({})).to.throw(/no requestheader-client-ca-file/);
  });
});

describe("operator metrics API: label selector", () => {
  it("reads equality terms", () => {
    expect(
      parseEqualitySelector("kubesentiment.io/pipeline=reviews,kubesentiment.io/namespace==default"),
    ).to.deep.equal({
      ok: true,
      labels: { "kubesentiment.io/pipeline": "reviews", "kubesentiment.io/namespace": "default" },
    });
  });

  it("refuses set-based terms, saying why", () => {
    expect(parseEqualitySelector("kubesentiment.io/pipeline in (a,b)")).to.deep.include({ ok: false });
  });
});
