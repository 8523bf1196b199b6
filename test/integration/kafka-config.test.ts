// The pure rules of the local Kafka harness (ports, node configuration, environment), checked without a JVM.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "chai";
import { repoRoot } from "../../hack/harness/dirs.ts";
import {
  addScramArgs,
  bootstrapServers,
  clusterPorts,
  kafkaSettingsFromEnv,
  kafkaVersionOf,
  renderServerProperties,
  secureListenerProperties,
  withProperties,
} from "../../hack/harness/kafka-config.ts";

describe("local Kafka harness: configuration", () => {
  it("gives node i the client port base+2i and the controller port just above", () => {
    expect(bootstrapServers(9092, 3)).to.deep.equal(["127.0.0.1:9092", "127.0.0.1:9094", "127.0.0.1:9096"]);
    expect(clusterPorts(9092, 1, "KAFKA_PORT_BASE").map((p) => p.port)).to.deep.equal([9092, 9093]);
  });

  it("puts the client listener on another address when asked (the pod gateway), the controllers on loopback", () => {
    expect(bootstrapServers(9092, 1, "10.88.0.1")).to.deep.equal(["10.88.0.1:9092"]);
    const template = readFileSync(join(repoRoot, "hack/kafka/server.properties.template"), "utf8");
    const node = { nodeId: 0, brokers: 1 as const, portBase: 9092, dataDir: "/d" };
    const listeners = (properties: string) =>
      properties.split("\n").filter((line) => line.includes("listeners="));
    expect(listeners(renderServerProperties(template, { ...node, clientHost: "10.88.0.1" }))).to.deep.equal([
      "listeners=PLAINTEXT://10.88.0.1:9092,CONTROLLER://127.0.0.1:9093",
      "advertised.listeners=PLAINTEXT://10.88.0.1:9092",
    ]);
    expect(listeners(renderServerProperties(template, node))).to.deep.equal([
      "listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
      "advertised.listeners=PLAINTEXT://127.0.0.1:9092",
    ]);
  });

  it("renders a three-voter quorum with replication 3 and two in-sync replicas required", () => {
    const template = "id={{nodeId}}\nvoters={{voters}}\nrf={{replicationFactor}}\nisr={{minInsync}}\n";
    const rendered = renderServerProperties(template, {
      nodeId: 1,
      brokers: 3,
      portBase: 100,
      dataDir: "/d",
    });
    expect(rendered).to.equal("id=1\nvoters=0@127.0.0.1:101,1@127.0.0.1:103,2@127.0.0.1:105\nrf=3\nisr=2\n");
  });

  it("requires only the single replica of a one-node cluster", () => {
    const rendered = renderServerProperties("{{replicationFactor}}/{{minInsync}}", {
      nodeId: 0,
      brokers: 1,
      portBase: 9092,
      dataDir: "/d",
    });
    expect(rendered).to.equal("1/1");
  });

  it("disables topic auto-creation unless a cluster asks for Kafka's default", () => {
    const node = { nodeId: 0, brokers: 1, portBase: 9092, dataDir: "/d" } as const;
    expect(renderServerProperties("{{autoCreateTopics}}", node)).to.equal("false");
    expect(renderServerProperties("{{autoCreateTopics}}", { ...node, autoCreateTopics: true })).to.equal(
      "true",
    );
  });

  it("refuses a template placeholder it does not know", () => {
    expect(() =>
      renderServerProperties("{{nodeid}}", { nodeId: 0, brokers: 1, portBase: 9092, dataDir: "/d" }),
    ).to.throw("unknown {{nodeid}}");
  });

  it("reads the Kafka version from the pom", () => {
    expect(kafkaVersionOf("<properties><kafka.version>4.3.1</kafka.version></properties>")).to.equal("4.3.1");
    expect(() => kafkaVersionOf("<project/>")).to.throw("<kafka.version>");
  });

  it("defaults to one node on 9092 and explains a setting it cannot use", () => {
    expect(kafkaSettingsFromEnv({})).to.deep.include({ brokers: 1, portBase: 9092, readyTimeoutMs: 120_000 });
    expect(kafkaSettingsFromEnv({ KAFKA_BROKERS: "3", KAFKA_HEAP_OPTS: " -Xmx1g " }).heapOpts).to.deep.equal([
      "-Xmx1g",
    ]);
    expect(() => kafkaSettingsFromEnv({ KAFKA_BROKERS: "2" })).to.throw(
      "KAFKA_BROKERS must be 1 or 3, not '2'",
    );
    expect(() => kafkaSettingsFromEnv({ KAFKA_PORT_BASE: "nine" })).to.throw("KAFKA_PORT_BASE must be");
    expect(() => kafkaSettingsFromEnv({ KAFKA_READY_TIMEOUT_MS: "0" })).to.throw("KAFKA_READY_TIMEOUT_MS");
  });

  describe("SASL_SSL listener", () => {
    const security = {
      keystoreFile: "/n/keystore.pem",
      truststoreFile: "/pki/ca.crt",
      interBrokerUser: { name: "admin", password: "s3cret" },
      clientAuth: false,
      authorizer: false,
    };

    it("replaces the client listener and keeps the controller's PLAINTEXT on loopback", () => {
      const properties = secureListenerProperties(29_892, 0, security);
      expect(properties).to.include({
        listeners: "SASL_SSL://127.0.0.1:29892,CONTROLLER://127.0.0.1:29893",
        "advertised.listeners": "SASL_SSL://127.0.0.1:29892",
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "ssl.keystore.type": "PEM",
        "ssl.truststore.location": "/pki/ca.crt",
        "listener.name.sasl_ssl.ssl.client.auth": "none",
      });
      expect(properties["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]).to.equal(
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="s3cret";',
      );
      expect(secureListenerProperties(29_892, 0, { ...security, clientAuth: true })).to.include({
        "listener.name.sasl_ssl.ssl.client.auth": "required",
      });
    });

    it("binds and advertises the client host it is given (the pod gateway), the controller staying on loopback", () => {
      expect(secureListenerProperties(29_892, 0, { ...security, clientHost: "10.88.0.1" })).to.include({
        listeners: "SASL_SSL://10.88.0.1:29892,CONTROLLER://127.0.0.1:29893",
        "advertised.listeners": "SASL_SSL://10.88.0.1:29892",
      });
    });

    it("enforces ACLs only when asked, with the node's own login and the controller listener as super users", () => {
      expect(secureListenerProperties(29_892, 0, security)).to.not.have.property("authorizer.class.name");
      expect(secureListenerProperties(29_892, 0, { ...security, authorizer: true })).to.include({
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": "User:admin;User:ANONYMOUS",
      });
    });

    it("sets properties in place and appends the new ones", () => {
      const rendered = "# c\nlisteners=PLAINTEXT://x:1\nlog.dirs=/d\n";
      expect(withProperties(rendered, { listeners: "SASL_SSL://x:1", "ssl.client.auth": "none" })).to.equal(
        "# c\nlisteners=SASL_SSL://x:1\nlog.dirs=/d\n\nssl.client.auth=none\n",
      );
      expect(() => withProperties(rendered, { "a.b": "x\\y" })).to.throw("a.b needs escaping");
    });

    it("creates SCRAM-SHA-512 users at format time and refuses what the storage tool would misread", () => {
      expect(addScramArgs([{ name: "alice", password: "pw-1" }])).to.deep.equal([
        "--add-scram",
        "SCRAM-SHA-512=[name=alice,password=pw-1]",
      ]);
      expect(() => addScramArgs([{ name: "bob", password: "a,b" }])).to.throw("SCRAM user 'bob'");
    });
  });
});
