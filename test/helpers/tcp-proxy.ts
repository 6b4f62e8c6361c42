// A TCP proxy in front of a real server, to take a "target" down and bring it back in a test:
//
//   const proxy = await startTcpProxy(pg.port);   // 127.0.0.1:<proxy.port> → 127.0.0.1:<pg.port>
//   await proxy.down();   // refuses new connections and cuts the open ones
//   await proxy.up();     // accepts again, on the same port
//   proxy.refuseNew();    // refuses new connections and keeps the open ones (a reconnect cannot get through)
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  down(): Promise<void>;
  /** Stops accepting connections; those already open stay up (up() accepts again). */
  refuseNew(): void;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const makeServer = () =>
    net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      sockets.add(client);
      sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        sockets.delete(client);
        sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  const listen = (server: net.Server, port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  let server: net.Server | null = makeServer();
  const port = await listen(server, 0);
  const stop = async () => {
    const s = server;
    server = null;
    for (const sock of sockets) sock.destroy();
    sockets.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  };
  return {
    port,
    down: stop,
    refuseNew() {
      const s = server;
      server = null;
      s?.close();
    },
    async up() {
      if (server) return;
      server = makeServer();
      await listen(server, port);
    },
    close: stop,
  };
}
