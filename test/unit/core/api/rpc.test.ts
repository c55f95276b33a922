import { describe, expect, it, vi } from 'vitest';
import { MAX_HELD, RpcClient, bridgeTransports, heldTransport, memoryTransportPair, serveTransport } from '../../../../src/core/api/rpc';
import type { Session, Transport } from '../../../../src/core/api/rpc';
import { NestboxError } from '../../../../src/core/api/errors';
import type { EventName, WireMessage } from '../../../../src/core/api/contract';

type Push = (name: EventName, data: unknown) => void;

/** A session whose behaviour per method is given by the test; records calls and disposal. */
function fakeSession(handlers: Record<string, (params: unknown) => unknown>) {
  const calls: { method: string; params: unknown }[] = [];
  let push: Push | undefined;
  const dispose = vi.fn();
  const make = (p: Push): Session => {
    push = p;
    return {
      async call(method, params) {
        calls.push({ method, params });
        const h = handlers[method];
        if (!h) throw new NestboxError('UNKNOWN_METHOD', `no method ${method}`);
        return h(params);
      },
      dispose,
    };
  };
  return {
    make,
    calls,
    dispose,
    push(name: EventName, data: unknown) {
      if (!push) throw new Error('session not made yet');
      push(name, data);
    },
  };
}

function setup(handlers: Record<string, (params: unknown) => unknown>) {
  const [clientSide, serverSide] = memoryTransportPair();
  const session = fakeSession(handlers);
  serveTransport(serverSide, session.make);
  const client = new RpcClient(clientSide);
  return { client, session, clientSide, serverSide };
}

async function rejection(p: Promise<unknown>): Promise<NestboxError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(NestboxError);
    return err as NestboxError;
  }
  throw new Error('the call resolved');
}

