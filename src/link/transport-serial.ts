/**
 * Serial transport over the serialport package. Imported lazily by openTransport, so
 * hosts that only use TCP or the in-process emulator never load native bindings.
 */

import { appendFileSync } from 'node:fs';
import { LinkError, type ByteTransport } from './transport.js';

/** What this module uses of a serialport stream (SerialPort, SerialPortMock). */
export interface SerialPortLike {
  readonly isOpen: boolean;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  write(chunk: Buffer, cb: (err: Error | null | undefined) => void): boolean;
  close(cb?: (err: Error | null) => void): void;
}

/**
 * Wrap an already opened serialport stream (a SerialPort, or a SerialPortMock in
 * tests) as a ByteTransport.
 */
export function serialTransport(port: SerialPortLike, name: string, baudRate?: number): ByteTransport {
  let onData: (bytes: Uint8Array) => void = () => {};
  let onClose: (reason?: Error) => void = () => {};
  let closed = false;
  let failure: Error | undefined;
  const TR = process.env.ANPT_TRACE ? (m: string) => appendFileSync(process.env.ANPT_TRACE + '.host', `${(performance.timeOrigin + performance.now()).toFixed(3)} ${m}\n`) : undefined;
  port.on('data', (chunk: Buffer) => (TR?.(`rx ${chunk.length}`), onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))));
  port.on('error', (err: Error) => {
    failure = err;
  });
  port.on('close', (err?: Error) => {
    if (closed) return;
    closed = true;
    onClose(err ?? failure);
  });
  return {
    name,
    // 8N1: ten bit times per byte.
    bytesPerSecond: baudRate ? baudRate / 10 : undefined,
    write(bytes) {
      if (closed || !port.isOpen) return Promise.reject(new LinkError('UNAVAILABLE', `${name}: port is closed (unplugged?)`));
      TR?.(`tx ${bytes.length}`);
      return new Promise<void>((resolve, reject) => {
        port.write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length), (err) =>
          err ? reject(new LinkError('UNAVAILABLE', `${name}: write failed: ${err.message}`)) : resolve(),
        );
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
      if (!port.isOpen) return Promise.resolve();
      return new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}

/** Open `path` at `baudRate` (8N1). Rejects with a LinkError saying what to check. */
export async function openSerial(path: string, baudRate: number): Promise<ByteTransport> {
  let SerialPort: typeof import('serialport').SerialPort;
  try {
    ({ SerialPort } = await import('serialport'));
  } catch (e) {
    throw new LinkError('UNAVAILABLE', `serial://${path}: serial support did not load (${(e as Error).message}); use a tcp:// link or reinstall serialport`);
  }
  const name = `serial://${path}?baud=${baudRate}`;
  return new Promise((resolve, reject) => {
    let port: InstanceType<typeof SerialPort>;
    try {
      port = new SerialPort({ path, baudRate, autoOpen: false });
    } catch (e) {
      reject(new LinkError('INVALID_ARGUMENT', `${name}: ${(e as Error).message}`));
      return;
    }
    port.open((err) => {
      if (err) {
        // serialport says "Error: No such file or directory, cannot open /dev/x": keep the reason only
        const reason = err.message.replace(/^Error: /, '').replace(/, cannot open .*$/, '');
        reject(new LinkError('UNAVAILABLE', `${name}: cannot open (${reason}); check the path (list ports with \`anpt ports\`), that the board is plugged in, and that no other program holds the port`));
        return;
      }
      resolve(serialTransport(port, name, baudRate));
    });
  });
}
