import { expect } from "chai";
import { type CompletionSources, complete, formatCompletion } from "../../../operator/src/cli/completion.ts";

const asked: (string | undefined)[] = [];
const sources: CompletionSources = {
  pipelines: async (namespace) => {
    asked.push(namespace);
    return namespace === "shop" ? ["orders"] : ["reviews", "returns"];
  },
  namespaces: async () => ["default", "shop"],
  contexts: async () => ["dev", "prod"],
};
const values = async (...words: string[]) =>
  (await complete(words, sources)).choices.map((choice) => choice.split("\t")[0]);

describe("kubectl sentiment: completion", () => {
  it("completes command names, with their summaries, filtered by what is typed", async () => {
    const all = await complete([""], sources);
    expect(all.choices.map((choice) => choice.split("\t")[0])).to.deep.equal([
      "status",
      "send",
      "tail",
      "pause",
      "resume",
      "replay",
      "redrive",
      "help",
    ]);
    expect(all.choices[0]).to.match(/^status\tconditions, replicas/);
    expect(all.directive).to.equal(4);
    expect(await values("re")).to.deep.equal(["resume", "replay", "redrive"]);
  });

  it("completes pipeline names from the cluster, in the namespace typed", async () => {
    asked.length = 0;
    expect(await values("status", "re")).to.deep.equal(["reviews", "returns"]);
    expect(await values("-n", "shop", "tail", "")).to.deep.equal(["orders"]);
    expect(await values("tail", "--namespace=shop", "")).to.deep.equal(["orders"]);
    expect(asked).to.deep.equal([undefined, "shop", "shop"]);
    expect(await values("status", "reviews", "")).to.deep.equal([]);
  });

  it("completes flags of the command, and the values of those with known ones", async () => {
    expect(await values("redrive", "reviews", "--")).to.include.members([
      "--code",
      "--since",
      "--wait",
      "--namespace",
    ]);
    expect(await values("status", "reviews", "--")).to.not.include("--code");
    expect(await values("status", "reviews", "-o", "")).to.deep.equal(["json", "yaml"]);
    expect(await values("replay", "reviews", "--from", "e")).to.deep.equal(["earliest"]);
    expect(await values("status", "-n", "s")).to.deep.equal(["shop"]);
    expect(await values("--context", "")).to.deep.equal(["dev", "prod"]);
    expect(await complete(["status", "--kubeconfig", ""], sources)).to.deep.equal({
      choices: [],
      directive: 0,
    });
  });

  it("prints one choice a line, then cobra's directive", () => {
    expect(formatCompletion({ choices: ["a\tx", "b"], directive: 4 })).to.equal("a\tx\nb\n:4\n");
  });
});
