import { expect } from "chai";
import { parseOperatorConfig } from "../../../operator/src/config.ts";

describe("operator configuration", () => {
  it("has defaults for everything", () => {
    const parsed = parseOperatorConfig({ OPERATOR_NAMESPACE: "ops", POD_NAME: "op-0" });
    expect(parsed).to.deep.include({ ok: true });
    if (!parsed.ok) return;
    expect(parsed.config).to.include({
      namespace: "ops",
      identity: "op-0",
      leaderElection: true,
      httpPort: 8081,
      resyncPeriodMs: 30_000,
    });
    expect(parsed.config.watchNamespaces).to.deep.equal([]);
  });

  it("watches the namespaces WATCH_NAMESPACES lists, once each, and refuses a name that is not a DNS label", () => {
    const parsed = parseOperatorConfig({ WATCH_NAMESPACES: " team-a, team-b,,team-a " });
    expect(parsed.ok && parsed.config.watchNamespaces).to.deep.equal(["team-a", "team-b"]);
    expect(parseOperatorConfig({ WATCH_NAMESPACES: "team-a,Team_B" })).to.deep.equal({
      ok: false,
      problems: ["WATCH_NAMESPACES must list namespace names (DNS labels), got 'Team_B'"],
    });
  });

  it("names every bad variable and the problem", () => {
    const parsed = parseOperatorConfig({ HTTP_PORT: "eighty", LEADER_ELECTION: "yes", LOG_LEVEL: "loud" });
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    expect(parsed.problems).to.deep.equal([
      "LOG_LEVEL must be one of error, warn, info, debug, got 'loud'",
      "LEADER_ELECTION must be true or false, got 'yes'",
      "HTTP_PORT must be a whole number between 0 and 65535, got 'eighty'",
    ]);
  });
});
