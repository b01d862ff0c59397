/**
 * TCP transport (node:net): the host side connects, a board bridge or the firmware
 * simulator listens. Listening defaults to the loopback interface so a simulator is
 * never exposed to the network by accident.
 */

import net from 'node:net';
import { DEFAULT_TCP_HOST, LinkError, type ByteTransport } from './transport.js';

/** Wrap a connected socket as a ByteTransport. */
export function socketTransport(socket: net.Socket, name: string): ByteTransport {
  let onData: (bytes: Uint8Array) => void = () => {};
  let onClose: (reason?: Error) => void = () => {};
  let closed = false;
  let failure: Error | undefined;
  socket.setNoDelay(true); // small request frames must not wait for Nagle's timer
  socket.on('data', (chunk: Buffer) => onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
  socket.on('error', (err) => {
    failure = err;
  });
  socket.on('close', () => {
    if (closed) return;
    closed = true;
    onClose(failure);
  });
  return {
    name,
    write(bytes) {
      if (closed || socket.destroyed) return Promise.reject(new LinkError('UNAVAILABLE', `${name}: connection closed`));
      return new Promise<void>((resolve, reject) => {
        socket.write(bytes, (err) => (err ? reject(new LinkError('UNAVAILABLE', `${name}: write failed: ${err.message}`)) : resolve()));
      });
    },
    onData(cb) {
      onData = cb;
    },
    onClose(cb) {
      onClose = cb;
      if (closed) queueMicrotask(() => cb(failure));
    },
    close() {
      if (socket.destroyed) return Promise.resolve();
      return new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end();
        // A peer that never answers the FIN must not keep close() pending.
        setTimeout(() => socket.destroy(), 500).unref();
      });
    },
  };
}

/**
 * Connect to `host:port`. Rejects with a LinkError naming the address and what to
 * check if the connection is refused or takes longer than `connectTimeoutMs`.
 */
export function connectTcp(host: string, port: number, opts: { connectTimeoutMs?: number } = {}): Promise<ByteTransport> {
  const timeoutMs = opts.connectTimeoutMs ?? 5000;
  const name = `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new LinkError('DEADLINE_EXCEEDED', `${name}: no connection within ${timeoutMs} ms; check the address and that the device or simulator is listening`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socketTransport(socket, name));
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = err.code === 'ECONNREFUSED' ? 'nothing listens there; start the device bridge or the simulator first' : err.message;
      reject(new LinkError('UNAVAILABLE', `${name}: cannot connect (${err.code ?? 'error'}): ${hint}`));
    });
  });
}

export interface TcpListener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/**
 * Listen on `host:port` (host defaults to 127.0.0.1; port 0 picks a free one) and call
 * `onConnection` with each accepted connection as a ByteTransport.
 */
export function listenTcp(
  port: number,
  onConnection: (t: ByteTransport) => void,
  host: string = DEFAULT_TCP_HOST,
): Promise<TcpListener> {
  return new Promise((resolve, reject) => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      onConnection(socketTransport(socket, `tcp://${socket.remoteAddress}:${socket.remotePort}`));
    });
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new LinkError('UNAVAILABLE', `cannot listen on ${host}:${port} (${err.code ?? err.message}); pick another port`)),
    );
    server.listen(port, host, () => {
      const addr = server.address() as net.AddressInfo;
      resolve({
        port: addr.port,
        host,
        close: () =>
          new Promise<void>((res) => {
            for (const s of sockets) s.destroy();
            server.close(() => res());
          }),
      });
    });
  });
}