/** Lets queued microtasks (the in-memory transport's deliveries) run. */
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('RpcClient + serveTransport over memoryTransportPair', () => {
  it('resolves a call with the session result and passes the params through', async () => {
    const { client, session } = setup({ 'vms.info': (p) => ({ echoed: p }) });
    await expect(client.call('vms.info', { ref: 'Debian' })).resolves.toEqual({ echoed: { ref: 'Debian' } });
    expect(session.calls).toEqual([{ method: 'vms.info', params: { ref: 'Debian' } }]);
  });

  it('matches replies to their calls when they complete out of order', async () => {
    let releaseSlow: () => void = () => undefined;
    const { client } = setup({
      'vms.start': () => new Promise((r) => (releaseSlow = () => r('slow'))),
      'vms.pause': () => 'fast',
    });
    const slow = client.call('vms.start', { ref: 'a' });
    const fast = client.call('vms.pause', { ref: 'b' });
    await expect(fast).resolves.toBe('fast');
    releaseSlow();
    await expect(slow).resolves.toBe('slow');
  });

  it('sends null for a session result of undefined', async () => {
    const { client } = setup({ 'console.close': () => undefined });
    await expect(client.call('console.close', { stream: 's' })).resolves.toBeNull();
  });

  it('copies values across: the result is not the server object', async () => {
    const shared = { list: [1, 2, 3] };
    const { client } = setup({ 'vms.list': () => shared });
    const got = await client.call('vms.list', {});
    expect(got).toEqual(shared);
    expect(got).not.toBe(shared);
  });

  it('delivers a NestboxError with the same code, message and detail', async () => {
    const { client } = setup({
      'vms.start': () => {
        throw new NestboxError('INVALID_STATE', "cannot start 'x' while it is running", 'state=running');
      },
    });
    const err = await rejection(client.call('vms.start', { ref: 'x' }));
    expect(err.code).toBe('INVALID_STATE');
    expect(err.message).toBe("cannot start 'x' while it is running");
    expect(err.detail).toBe('state=running');
  });

  it('delivers a rejected promise the same way as a throw', async () => {
    const { client } = setup({ 'vms.info': () => Promise.reject(new NestboxError('NOT_FOUND', 'no VM named y')) });
    const err = await rejection(client.call('vms.info', { ref: 'y' }));
    expect(err.code).toBe('NOT_FOUND');
    expect(err.detail).toBeUndefined();
  });

  it('turns a plain Error into INTERNAL, keeping its message', async () => {
    const { client } = setup({
      'vms.list': () => {
        throw new TypeError('cannot read properties of undefined');
      },
    });
    const err = await rejection(client.call('vms.list', {}));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('cannot read properties of undefined');
  });

  it('turns a thrown non-Error into INTERNAL', async () => {
    const { client } = setup({
      'vms.list': () => {
        throw 'just a string';
      },
    });
    const err = await rejection(client.call('vms.list', {}));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('just a string');
  });

  it('reports an unknown error code from the wire as INTERNAL', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    serverSide.onMessage((m) => {
      if (m.t === 'req') serverSide.send({ t: 'err', id: m.id, error: { code: 'MADE_UP' as never, message: 'odd' } });
    });
    const err = await rejection(new RpcClient(clientSide).call('vms.list', {}));
    expect(err.code).toBe('INTERNAL');
    expect(err.message).toBe('odd');
  });

  it('reports a malformed error reply as PROTOCOL_ERROR', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    serverSide.onMessage((m) => {
      if (m.t === 'req') serverSide.send({ t: 'err', id: m.id, error: 'boom' as never });
    });
    const err = await rejection(new RpcClient(clientSide).call('vms.list', {}));
    expect(err.code).toBe('PROTOCOL_ERROR');
  });

  it('ignores replies to ids it never sent', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    serverSide.onMessage((m) => {
      if (m.t !== 'req') return;
      serverSide.send({ t: 'res', id: m.id + 1000, result: 'stray' });
      serverSide.send({ t: 'res', id: m.id, result: 'mine' });
    });
    await expect(new RpcClient(clientSide).call('vms.list', {})).resolves.toBe('mine');
  });

  it('routes pushed events to on() listeners by name, and unsubscribing stops them', async () => {
    const { client, session } = setup({});
    const changed: unknown[] = [];
    const removed: unknown[] = [];
    const off = client.on('vm.changed', (d) => changed.push(d));
    client.on('vm.removed', (d) => removed.push(d));
    session.push('vm.changed', { uuid: 'u1' });
    session.push('vm.removed', { uuid: 'u2' });
    await flush();
    expect(changed).toEqual([{ uuid: 'u1' }]);
    expect(removed).toEqual([{ uuid: 'u2' }]);
    off();
    session.push('vm.changed', { uuid: 'u3' });
    await flush();
    expect(changed).toEqual([{ uuid: 'u1' }]);
  });

  it('gives every listener of an event the data, even when one of them throws', async () => {
    const { client, session } = setup({});
    const seen: string[] = [];
    client.on('vm.changed', () => {
      throw new Error('listener bug');
    });
    client.on('vm.changed', (d) => seen.push(d.uuid));
    session.push('vm.changed', { uuid: 'u1' });
    await flush();
    expect(seen).toEqual(['u1']);
  });

  it('ignores requests arriving at the client', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    const client = new RpcClient(clientSide);
    const sent: WireMessage[] = [];
    serverSide.onMessage((m) => sent.push(m));
    serverSide.send({ t: 'req', id: 1, method: 'vms.list', params: {} });
    await flush();
    expect(sent).toEqual([]);
    expect(client.closed).toBe(false);
  });

  it('on close: rejects pending calls, fires onClose, disposes the session, refuses new calls', async () => {
    const { client, session } = setup({ 'vms.shutdown': () => new Promise(() => undefined) });
    const onClose = vi.fn();
    client.onClose(onClose);
    const pending = client.call('vms.shutdown', { ref: 'x' });
    await flush();
    expect(session.calls).toHaveLength(1);
    client.close();
    const err = await rejection(pending);
    expect(err.code).toBe('PROTOCOL_ERROR');
    expect(err.message).toContain('connection to the Nestbox core closed');
    await flush();
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(session.dispose).toHaveBeenCalledTimes(1);
    expect(client.closed).toBe(true);
    const later = await rejection(client.call('vms.list', {}));
    expect(later.code).toBe('PROTOCOL_ERROR');
  });

  it('disposes the session when the server side closes, and the client notices', async () => {
    const { client, session, serverSide } = setup({});
    const reasons: (Error | undefined)[] = [];
    client.onClose((r) => reasons.push(r));
    serverSide.close();
    await flush();
    expect(session.dispose).toHaveBeenCalledTimes(1);
    expect(reasons).toEqual([undefined]);
    expect(client.closed).toBe(true);
  });

  it('an unsubscribed onClose listener is not called', async () => {
    const { client } = setup({});
    const onClose = vi.fn();
    client.onClose(onClose)();
    client.close();
    await flush();
    expect(onClose).not.toHaveBeenCalled();
  });

  it('does not push events or replies after the transport closed', async () => {
    let release: (v: unknown) => void = () => undefined;
    const [clientSide, serverSide] = memoryTransportPair();
    const sendSpy = vi.spyOn(serverSide, 'send');
    const session = fakeSession({ 'vms.start': () => new Promise((r) => (release = r)) });
    serveTransport(serverSide, session.make);
    const client = new RpcClient(clientSide);
    const p = client.call('vms.start', { ref: 'x' }).catch(() => 'rejected');
    await flush();
    client.close();
    await flush();
    release('late');
    session.push('vm.changed', { uuid: 'u' });
    await flush();
    expect(await p).toBe('rejected');
    // A send on a closed transport would throw; nothing was sent at all.
    expect(sendSpy).not.toHaveBeenCalled();
  });

  it('a call on a transport whose send throws rejects with PROTOCOL_ERROR', async () => {
    const broken: Transport = {
      send() {
        throw new Error('pipe broke');
      },
      onMessage() {},
      onClose() {},
      close() {},
    };
    const err = await rejection(new RpcClient(broken).call('vms.list', {}));
    expect(err.code).toBe('PROTOCOL_ERROR');
    expect(err.message).toBe('pipe broke');
  });
});

