// A TCP proxy a test can freeze: it forwards bytes both ways until freeze(), then forwards nothing more and keeps
// every connection open, and accepts new ones without ever connecting them on. To a client behind it the server
// has hung: requests are neither answered nor refused, the failure a timeout has to catch.
import { connect, createServer, type Socket } from "node:net";

export interface FreezableProxy {
  port: number;
  /** How many connections clients have opened to it so far. */
  accepted(): number;
  freeze(): void;
  close(): Promise<void>;
}

export async function startFreezableProxy(target: { host: string; port: number }): Promise<FreezableProxy> {
  let frozen = false;
  let accepted = 0;
  const sockets = new Set<Socket>();
  const links: [Socket, Socket][] = [];
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // A reset or a destroyed peer ends the link; the client sees its own error, the proxy has nothing to add.
    socket.on("error", () => socket.destroy());
  };
  const server = createServer((client) => {
    accepted++;
    track(client);
    if (frozen) return;
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    links.push([client, upstream]);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the proxy has no TCP address");
  return {
    port: address.port,
    accepted: () => accepted,
    freeze: () => {
      frozen = true;
      for (const [client, upstream] of links) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
