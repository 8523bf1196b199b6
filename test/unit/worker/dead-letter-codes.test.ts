// The dead-letter codes are a contract users filter and alert on: the code list, the schema and the README
// table must name the same set.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { repoRoot } from "../../../hack/harness/dirs.ts";
import { deadLetterCodes } from "../../../worker/src/contract/dead-letter-codes.ts";
import deadLetterSchema from "../../../worker/src/contract/schemas/dead-letter.schema.json" with {
  type: "json",
};

describe("dead-letter codes", () => {
  const codes = Object.keys(deadLetterCodes).sort();

  it("are the dead-letter schema's code enum", () => {
    expect([...deadLetterSchema.properties.code.enum].sort()).to.deep.equal(codes);
  });

  it("each have a row in the README's table", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| `([A-Z_]+)` \|/gm)]
      .map((match) => match[1])
      .filter((code) => code !== undefined);
    expect(rows.filter((code) => code in deadLetterCodes).sort()).to.deep.equal(codes);
  });
});
