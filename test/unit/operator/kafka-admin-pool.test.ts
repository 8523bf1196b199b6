import { expect } from "chai";
import { waitFor } from "../../../hack/harness/wait.ts";
import { AdminPool, connectionKey } from "../../../operator/src/kafka/admin-pool.ts";
import { KafkaAdminError } from "../../../operator/src/kafka/errors.ts";

describe("admin connection key", () => {
  const sasl = { mechanism: "scram-sha-512" as const, username: "alice", password: "secret-1" };

  it("is the same for the same brokers in any order, with the same credentials", () => {
    expect(connectionKey({ bootstrapServers: ["b:9092", "a:9092"], sasl })).to.equal(
      connectionKey({ bootstrapServers: ["a:9092", "b:9092", "a:9092"], sasl: { ...sasl } }),
    );
  });

  it("differs when the brokers, the password, the user or a certificate differ", () => {
    const base = connectionKey({ bootstrapServers: ["a:9092"], sasl, ssl: { ca: [Buffer.from("ca-1")] } });
    for (const other of [
      { bootstrapServers: ["b:9092"], sasl, ssl: { ca: [Buffer.from("ca-1")] } },
      {
        bootstrapServers: ["a:9092"],
        sasl: { ...sasl, password: "secret-2" },
        ssl: { ca: [Buffer.from("ca-1")] },
      },
      {
        bootstrapServers: ["a:9092"],
        sasl: { ...sasl, username: "bob" },
        ssl: { ca: [Buffer.from("ca-1")] },
      },
      { bootstrapServers: ["a:9092"], sasl, ssl: { ca: [Buffer.from("ca-2")] } },
      { bootstrapServers: ["a:9092"], sasl },
    ]) {
      expect(connectionKey(other)).to.not.equal(base);
    }
  });

  it("holds no password, only its hash", () => {
    expect(connectionKey({ bootstrapServers: ["a:9092"], sasl })).to.not.include("secret-1");
  });
});

describe("admin pool", () => {
  it("keeps no connection that failed to open: each later use tries again and says why", async () => {
    const pool = new AdminPool();
    // Port 1: nothing listens, so every connection attempt is refused at once.
    for (let attempt = 0; attempt < 2; attempt++) {
      const admin = pool.lease({ bootstrapServers: ["127.0.0.1:1"] });
      const error = await admin.describeTopics(["any"]).catch((thrown: unknown) => thrown);
      expect(error).to.be.instanceOf(KafkaAdminError);
      expect(error).to.include({ reason: "KafkaUnreachable" });
      await admin.close();
    }
    expect(pool.size).to.equal(1);
    await pool.close();
    expect(pool.size).to.equal(0);
  });

  it("closes a connection once no one has used it for the idle time", async () => {
    const pool = new AdminPool({ idleMs: 1 });
    const admin = pool.lease({ bootstrapServers: ["127.0.0.1:1"] });
    expect(pool.size).to.equal(1);
    await admin.close();
    await waitFor("the idle connection closed", () => pool.size === 0 || undefined, { timeoutMs: 5_000 });
  });
});
