import { expect } from "chai";
import { parseCommandLine } from "../../../operator/src/cli/args.ts";
import { UsageError } from "../../../operator/src/cli/errors.ts";
import { redriveSpec } from "../../../operator/src/cli/redrive.ts";
import { parseDuration, parseTime } from "../../../operator/src/cli/values.ts";

const now = new Date("2026-12-03T12:00:00Z");
const parse = (...argv: string[]) => parseCommandLine(argv, now);

function refusal(argv: string[]): UsageError {
  try {
    parse(...argv);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${argv.join(" ")} was accepted`);
}

describe("kubectl sentiment: the command line", () => {
  it("reads global options anywhere, and the command's own", () => {
    expect(
      parse("-n", "shop", "status", "reviews", "--context", "prod", "--window", "500ms", "-o", "yaml"),
    ).to.deep.equal({
      kind: "run",
      args: { command: "status", pipeline: "reviews", windowMs: 500 },
      target: { namespace: "shop", context: "prod" },
      output: "yaml",
    });
    expect(parse("status", "reviews", "--kubeconfig=/tmp/k", "--namespace=a")).to.deep.include({
      target: { kubeconfig: "/tmp/k", namespace: "a" },
      output: "text",
    });
  });

  it("takes every word after NAME as a text to send, and -- for texts that start with a dash", () => {
    expect(parse("send", "reviews", "Loved it", "Hated it", "--timeout", "5s").kind).to.equal("run");
    expect(parse("send", "reviews", "--", "-not an option-")).to.deep.include({
      args: { command: "send", pipeline: "reviews", texts: ["-not an option-"], timeoutMs: 30_000 },
    });
  });

  it("builds replay and redrive arguments, times as RFC 3339 or a duration ago", () => {
    expect(parse("replay", "reviews", "--from", "earliest", "--wait")).to.deep.include({
      args: { command: "replay", pipeline: "reviews", from: { earliest: true }, wait: true },
    });
    expect(parse("replay", "reviews", "--from", "2h")).to.deep.include({
      args: {
        command: "replay",
        pipeline: "reviews",
        from: { timestamp: "2026-12-03T10:00:00.000Z" },
        wait: false,
      },
    });
    const redrive = parse(
      "redrive",
      "reviews",
      "--code",
      "INFERENCE_FAILED",
      "--code",
      "DEADLINE_EXCEEDED",
      "--since",
      "2026-12-01T00:00:00+01:00",
      "--limit",
      "10",
      "--rate",
      "2.5",
    );
    if (redrive.kind !== "run" || redrive.args.command !== "redrive") throw new Error("not a redrive");
    expect(redriveSpec(redrive.args)).to.deep.equal({
      codes: ["INFERENCE_FAILED", "DEADLINE_EXCEEDED"],
      since: "2026-12-01T00:00:00+01:00",
      limit: 10,
      ratePerSecond: 2.5,
    });
    const bare = parse("redrive", "reviews");
    if (bare.kind !== "run" || bare.args.command !== "redrive") throw new Error("not a redrive");
    expect(redriveSpec(bare.args)).to.deep.equal({});
  });

  it("gives help for the plugin and for each command, wherever --help is", () => {
    for (const argv of [[], ["--help"], ["-h"], ["help"]]) {
      const help = parse(...argv);
      expect(help.kind).to.equal("help");
      if (help.kind === "help") expect(help.text).to.include("Commands:").and.include("redrive");
    }
    for (const argv of [
      ["replay", "--help"],
      ["help", "replay"],
      ["replay", "x", "-h", "--from", "bad"],
    ]) {
      const help = parse(...argv);
      if (help.kind !== "help") throw new Error(`${argv.join(" ")} gave no help`);
      expect(help.text).to.include("kubectl sentiment replay NAME").and.include("--from TIME");
    }
  });

  it("refuses a bad command line with a message naming the argument, and says which --help helps", () => {
    const cases: [string[], RegExp, string | undefined][] = [
      [["statu", "x"], /unknown command "statu": the commands are status, send/, undefined],
      [["-n", "x"], /no command given/, undefined],
      [["status"], /status needs the pipeline's NAME/, "status"],
      [["status", "a", "b"], /takes one NAME; unexpected argument "b"/, "status"],
      [["status", "a", "--bogus"], /unknown option --bogus for status/, "status"],
      [["tail", "a", "--dlq=yes"], /--dlq takes no value/, "tail"],
      [["status", "a", "-n"], /-n needs a value \(NAMESPACE\)/, "status"],
      [["status", "a", "-o", "table"], /-o\/--output "table" is not a format: use json or yaml/, "status"],
      [["status", "a", "--window", "2"], /--window "2" is not a duration/, "status"],
      [["send", "a"], /send needs at least one TEXT/, "send"],
      [["send", "a", " "], /TEXT 1 is empty/, "send"],
      [["send", "a", "x", "--timeout", "0s"], /--timeout must be longer than 0/, "send"],
      [["replay", "a"], /replay needs --from TIME/, "replay"],
      [
        ["replay", "a", "--from", "yesterday"],
        /--from "yesterday" is neither an RFC 3339 date-time/,
        "replay",
      ],
      [
        ["replay", "a", "--from", "2026-13-45T00:00:00Z"],
        /--from "2026-13-45T00:00:00Z" is not a valid/,
        "replay",
      ],
      [["redrive", "a", "--code", "oops"], /--code "oops" is not a dead-letter code/, "redrive"],
      [["redrive", "a", "--limit", "0"], /--limit "0" is not a whole number of 1 or more/, "redrive"],
      [["redrive", "a", "--rate", "-1"], /--rate "-1" is not a number above 0/, "redrive"],
      [["redrive", "a", "--since", "1h", "--until", "2h"], /--since .* must be before --until/, "redrive"],
      [["pause", "a", "--wait"], /unknown option --wait for pause/, "pause"],
    ];
    for (const [argv, message, command] of cases) {
      const error = refusal(argv);
      expect(error.message, argv.join(" ")).to.match(message);
      expect(error.command, argv.join(" ")).to.equal(command);
      expect(error.exitCode).to.equal(2);
    }
  });

  it("reads durations as kubectl writes them", () => {
    expect(parseDuration("--x", "1h30m")).to.equal(5_400_000);
    expect(parseDuration("--x", "250ms")).to.equal(250);
    expect(parseDuration("--x", "1.5s")).to.equal(1_500);
    expect(() => parseDuration("--x", "")).to.throw(UsageError, /--x "" is not a duration/);
    expect(() => parseDuration("--x", "5 m")).to.throw(UsageError);
    expect(parseTime("--x", "2026-12-03T10:00:00.5z", now)).to.equal("2026-12-03T10:00:00.5z");
    expect(parseTime("--x", "1d", now)).to.equal("2026-12-02T12:00:00.000Z");
  });
});