/** A transport the test drives by hand: `deliver` hands a (possibly malformed) message to its listeners. */
function manualTransport() {
  const msgCbs: ((m: WireMessage) => void)[] = [];
  const sent: WireMessage[] = [];
  const t: Transport = {
    send: (m) => void sent.push(m),
    onMessage: (cb) => void msgCbs.push(cb),
    onClose: () => undefined,
    close: () => undefined,
  };
  return { t, sent, deliver: (m: unknown) => msgCbs.forEach((cb) => cb(m as WireMessage)) };
}

describe('malformed messages from the wire', () => {
  it('the server ignores messages that are not requests', async () => {
    const m = manualTransport();
    const session = fakeSession({ 'vms.list': () => [] });
    serveTransport(m.t, session.make);
    m.deliver({ t: 'res', id: 1, result: 1 });
    m.deliver({ t: 'evt', name: 'x', data: 1 });
    m.deliver(42);
    m.deliver('req');
    await flush();
    expect(session.calls).toEqual([]);
    expect(m.sent).toEqual([]);
  });

  it('the server survives a null message', () => {
    const m = manualTransport();
    serveTransport(m.t, fakeSession({}).make);
    expect(() => m.deliver(null)).not.toThrow();
  });

  // Same shape of bug on the client side (src/core/api/rpc.ts, RpcClient.onMessage's
  // `switch (msg.t)`): a null message from the server throws inside the transport callback.
  it('the client survives a null message', () => {
    const m = manualTransport();
    new RpcClient(m.t);
    expect(() => m.deliver(null)).not.toThrow();
  });
});

describe('memoryTransportPair', () => {
  it('delivers asynchronously, in order, as structured clones', async () => {
    const [a, b] = memoryTransportPair();
    const got: WireMessage[] = [];
    b.onMessage((m) => got.push(m));
    const msg: WireMessage = { t: 'evt', name: 'vm.changed', data: { uuid: 'u' } };
    a.send(msg);
    a.send({ t: 'evt', name: 'vm.removed', data: { uuid: 'v' } });
    expect(got).toEqual([]);
    await flush();
    expect(got.map((m) => (m.t === 'evt' ? m.name : ''))).toEqual(['vm.changed', 'vm.removed']);
    expect(got[0]).toEqual(msg);
    expect(got[0]).not.toBe(msg);
  });

  it('throws on send after close and drops messages in flight', async () => {
    const [a, b] = memoryTransportPair();
    const got: WireMessage[] = [];
    b.onMessage((m) => got.push(m));
    a.send({ t: 'evt', name: 'vm.changed', data: {} });
    b.close();
    await flush();
    expect(got).toEqual([]);
    expect(() => a.send({ t: 'evt', name: 'vm.changed', data: {} })).toThrow(NestboxError);
  });

  it('fires onClose on both sides exactly once', async () => {
    const [a, b] = memoryTransportPair();
    const ca = vi.fn();
    const cb = vi.fn();
    a.onClose(ca);
    b.onClose(cb);
    a.close();
    a.close();
    b.close();
    await flush();
    expect(ca).toHaveBeenCalledTimes(1);
    expect(cb).toHaveBeenCalledTimes(1);
  });
});

