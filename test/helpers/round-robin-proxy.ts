/**
 * A round-robin TCP proxy on loopback: each new connection goes to the next target, the way a
 * load balancer spreads clients over replicas. Bytes are piped untouched, so whatever a client
 * sends on one connection (keep-alive included) stays on one replica.
 */
import { connect, createServer, type Socket } from "node:net";

export interface RoundRobinProxy {
  /** e.g. `127.0.0.1:41234`, for image references. */
  readonly hostPort: string;
  readonly url: string;
  /** How many connections went to each target, by index. */
  readonly connections: number[];
  close(): Promise<void>;
}

export async function startRoundRobinProxy(targets: readonly number[]): Promise<RoundRobinProxy> {
  const connections = targets.map(() => 0);
  const open = new Set<Socket>();
  let next = 0;
  const server = createServer((client) => {
    const index = next++ % targets.length;
    connections[index]!++;
    const upstream = connect({ host: "127.0.0.1", port: targets[index]! });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    hostPort: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    connections,
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
