/**
 * The simulator's end of a pseudo-terminal as a ByteTransport over a raw file
 * descriptor, read and written by libuv's tty handle on the event loop. (serialport
 * reads through the thread pool, two hops per read: fine for a host, but on the board
 * side of a 1 Mbaud line every 0.1 ms of latency is 10 bytes of wire time.)
 */

import { constants, openSync } from 'node:fs';
import tty from 'node:tty';
import { LinkError, type ByteTransport } from '../src/link/transport.js';

/** Open a tty path (a pseudo-terminal end) in raw mode. */
export function openTty(path: string): ByteTransport {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch (e) {
    throw new LinkError('UNAVAILABLE', `${path}: cannot open (${(e as NodeJS.ErrnoException).code})`);
  }
  const input = new tty.ReadStream(fd);
  input.setRawMode(true);
  const output = new tty.WriteStream(fd);
  let closed = false;
  let onClose: (reason?: Error) => void = () => {};
  const finish = (err?: Error) => {
    if (closed) return;
    closed = true;
    onClose(err);
  };
  input.on('error', (e) => finish(e));
  input.on('close', () => finish());
  return {
    name: path,
    write(bytes) {
      if (closed) return Promise.reject(new LinkError('UNAVAILABLE', `${path}: closed`));
      return new Promise((resolve, reject) => output.write(bytes, (err) => (err ? reject(new LinkError('UNAVAILABLE', `${path}: write failed: ${err.message}`)) : resolve())));
    },
    onData(cb) {
      input.removeAllListeners('data');
      input.on('data', (chunk: Buffer) => cb(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    },
    onClose(cb) {
      onClose = cb;
    },
    close() {
      input.destroy();
      output.destroy();
      finish();
      return Promise.resolve();
    },
  };
}
