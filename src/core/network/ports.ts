/** Host-side checks for port forwarding rules. */
import dgram from 'node:dgram';
import net from 'node:net';
import type { ForwardProtocol } from '../domain/config';

/** Resolves with null when the port can be bound now, or with the reason it cannot. */
export function portAvailable(protocol: ForwardProtocol, host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const why = (err: NodeJS.ErrnoException) =>
      err.code === 'EADDRINUSE'
        ? `${protocol.toUpperCase()} port ${port} on ${host} is already in use`
        : err.code === 'EACCES'
          ? `${protocol.toUpperCase()} port ${port} on ${host} needs privileges (use a port above 1023)`
          : err.code === 'EADDRNOTAVAIL'
            ? `${host} is not an address of this host`
            : `cannot bind ${host}:${port}: ${err.message}`;
    if (protocol === 'udp') {
      const s = dgram.createSocket('udp4');
      s.once('error', (err) => {
        s.close();
        resolve(why(err));
      });
      s.bind(port, host, () => s.close(() => resolve(null)));
      return;
    }
    const srv = net.createServer();
    srv.once('error', (err) => resolve(why(err)));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(null)));
  });
}
