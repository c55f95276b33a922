/**
 * A fake QEMU for unit tests of the services: a node process started in QEMU's place by a
 * test launcher. It writes the pidfile, serves QMP on the runtime directory's qmp.sock (the
 * greeting, capabilities negotiation, and the commands the lifecycle sends, with the events
 * QEMU would emit) and a serial socket, and exits as QEMU does on `quit` or a shutdown.
 *
 * argv: <runDir> <behaviour>, behaviour one of
 *   obeys       the guest powers off on the ACPI button (SHUTDOWN, then exit 0)
 *   ignores     the guest ignores the ACPI button
 *   dies        exits with an error during start, before QMP is up (as QEMU with a bad option)
 *   dies-later  answers QMP, then exits with an error when told to `cont`
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const [runDir, behaviour] = process.argv.slice(2);
if (behaviour === 'dies') {
  process.stderr.write("qemu-system-x86_64: -blockdev driver=qcow2: Could not open 'disk.qcow2': Permission denied\n");
  process.exit(1);
}
fs.writeFileSync(path.join(runDir, 'qemu.pid'), `${process.pid}\n`);

let status = 'prelaunch';
const clients = new Set();
const ts = () => ({ seconds: Math.floor(Date.now() / 1000), microseconds: (Date.now() % 1000) * 1000 });
const send = (sock, msg) => sock.write(`${JSON.stringify(msg)}\r\n`);
const event = (name, data) => {
  for (const c of clients) send(c, data ? { event: name, data, timestamp: ts() } : { event: name, timestamp: ts() });
};
const quit = (code) => {
  for (const c of clients) c.end();
  setTimeout(() => process.exit(code), 20);
};

/** The answer to one command, after which `after` runs (events QEMU sends after its reply). */
function handle(cmd) {
  switch (cmd.execute) {
    case 'qmp_capabilities':
      return {};
    case 'query-status':
      return { return: { status, running: status === 'running' } };
    case 'cont':
      if (behaviour === 'dies-later') {
        process.stderr.write('qemu-system-x86_64: the guest could not be started\n');
        setTimeout(() => process.exit(1), 5);
        return { return: {} };
      }
      status = 'running';
      return { return: {}, after: () => event('RESUME') };
    case 'stop':
      status = 'paused';
      return { return: {}, after: () => event('STOP') };
    case 'system_reset':
      return { return: {}, after: () => event('RESET', { guest: false, reason: 'host-qmp-system-reset' }) };
    case 'system_powerdown':
      if (behaviour !== 'obeys') return { return: {} };
      return {
        return: {},
        after: () =>
          setTimeout(() => {
            event('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
            quit(0);
          }, 50),
      };
    case 'quit':
      return { return: {}, after: () => quit(0) };
    default:
      return { error: { class: 'CommandNotFound', desc: `The command ${cmd.execute} has not been found` } };
  }
}

const qmp = net.createServer((sock) => {
  clients.add(sock);
  sock.on('close', () => clients.delete(sock));
  sock.on('error', () => undefined);
  send(sock, { QMP: { version: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'fake' }, capabilities: [] } });
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const cmd = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      const r = handle(cmd);
      if (cmd.execute === 'qmp_capabilities') send(sock, { return: {}, id: cmd.id });
      else if (r.error) send(sock, { error: r.error, id: cmd.id });
      else send(sock, { return: r.return, id: cmd.id });
      r.after?.();
    }
  });
});
qmp.listen(path.join(runDir, 'qmp.sock'));
const serial = net.createServer((sock) => sock.on('error', () => undefined));
serial.listen(path.join(runDir, 'serial.sock'));
process.on('SIGTERM', () => process.exit(0));