describe('bridgeTransports', () => {
  /** client ⇄ [bridge] ⇄ core, built from two in-memory pairs. */
  function bridged(handlers: Record<string, (params: unknown) => unknown>) {
    const [clientSide, bridgeNear] = memoryTransportPair();
    const [bridgeFar, coreSide] = memoryTransportPair();
    bridgeTransports(bridgeNear, bridgeFar);
    const session = fakeSession(handlers);
    serveTransport(coreSide, session.make);
    return { client: new RpcClient(clientSide), session, coreSide };
  }

  it('carries calls, errors and events through to the other side', async () => {
    const { client, session } = bridged({
      'vms.info': (p) => p,
      'vms.start': () => {
        throw new NestboxError('BUSY', 'busy');
      },
    });
    await expect(client.call('vms.info', { ref: 'a' })).resolves.toEqual({ ref: 'a' });
    await expect(client.call('vms.start', { ref: 'a' })).rejects.toMatchObject({ code: 'BUSY' });
    const got = new Promise((r) => client.on('vm.removed', r));
    session.push('vm.removed', { uuid: 'u' });
    await expect(got).resolves.toEqual({ uuid: 'u' });
  });

  it('closing the client closes the core connection (its session is disposed)', async () => {
    const { client, session } = bridged({});
    client.close();
    await flush();
    expect(session.dispose).toHaveBeenCalledTimes(1);
  });

  it('closing the core connection closes the client and fails its pending calls', async () => {
    const { client, coreSide } = bridged({ 'vms.shutdown': () => new Promise(() => undefined) });
    const pending = client.call('vms.shutdown', { ref: 'x' });
    await flush();
    coreSide.close();
    await expect(pending).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    expect(client.closed).toBe(true);
  });
});

describe('heldTransport', () => {
  it('keeps calls sent before the server listens and answers them, in order, once it does', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    const held = heldTransport(serverSide);
    const client = new RpcClient(clientSide);
    const order: string[] = [];
    const first = client.call('vms.info', { ref: 'a' });
    const second = client.call('vms.info', { ref: 'b' });
    await flush();
    // Nothing serves the transport yet (web mode's core still opening): the calls wait.
    const session = fakeSession({
      'vms.info': (p) => {
        order.push((p as { ref: string }).ref);
        return p;
      },
    });
    serveTransport(held, session.make);
    const third = client.call('vms.info', { ref: 'c' });
    await expect(Promise.all([first, second, third])).resolves.toEqual([{ ref: 'a' }, { ref: 'b' }, { ref: 'c' }]);
    expect(order).toEqual(['a', 'b', 'c']);
  });

  it('disposes a session made after its client left', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    const held = heldTransport(serverSide);
    clientSide.close();
    await flush();
    const session = fakeSession({});
    serveTransport(held, session.make);
    await flush();
    expect(session.dispose).toHaveBeenCalledTimes(1);
  });

  it('closes a client that floods before the server listens, holding no more than its bound', async () => {
    const [clientSide, serverSide] = memoryTransportPair();
    const held = heldTransport(serverSide);
    let closed = false;
    clientSide.onClose(() => (closed = true));
    for (let i = 0; i <= MAX_HELD; i++) clientSide.send({ t: 'req', id: i, method: 'vms.info', params: { ref: 'x' } });
    await flush();
    expect(closed).toBe(true);
    const got: unknown[] = [];
    held.onMessage((m) => got.push(m));
    expect(got).toEqual([]);
  });
});
