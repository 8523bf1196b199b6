import { Writable } from "node:stream";
import { expect } from "chai";
import winston from "winston";
import { createLogger } from "../../common/src/logger.ts";

/** A logger whose lines land in an array instead of stdout. */
function capture(level: string): { logger: winston.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger("kubesentiment-worker", level);
  logger.clear().add(
    new winston.transports.Stream({
      stream: new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(JSON.parse(chunk.toString()));
          done();
        },
      }),
    }),
  );
  return { logger, lines };
}

describe("createLogger", () => {
  it("writes JSON lines with a timestamp and the service at or above its level", () => {
    const { logger, lines } = capture("info");
    logger.info("worker started", { httpPort: 8080 });
    logger.warn("breaker opened");
    expect(lines).to.have.length(2);
    expect(lines[0]).to.include({ level: "info", message: "worker started", httpPort: 8080 });
    expect(lines[0]).to.have.property("service", "kubesentiment-worker");
    expect(lines[0]).to.have.property("timestamp").that.is.a("string");
  });

  it("drops entries below its level before they are formatted", () => {
    const { logger, lines } = capture("info");
    let serialised = 0;
    const meta = {
      toJSON() {
        serialised++;
        return "meta";
      },
    };
    logger.debug("request classified", { meta });
    logger.info("request classified", { meta });
    expect(lines.map((line) => line.level)).to.deep.equal(["info"]);
    expect(serialised, "only the info line is serialised").to.equal(1);
  });
});
